package vsproto

import (
	"bytes"
	"compress/flate"
	"encoding/binary"
	"fmt"
	"strings"
	"testing"
)

// protoMsg encodes one PersistentProtocol message.
func protoMsg(t Type, id uint32, body []byte) []byte {
	h := make([]byte, HeaderLen, HeaderLen+len(body))
	h[0] = byte(t)
	binary.BigEndian.PutUint32(h[1:5], id)
	binary.BigEndian.PutUint32(h[9:13], uint32(len(body)))
	return append(h, body...)
}

// ipcRequest is ChannelClient's request header [100, id, channel, name] plus a body.
func ipcRequest(id int, channel, name string) []byte {
	var b []byte
	vql := func(v int) {
		for {
			c := byte(v & 0x7f)
			v >>= 7
			if v != 0 {
				b = append(b, c|0x80)
				continue
			}
			b = append(b, c)
			return
		}
	}
	str := func(s string) { b = append(b, ipcString); vql(len(s)); b = append(b, s...) }
	b = append(b, ipcArray)
	vql(4)
	b = append(b, ipcInt)
	vql(100)
	b = append(b, ipcInt)
	vql(id)
	str(channel)
	str(name)
	b = append(b, ipcUndefined)
	return b
}

func rpcRequest(method, args string) []byte {
	b := []byte{1, 0, 0, 0, 7, 42, byte(len(method))}
	b = append(b, method...)
	l := make([]byte, 4)
	binary.BigEndian.PutUint32(l, uint32(len(args)))
	return append(append(b, l...), args...)
}

type frameOpts struct {
	masked, compressed bool
	fragment           int // split the payload into frames of this size (0 = one frame)
}

// wsFrames encodes payload as one WebSocket binary message.
func wsFrames(payload []byte, o frameOpts) []byte {
	parts := [][]byte{payload}
	if o.fragment > 0 {
		parts = nil
		for len(payload) > o.fragment {
			parts = append(parts, payload[:o.fragment])
			payload = payload[o.fragment:]
		}
		parts = append(parts, payload)
	}
	var out []byte
	for i, p := range parts {
		b0 := byte(0x0)
		if i == 0 {
			b0 = 0x2
			if o.compressed {
				b0 |= 0x40
			}
		}
		if i == len(parts)-1 {
			b0 |= 0x80
		}
		out = append(out, b0)
		mbit := byte(0)
		if o.masked {
			mbit = 0x80
		}
		switch {
		case len(p) < 126:
			out = append(out, mbit|byte(len(p)))
		case len(p) < 1<<16:
			out = append(out, mbit|126, byte(len(p)>>8), byte(len(p)))
		default:
			out = append(out, mbit|127)
			l := make([]byte, 8)
			binary.BigEndian.PutUint64(l, uint64(len(p)))
			out = append(out, l...)
		}
		if o.masked {
			key := []byte{0x12, 0x34, 0x56, 0x78}
			out = append(out, key...)
			for j, c := range p {
				out = append(out, c^key[j%4])
			}
		} else {
			out = append(out, p...)
		}
		if i == 0 && len(parts) > 1 {
			// a ping between fragments: control frames may interleave
			out = append(out, 0x89, mbit|0x02) // FIN+ping
			if o.masked {
				out = append(out, 1, 2, 3, 4, 'h'^1, 'i'^2)
			} else {
				out = append(out, 'h', 'i')
			}
		}
	}
	return out
}

// deflater compresses messages with context takeover, as Chromium does.
type deflater struct {
	buf bytes.Buffer
	w   *flate.Writer
}

func (d *deflater) message(p []byte) []byte {
	if d.w == nil {
		d.w, _ = flate.NewWriter(&d.buf, flate.BestSpeed)
	}
	d.buf.Reset()
	d.w.Write(p)
	d.w.Flush()
	out := bytes.Clone(d.buf.Bytes())
	return bytes.TrimSuffix(out, []byte{0, 0, 0xff, 0xff})
}

func TestFollowMessages(t *testing.T) {
	handshake := [][]byte{
		protoMsg(TypeControl, 0, []byte(`{"type":"auth","auth":"00000000000000000000","data":"x"}`)),
		protoMsg(TypeControl, 0, []byte(`{"type":"connectionType","commit":"c","signedData":"s","desiredConnectionType":1}`)),
	}
	mgmt := [][]byte{
		protoMsg(TypeKeepAlive, 0, nil),
		protoMsg(TypeRegular, 1, ipcRequest(7, "remoteFilesystem", "writeFile")),
		protoMsg(TypeAck, 0, nil),
		protoMsg(TypeRegular, 2, ipcRequest(300, "remoteterminal", "$input")),
		// a large body (e.g. a saved file), spanning several frames
		protoMsg(TypeRegular, 3, append(ipcRequest(301, "remoteFilesystem", "writeFile"), bytes.Repeat([]byte("abcdefghij"), 20000)...)),
		// after it, the inflate window has slid: back-references must still resolve
		protoMsg(TypeRegular, 4, ipcRequest(302, "remoteterminal", "$input")),
	}
	want := []string{"control", "control", "keep-alive", "remoteFilesystem.writeFile", "ack", "remoteterminal.$input", "remoteFilesystem.writeFile", "remoteterminal.$input"}
	for _, o := range []frameOpts{{}, {masked: true}, {masked: true, compressed: true}, {masked: true, compressed: true, fragment: 7}, {fragment: 100}} {
		t.Run(fmt.Sprintf("%+v", o), func(t *testing.T) {
			var got []string
			var conn ConnType
			c := NewConn(func(d Direction, ct ConnType, m Message) {
				got = append(got, Describe(ct, m))
				conn = ct
			})
			var z deflater
			var stream []byte
			// handshake and first messages in one WebSocket message, the rest one per message
			msgs := append([][]byte{bytes.Join(append(handshake, mgmt[0]), nil)}, mgmt[1:]...)
			for _, m := range msgs {
				if o.compressed {
					m = z.message(m)
				}
				stream = append(stream, wsFrames(m, o)...)
			}
			// feed in awkward pieces
			for len(stream) > 0 {
				n := 3
				if n > len(stream) {
					n = len(stream)
				}
				if err := c.Feed(ClientToServer, stream[:n]); err != nil {
					t.Fatal(err)
				}
				stream = stream[n:]
			}
			if strings.Join(got, ",") != strings.Join(want, ",") {
				t.Fatalf("got %q\nwant %q", got, want)
			}
			if conn != ConnManagement {
				t.Fatalf("connection type %s", conn)
			}
		})
	}
}

func TestDescribeRPC(t *testing.T) {
	cases := []struct {
		body []byte
		want string
	}{
		{rpcRequest("$acceptModelChanged", `[1]`), "$acceptModelChanged"},
		{[]byte{1}, "exthost-ready"},
		{[]byte{5, 0, 0, 0, 9}, "rpc-ack"},
		{[]byte{9, 0, 0, 0, 9, 0, 0, 0, 1, '1'}, "rpc-reply"},
		{[]byte(`{"commit":"x"}`), "exthost-init"},
		{[]byte{1, 0, 0, 0, 7, 42, 200}, "?"}, // a method length past the data
	}
	for _, c := range cases {
		if got := Describe(ConnExtensionHost, Message{Type: TypeRegular, Len: len(c.body), Body: c.body}); got != c.want {
			t.Errorf("Describe(%q) = %q, want %q", c.body, got, c.want)
		}
	}
}

func TestLostOnBadFraming(t *testing.T) {
	c := NewConn(nil)
	// a continuation frame with no message started
	if err := c.Feed(ClientToServer, []byte{0x80, 0x00}); err == nil || !c.Lost(ClientToServer) {
		t.Fatalf("bad framing: err %v lost %v", err, c.Lost(ClientToServer))
	}
	if c.Lost(ServerToClient) {
		t.Fatal("the other direction is lost too")
	}
}

// BenchmarkFollow measures the follower's cost on a client-to-server stream of small
// messages (keystrokes, keep-alives), masked, with and without permessage-deflate.
func BenchmarkFollow(b *testing.B) {
	for _, compressed := range []bool{false, true} {
		b.Run(fmt.Sprintf("compressed=%v", compressed), func(b *testing.B) {
			var z deflater
			var stream []byte
			for i := 0; i < 1000; i++ {
				m := protoMsg(TypeRegular, uint32(i), rpcRequest("$acceptModelChanged", `[{"changes":[{"range":{"startLineNumber":1},"text":"x"}],"versionId":`+fmt.Sprint(i)+`}]`))
				if i%5 == 0 {
					m = protoMsg(TypeKeepAlive, 0, nil)
				}
				if compressed {
					m = z.message(m)
				}
				stream = append(stream, wsFrames(m, frameOpts{masked: true, compressed: compressed})...)
			}
			b.SetBytes(int64(len(stream)))
			b.ReportAllocs()
			for b.Loop() {
				c := NewConn(func(Direction, ConnType, Message) {})
				if err := c.Feed(ClientToServer, stream); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
