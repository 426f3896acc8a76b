package local

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/codehub-dev/codehub/internal/backend"
)

// Workspaces on one host share its loopback, so "port 8000 of alice's workspace" means
// "a socket on 127.0.0.1:8000 that alice's unix user accepted". DialPort connects and then
// checks, in the kernel's socket table, who accepted that very connection: no window in
// which another user's listener could take the port between a check and the connect.

var errNotYourPort = errors.New("port is not served by this workspace")

// DialPort connects to port on the host's loopback for a running workspace, and keeps
// the connection only if the socket that accepted it belongs to the workspace's unix user
// and is not one of the gateway's own listeners.
func (b *Backend) DialPort(ctx context.Context, ref backend.Ref, port int) (net.Conn, error) {
	if port < 1 || port > 65535 {
		return nil, fmt.Errorf("port %d out of range", port)
	}
	b.mu.Lock()
	inst := b.ws[ref.FullName()]
	b.mu.Unlock()
	if inst == nil || inst.snapshot().State != backend.StateRunning {
		return nil, errors.New("workspace not running")
	}
	uid := uint32(os.Geteuid())
	if cred := inst.credential(); cred != nil {
		uid = cred.Uid
	}
	d := net.Dialer{Timeout: 5 * time.Second}
	var conn net.Conn
	var err error
	for _, host := range []string{"127.0.0.1", "::1"} {
		if conn, err = d.DialContext(ctx, "tcp", net.JoinHostPort(host, strconv.Itoa(port))); err == nil {
			break
		}
	}
	if err != nil {
		return nil, err
	}
	if err := checkAcceptor(conn, port, uid); err != nil {
		conn.Close()
		return nil, err
	}
	return conn, nil
}

// checkAcceptor finds the server side of conn in /proc/net/tcp{,6} and compares its owner.
func checkAcceptor(conn net.Conn, port int, uid uint32) error {
	local := conn.LocalAddr().(*net.TCPAddr).Port
	own := ownSocketInodes()
	deadline := time.Now().Add(time.Second)
	for {
		socks, err := tcpSockets()
		if err != nil {
			return fmt.Errorf("read socket table: %w", err)
		}
		var server *tcpSocket
		for i := range socks {
			s := &socks[i]
			if s.state == tcpListen && s.localPort == port && own[s.inode] {
				return fmt.Errorf("%w: port %d is the gateway's own", errNotYourPort, port)
			}
			if s.state == tcpEstablished && s.localPort == port && s.remotePort == local {
				server = s
			}
		}
		if server != nil {
			if server.uid != uid {
				return fmt.Errorf("%w: port %d is served by uid %d", errNotYourPort, port, server.uid)
			}
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%w: no accepting socket found for port %d", errNotYourPort, port)
		}
		time.Sleep(10 * time.Millisecond) // the kernel table, not an event source
	}
}

const (
	tcpEstablished = 0x01
	tcpListen      = 0x0A
)

type tcpSocket struct {
	localPort, remotePort int
	state                 int
	uid                   uint32
	inode                 uint64
}

// tcpSockets reads the IPv4 and IPv6 socket tables of this network namespace.
func tcpSockets() ([]tcpSocket, error) {
	var out []tcpSocket
	for _, name := range []string{"/proc/net/tcp", "/proc/net/tcp6"} {
		f, err := os.Open(name)
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, err
		}
		sc := bufio.NewScanner(f)
		sc.Scan() // header
		for sc.Scan() {
			if s, ok := parseTCPLine(sc.Text()); ok {
				out = append(out, s)
			}
		}
		f.Close()
		if err := sc.Err(); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// parseTCPLine reads "sl local rem st queues tr retr uid timeout inode ...".
func parseTCPLine(line string) (tcpSocket, bool) {
	f := strings.Fields(line)
	if len(f) < 10 {
		return tcpSocket{}, false
	}
	lp, ok1 := hexPort(f[1])
	rp, ok2 := hexPort(f[2])
	st, err1 := strconv.ParseUint(f[3], 16, 8)
	uid, err2 := strconv.ParseUint(f[7], 10, 32)
	inode, err3 := strconv.ParseUint(f[9], 10, 64)
	if !ok1 || !ok2 || err1 != nil || err2 != nil || err3 != nil {
		return tcpSocket{}, false
	}
	return tcpSocket{localPort: lp, remotePort: rp, state: int(st), uid: uint32(uid), inode: inode}, true
}

func hexPort(addr string) (int, bool) {
	i := strings.LastIndexByte(addr, ':')
	if i < 0 {
		return 0, false
	}
	p, err := strconv.ParseUint(addr[i+1:], 16, 16)
	return int(p), err == nil
}

// ownSocketInodes lists the inodes of this process's sockets (its listeners among them).
func ownSocketInodes() map[uint64]bool {
	out := map[uint64]bool{}
	entries, _ := os.ReadDir("/proc/self/fd")
	for _, e := range entries {
		link, err := os.Readlink(filepath.Join("/proc/self/fd", e.Name()))
		if err != nil || !strings.HasPrefix(link, "socket:[") {
			continue
		}
		if n, err := strconv.ParseUint(strings.TrimSuffix(strings.TrimPrefix(link, "socket:["), "]"), 10, 64); err == nil {
			out[n] = true
		}
	}
	return out
}
