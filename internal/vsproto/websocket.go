// Package vsproto follows VS Code's remote protocol inside one direction of a proxied
// WebSocket: RFC 6455 frames (masked or not, fragmented, permessage-deflate with context
// takeover), then VS Code's PersistentProtocol messages (a 13-byte header: type, id, ack,
// length; src/vs/base/parts/ipc/common/ipc.net.ts), then the start of each Regular
// message's body: the IPC request of a management connection (channel and command) or
// the RPC request of an extension-host connection (method). The gateway uses it to tell
// what a person does in the workbench from what the workbench does by itself; the
// measurement tool under bench/ uses it to count both.
//
// It never modifies the stream and keeps little per connection: a 14-byte frame header, a
// 13-byte message header, up to BodyPrefix bytes of the current message, and, only for
// compressed streams, the 32 KiB inflate window (in a 40 KiB buffer) plus the current
// compressed message; the decompressor itself is pooled between messages.
package vsproto

import (
	"bytes"
	"compress/flate"
	"errors"
	"io"
	"sync"
)

// maxCompressedMessage bounds the compressed message buffered for inflating. A client
// message above it (a large paste or upload) makes the stream untrackable (Lost).
const maxCompressedMessage = 8 << 20

// windowSize is permessage-deflate's largest LZ77 window (client_max_window_bits 15).
const windowSize = 32 << 10

// ErrLost means the stream can no longer be followed (bad framing, an inflate error, an
// oversized compressed message); nothing more is reported for it.
var ErrLost = errors.New("vsproto: stream lost")

// frames follows RFC 6455 frames in one direction and hands the payload of data
// messages, unmasked and inflated, to data; message ends go to end.
type frames struct {
	hdr       [14]byte
	hdrLen    int
	remaining uint64
	mask      [4]byte
	masked    bool
	maskPos   int
	control   bool // current frame is a control frame (ping, pong, close): skipped
	inMessage bool // inside a fragmented data message
	deflated  bool // current message is compressed (RSV1 on its first frame)
	fin       bool
	zbuf      []byte // compressed bytes of the current message
	z         *inflater
	data      func([]byte)
	end       func()
	lost      bool
	scratch   [512]byte
}

// feed advances over raw stream bytes.
func (f *frames) feed(p []byte) error {
	for len(p) > 0 && !f.lost {
		if f.remaining == 0 { // between frames, or inside a header
			f.hdr[f.hdrLen] = p[0]
			f.hdrLen++
			p = p[1:]
			if need := FrameHeaderLen(f.hdr[:f.hdrLen]); f.hdrLen == need {
				if err := f.startFrame(); err != nil {
					f.lost = true
					return err
				}
				if f.remaining == 0 {
					f.endFrame()
				}
			}
			continue
		}
		k := uint64(len(p))
		if k > f.remaining {
			k = f.remaining
		}
		chunk := p[:k]
		p = p[k:]
		f.remaining -= k
		if !f.control {
			f.payload(chunk)
		}
		if f.remaining == 0 {
			f.endFrame()
		}
	}
	if f.lost {
		return ErrLost
	}
	return nil
}

func (f *frames) startFrame() error {
	h := f.hdr[:f.hdrLen]
	f.hdrLen = 0
	opcode := h[0] & 0x0f
	rsv1 := h[0]&0x40 != 0
	f.fin = h[0]&0x80 != 0
	f.remaining = FramePayloadLen(h)
	f.masked = h[1]&0x80 != 0
	if f.masked {
		copy(f.mask[:], h[len(h)-4:])
	}
	f.maskPos = 0
	switch {
	case opcode >= 0x8: // close, ping, pong: never fragmented, never compressed
		f.control = true
		if !f.fin || f.remaining > 125 {
			return ErrLost
		}
	case opcode == 0x0: // continuation
		if !f.inMessage {
			return ErrLost
		}
		f.control = false
	case opcode == 0x1 || opcode == 0x2:
		if f.inMessage {
			return ErrLost
		}
		f.control = false
		f.inMessage = true
		f.deflated = rsv1
	default:
		return ErrLost
	}
	return nil
}

func (f *frames) endFrame() {
	if f.control || !f.fin {
		return
	}
	f.inMessage = false
	if f.deflated {
		if f.z == nil {
			f.z = &inflater{}
		}
		if err := f.z.inflate(append(f.zbuf, tail...), f.data); err != nil {
			f.lost = true
		}
		f.zbuf = f.zbuf[:0]
		if cap(f.zbuf) > 4<<10 {
			f.zbuf = nil // keep no large message's buffer for the connection's life
		}
	}
	if f.end != nil && !f.lost {
		f.end()
	}
}

// payload unmasks a chunk of a data frame's payload and passes it on (or buffers it
// for inflating).
func (f *frames) payload(chunk []byte) {
	for len(chunk) > 0 {
		n := len(chunk)
		if n > len(f.scratch) {
			n = len(f.scratch)
		}
		buf := f.scratch[:n]
		copy(buf, chunk[:n])
		chunk = chunk[n:]
		if f.masked {
			for i := range buf {
				buf[i] ^= f.mask[f.maskPos&3]
				f.maskPos++
			}
		}
		if f.deflated {
			if len(f.zbuf)+len(buf) > maxCompressedMessage {
				f.lost = true
				return
			}
			f.zbuf = append(f.zbuf, buf...)
			continue
		}
		f.data(buf)
	}
}

// FrameHeaderLen is the full header length of a frame given its first bytes (2 while
// fewer than 2 are known).
func FrameHeaderLen(h []byte) int {
	if len(h) < 2 {
		return 2
	}
	n := 2
	switch h[1] & 0x7f {
	case 126:
		n += 2
	case 127:
		n += 8
	}
	if h[1]&0x80 != 0 {
		n += 4
	}
	return n
}

// FramePayloadLen is the payload length a complete frame header (h) announces.
func FramePayloadLen(h []byte) uint64 {
	switch l := h[1] & 0x7f; l {
	case 126:
		return uint64(h[2])<<8 | uint64(h[3])
	case 127:
		var v uint64
		for _, b := range h[2:10] {
			v = v<<8 | uint64(b)
		}
		return v
	default:
		return uint64(l)
	}
}

// inflater decompresses permessage-deflate messages with context takeover: each message
// continues the LZ77 window of the ones before it (RFC 7692 §7.2.3). Between messages a
// connection keeps only its window; the decompressor (about 40 KiB with its own copy of
// the window and its Huffman tables) and the output buffer are borrowed from a pool for
// the message, since flate is reset with the window for every message anyway.
type inflater struct {
	window []byte
}

// A window keeps windowSize bytes and slides by one copy per windowSlack bytes of output.
const windowSlack = 8 << 10

type decompressor struct {
	src bytes.Reader
	r   io.ReadCloser
	out [4096]byte
}

var decompressors sync.Pool

// tail ends a message's deflate data: the sync-flush marker the sender stripped, then an
// empty final stored block so the reader reaches a clean EOF.
var tail = []byte{0x00, 0x00, 0xff, 0xff, 0x01, 0x00, 0x00, 0xff, 0xff}

func (z *inflater) inflate(msg []byte, data func([]byte)) error {
	d, _ := decompressors.Get().(*decompressor)
	if d == nil {
		d = &decompressor{}
	}
	defer decompressors.Put(d)
	d.src.Reset(msg)
	dict := z.window
	if len(dict) > windowSize {
		dict = dict[len(dict)-windowSize:]
	}
	if d.r == nil {
		d.r = flate.NewReaderDict(&d.src, dict)
	} else if err := d.r.(flate.Resetter).Reset(&d.src, dict); err != nil {
		return err
	}
	for {
		n, err := d.r.Read(d.out[:])
		if n > 0 {
			data(d.out[:n])
			z.remember(d.out[:n])
		}
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
	}
}

// remember keeps the last windowSize bytes of output in a buffer of windowSize plus
// windowSlack.
func (z *inflater) remember(p []byte) {
	if len(p) >= windowSize {
		z.window = append(z.window[:0], p[len(p)-windowSize:]...)
		return
	}
	if len(z.window)+len(p) > windowSize+windowSlack {
		keep := z.window[len(z.window)-windowSize:]
		z.window = append(z.window[:0], keep...)
	}
	if z.window == nil {
		z.window = make([]byte, 0, windowSize+windowSlack)
	}
	z.window = append(z.window, p...)
}
