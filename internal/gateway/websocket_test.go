package gateway

import (
	"bytes"
	"testing"
)

func frame(payloadLen int, masked bool) []byte {
	var b bytes.Buffer
	b.WriteByte(0x82)
	m := byte(0)
	if masked {
		m = 0x80
	}
	switch {
	case payloadLen < 126:
		b.WriteByte(m | byte(payloadLen))
	case payloadLen < 1<<16:
		b.WriteByte(m | 126)
		b.Write([]byte{byte(payloadLen >> 8), byte(payloadLen)})
	default:
		b.WriteByte(m | 127)
		for i := 7; i >= 0; i-- {
			b.WriteByte(byte(uint64(payloadLen) >> (8 * i)))
		}
	}
	if masked {
		b.Write([]byte{1, 2, 3, 4})
	}
	b.Write(bytes.Repeat([]byte{'x'}, payloadLen))
	return b.Bytes()
}

// TestFrameFollower feeds the 101 response and frames in every chunking and checks
// that the boundary is known exactly at frame ends.
func TestFrameFollower(t *testing.T) {
	head := []byte("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n")
	frames := [][]byte{frame(0, false), frame(5, false), frame(300, false), frame(70000, false), frame(3, true)}
	var stream []byte
	stream = append(stream, head...)
	var ends []int
	for _, f := range frames {
		stream = append(stream, f...)
		ends = append(ends, len(stream))
	}
	for _, chunk := range []int{1, 2, 3, 7, 64, 1000, len(stream)} {
		c := &wsConn{}
		boundaries := map[int]bool{}
		for off := 0; off < len(stream); off += chunk {
			end := min(off+chunk, len(stream))
			c.follow(stream[off:end])
			if c.atBoundary() {
				boundaries[end] = true
			}
		}
		if !c.atBoundary() {
			t.Fatalf("chunk %d: not at a boundary after whole frames", chunk)
		}
		for b := range boundaries {
			found := b == len(head)
			for _, e := range ends {
				found = found || e == b
			}
			if !found {
				t.Fatalf("chunk %d: claimed a boundary at %d, inside a frame", chunk, b)
			}
		}
	}
	c := &wsConn{}
	c.follow(append(append([]byte{}, head...), frame(10, false)[:5]...))
	if c.atBoundary() {
		t.Fatal("mid-frame reported as boundary")
	}
}
