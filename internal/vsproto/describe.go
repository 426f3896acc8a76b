package vsproto

import (
	"encoding/binary"
	"strconv"
)

// Describe names what a Regular message carries, from the start of its body:
//
//   - management connection (IPC, src/vs/base/parts/ipc/common/ipc.ts): a request is
//     "<channel>.<command>" (e.g. "remoteFilesystem.writeFile", "remoteterminal.$input"),
//     "ipc-event-listen:<channel>.<event>", "ipc-cancel" or "ipc-dispose"; a response
//     "ipc-reply" or "ipc-event"; the client's first message "ipc-context";
//   - extension-host connection (RPC, src/vs/workbench/services/extensions/common/
//     rpcProtocol.ts): a request is its method (e.g. "$acceptModelChanged"); "rpc-ack",
//     "rpc-cancel", "rpc-reply"; the one-byte lifecycle messages "exthost-ready",
//     "exthost-initialized", "exthost-terminate"; the init data "exthost-init".
//
// Anything it cannot read is "?".
func Describe(conn ConnType, m Message) string {
	if m.Type != TypeRegular {
		return m.Type.String()
	}
	switch conn {
	case ConnManagement:
		return describeIPC(m.Body)
	case ConnExtensionHost:
		return describeRPC(m)
	}
	return "?"
}

// IPC serialization tags (DataType in ipc.ts).
const (
	ipcUndefined = 0
	ipcString    = 1
	ipcBuffer    = 2
	ipcVSBuffer  = 3
	ipcArray     = 4
	ipcObject    = 5
	ipcInt       = 6
)

type ipcReader struct {
	b   []byte
	bad bool
}

func (r *ipcReader) byte() byte {
	if len(r.b) == 0 {
		r.bad = true
		return 0
	}
	c := r.b[0]
	r.b = r.b[1:]
	return c
}

// vql reads writeInt32VQL's encoding: 7 bits per byte, low bits first.
func (r *ipcReader) vql() int {
	v := 0
	for shift := 0; shift < 35; shift += 7 {
		c := r.byte()
		if r.bad {
			return 0
		}
		v |= int(c&0x7f) << shift
		if c&0x80 == 0 {
			return v
		}
	}
	r.bad = true
	return 0
}

// element reads one serialized value, returning its tag, an int value and a string value.
func (r *ipcReader) element() (tag byte, n int, s string) {
	tag = r.byte()
	switch tag {
	case ipcInt:
		n = r.vql()
	case ipcString:
		l := r.vql()
		if l > len(r.b) {
			r.bad = true
			return
		}
		s = string(r.b[:l])
		r.b = r.b[l:]
	default:
		r.bad = true
	}
	return
}

func describeIPC(body []byte) string {
	r := &ipcReader{b: body}
	switch r.byte() {
	case ipcObject:
		return "ipc-context"
	case ipcArray:
	default:
		return "?"
	}
	count := r.vql()
	if r.bad || count < 1 {
		return "?"
	}
	tag, kind, _ := r.element()
	if r.bad || tag != ipcInt {
		return "?"
	}
	switch kind {
	case 100, 102: // RequestType.Promise, EventListen: [type, id, channel, name]
		if count < 4 {
			return "?"
		}
		if t, _, _ := r.element(); t != ipcInt || r.bad {
			return "?"
		}
		_, _, channel := r.element()
		_, _, name := r.element()
		if r.bad {
			return "?"
		}
		if kind == 102 {
			return "ipc-event-listen:" + channel + "." + name
		}
		return channel + "." + name
	case 101:
		return "ipc-cancel"
	case 103:
		return "ipc-dispose"
	case 200:
		return "ipc-initialize"
	case 201, 202, 203:
		return "ipc-reply"
	case 204:
		return "ipc-event"
	}
	return "ipc-" + strconv.Itoa(kind)
}

func describeRPC(m Message) string {
	b := m.Body
	if m.Len == 1 && len(b) == 1 {
		switch b[0] { // extensionHostProtocol.ts MessageType
		case 0:
			return "exthost-initialized"
		case 1:
			return "exthost-ready"
		case 2:
			return "exthost-terminate"
		}
	}
	if len(b) == 0 {
		return "?"
	}
	switch b[0] {
	case 1, 2, 3, 4: // Request{JSON,Mixed}Args[WithCancellation]: type, req u32, rpcId u8, method
		if len(b) < 7 {
			return "?"
		}
		l := int(b[6])
		if len(b) < 7+l || l == 0 || b[7] != '$' {
			break
		}
		return string(b[7 : 7+l])
	case 5:
		if m.Len == 5 {
			return "rpc-ack"
		}
	case 6:
		if m.Len == 5 {
			return "rpc-cancel"
		}
	case 7, 8, 9, 10, 11, 12:
		if len(b) >= 5 && binary.BigEndian.Uint32(b[1:5]) < 1<<31 {
			return "rpc-reply"
		}
	}
	if len(b) > 0 && b[0] == '{' {
		return "exthost-init"
	}
	return "?"
}
