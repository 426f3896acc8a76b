package vsproto

import (
	"bytes"
	"encoding/binary"
	"strconv"
)

// Type is a PersistentProtocol message type (ProtocolMessageType in ipc.net.ts).
type Type uint8

const (
	TypeNone          Type = 0
	TypeRegular       Type = 1 // data: IPC or RPC
	TypeControl       Type = 2 // handshake JSON (auth, sign, connectionType, ok, error)
	TypeAck           Type = 3
	TypeDisconnect    Type = 5
	TypeReplayRequest Type = 6
	TypePause         Type = 7
	TypeResume        Type = 8
	TypeKeepAlive     Type = 9
)

var typeNames = map[Type]string{
	TypeNone: "none", TypeRegular: "regular", TypeControl: "control", TypeAck: "ack",
	TypeDisconnect: "disconnect", TypeReplayRequest: "replay-request", TypePause: "pause",
	TypeResume: "resume", TypeKeepAlive: "keep-alive",
}

func (t Type) String() string {
	if name, ok := typeNames[t]; ok {
		return name
	}
	return "type-" + strconv.Itoa(int(t))
}

// HeaderLen is the PersistentProtocol header: type u8, id u32, ack u32, length u32 (BE).
const HeaderLen = 13

// ConnType is what a connection carries, from the client's connectionType handshake.
type ConnType uint8

const (
	ConnUnknown       ConnType = 0
	ConnManagement    ConnType = 1 // IPC channels: files, terminals, ...
	ConnExtensionHost ConnType = 2 // RPC with the extension host
	ConnTunnel        ConnType = 3
)

var connTypeNames = map[ConnType]string{ConnManagement: "management", ConnExtensionHost: "exthost", ConnTunnel: "tunnel"}

func (c ConnType) String() string {
	if name, ok := connTypeNames[c]; ok {
		return name
	}
	return "unknown"
}

// BodyPrefix is how much of a Regular message's body is kept for Describe.
const BodyPrefix = 320

// controlPrefix is how much of a Control message is kept (its JSON names the connection
// type before any long field).
const controlPrefix = 4096

// Message is one PersistentProtocol message.
type Message struct {
	Type Type
	ID   uint32
	Len  int    // body length
	Body []byte // the first BodyPrefix (Control: controlPrefix) bytes; valid during the callback only
}

// Messages follows the PersistentProtocol messages in the decoded payload stream of one
// direction of a WebSocket.
type Messages struct {
	head    [HeaderLen]byte
	headLen int
	typ     Type
	id      uint32
	left    uint32 // body bytes still to come
	length  int
	body    []byte
	keep    int
	on      func(Message)
}

func (m *Messages) feed(p []byte) {
	for len(p) > 0 {
		if m.headLen < HeaderLen {
			n := copy(m.head[m.headLen:], p)
			m.headLen += n
			p = p[n:]
			if m.headLen < HeaderLen {
				return
			}
			m.typ = Type(m.head[0])
			m.id = binary.BigEndian.Uint32(m.head[1:5])
			m.left = binary.BigEndian.Uint32(m.head[9:13])
			m.length = int(m.left)
			m.keep = BodyPrefix
			if m.typ == TypeControl {
				m.keep = controlPrefix
			}
			m.body = m.body[:0]
			if m.left == 0 {
				m.emit()
			}
			continue
		}
		k := len(p)
		if uint32(k) > m.left {
			k = int(m.left)
		}
		if room := m.keep - len(m.body); room > 0 {
			take := k
			if take > room {
				take = room
			}
			m.body = append(m.body, p[:take]...)
		}
		p = p[k:]
		m.left -= uint32(k)
		if m.left == 0 {
			m.emit()
		}
	}
}

func (m *Messages) emit() {
	m.headLen = 0
	if m.on != nil {
		m.on(Message{Type: m.typ, ID: m.id, Len: m.length, Body: m.body})
	}
}

// Direction of a followed stream.
type Direction uint8

const (
	ClientToServer Direction = iota
	ServerToClient
)

func (d Direction) String() string {
	if d == ClientToServer {
		return "client→server"
	}
	return "server→client"
}

// Conn is both directions of one VS Code connection. It learns the connection type from
// the client's handshake and reports every message with it.
type Conn struct {
	Type ConnType
	// A direction's state is made when it is first fed: a follower of one direction
	// (the gateway's) or of an idle connection keeps none for the other.
	dirs [2]*stream
	// OnMessage receives every message of either direction (nil = ignore).
	OnMessage func(Direction, ConnType, Message)
}

type stream struct {
	f frames
	m Messages
}

// NewConn returns a follower for one connection. Only the directions fed are followed.
func NewConn(on func(Direction, ConnType, Message)) *Conn {
	return &Conn{OnMessage: on}
}

func (c *Conn) stream(d Direction) *stream {
	if s := c.dirs[d]; s != nil {
		return s
	}
	s := &stream{}
	s.f.data = s.m.feed
	s.m.on = func(msg Message) {
		if d == ClientToServer && msg.Type == TypeControl && c.Type == ConnUnknown {
			c.Type = connectionType(msg.Body)
		}
		if c.OnMessage != nil {
			c.OnMessage(d, c.Type, msg)
		}
	}
	c.dirs[d] = s
	return s
}

// Feed advances the follower over raw WebSocket bytes of direction d (after the HTTP
// upgrade). After ErrLost it reports nothing more for that direction.
func (c *Conn) Feed(d Direction, p []byte) error {
	return c.stream(d).f.feed(p)
}

// Lost reports whether direction d could not be followed.
func (c *Conn) Lost(d Direction) bool { return c.dirs[d] != nil && c.dirs[d].f.lost }

var desiredKey = []byte(`"desiredConnectionType":`)

// connectionType reads desiredConnectionType from a connectionType control message.
func connectionType(body []byte) ConnType {
	i := bytes.Index(body, desiredKey)
	if i < 0 {
		return ConnUnknown
	}
	rest := bytes.TrimLeft(body[i+len(desiredKey):], " ")
	if len(rest) == 0 {
		return ConnUnknown
	}
	switch rest[0] {
	case '1':
		return ConnManagement
	case '2':
		return ConnExtensionHost
	case '3':
		return ConnTunnel
	}
	return ConnUnknown
}
