package load

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"
)

// WSTarget says how to open a WebSocket through one target.
type WSTarget struct {
	URL    string // ws://127.0.0.1:P/ws
	Origin string // http://127.0.0.1:P
	Cookie string // the Cookie header, may be empty
}

func (t WSTarget) header() http.Header {
	h := http.Header{}
	if t.Origin != "" {
		h.Set("Origin", t.Origin)
	}
	if t.Cookie != "" {
		h.Set("Cookie", t.Cookie)
	}
	return h
}

const msgSize = 128

func dialAll(ctx context.Context, t WSTarget, n int) ([]*websocket.Conn, error) {
	conns := make([]*websocket.Conn, n)
	var wg sync.WaitGroup
	var firstErr atomic.Pointer[error]
	sem := make(chan struct{}, 20)
	for i := range conns {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			dctx, cancel := context.WithTimeout(ctx, 10*time.Second)
			defer cancel()
			c, _, err := websocket.Dial(dctx, t.URL, &websocket.DialOptions{HTTPHeader: t.header(), CompressionMode: websocket.CompressionDisabled})
			if err != nil {
				firstErr.CompareAndSwap(nil, &err)
				return
			}
			conns[i] = c
		}()
	}
	wg.Wait()
	if p := firstErr.Load(); p != nil {
		for _, c := range conns {
			if c != nil {
				c.CloseNow()
			}
		}
		return nil, fmt.Errorf("websocket dial %s: %w", t.URL, *p)
	}
	return conns, nil
}

// EchoResult is one WebSocket echo measurement.
type EchoResult struct {
	Conns      int     `json:"conns"`
	Messages   int64   `json:"messages"`
	Seconds    float64 `json:"seconds"`
	MsgPerSec  float64 `json:"msg_per_sec"`
	P50ms      float64 `json:"p50_ms"`
	P99ms      float64 `json:"p99_ms"`
	Errors     int64   `json:"errors"`
	TargetRate float64 `json:"target_rate,omitempty"`
}

// Echo sends 128-byte binary messages over conns connections for d and measures the
// round trip of each. rate > 0: each connection sends rate/conns messages a second (an
// open-loop schedule, the fixed-rate figure); rate == 0: each connection sends the next
// message as soon as the echo arrives (the saturating rate).
func Echo(ctx context.Context, t WSTarget, conns int, rate float64, d time.Duration) (EchoResult, error) {
	cs, err := dialAll(ctx, t, conns)
	if err != nil {
		return EchoResult{}, err
	}
	defer func() {
		for _, c := range cs {
			c.Close(websocket.StatusNormalClosure, "")
		}
	}()
	var (
		mu   sync.Mutex
		rtts []time.Duration
		errs atomic.Int64
		wg   sync.WaitGroup
	)
	start := time.Now()
	deadline := start.Add(d)
	for i, c := range cs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			local := make([]time.Duration, 0, 1024)
			msg := make([]byte, msgSize)
			var tick *time.Ticker
			if rate > 0 {
				interval := time.Duration(float64(time.Second) * float64(conns) / rate)
				// Spread the connections' phases over one interval.
				time.Sleep(time.Duration(int64(interval) * int64(i) / int64(conns)))
				tick = time.NewTicker(interval)
				defer tick.Stop()
			}
			cctx, cancel := context.WithDeadline(ctx, deadline.Add(5*time.Second))
			defer cancel()
			for time.Now().Before(deadline) {
				if tick != nil {
					select {
					case <-tick.C:
					case <-cctx.Done():
						return
					}
				}
				sent := time.Now()
				binary.BigEndian.PutUint64(msg, uint64(sent.UnixNano()))
				if err := c.Write(cctx, websocket.MessageBinary, msg); err != nil {
					errs.Add(1)
					break
				}
				_, got, err := c.Read(cctx)
				if err != nil || !bytes.Equal(got, msg) {
					errs.Add(1)
					break
				}
				local = append(local, time.Since(sent))
			}
			mu.Lock()
			rtts = append(rtts, local...)
			mu.Unlock()
		}()
	}
	wg.Wait()
	el := time.Since(start).Seconds()
	r := EchoResult{Conns: conns, Messages: int64(len(rtts)), Seconds: el, Errors: errs.Load(), TargetRate: rate}
	r.MsgPerSec = float64(len(rtts)) / el
	slices.Sort(rtts)
	if len(rtts) > 0 {
		r.P50ms = float64(rtts[len(rtts)*50/100]) / 1e6
		r.P99ms = float64(rtts[min(len(rtts)-1, len(rtts)*99/100)]) / 1e6
	}
	if r.Messages == 0 {
		return r, errors.New("no WebSocket echo completed")
	}
	return r, nil
}

// IdleConns holds raw WebSocket connections open (handshake only, no frames).
type IdleConns struct{ conns []net.Conn }

// Open adds n idle WebSockets through t, with up to 50 handshakes in flight.
func (ic *IdleConns) Open(ctx context.Context, t WSTarget, n int) error {
	u, err := url.Parse(t.URL)
	if err != nil {
		return err
	}
	var req bytes.Buffer
	fmt.Fprintf(&req, "GET %s HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"+
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n", u.RequestURI(), u.Host)
	if t.Origin != "" {
		fmt.Fprintf(&req, "Origin: %s\r\n", t.Origin)
	}
	if t.Cookie != "" {
		fmt.Fprintf(&req, "Cookie: %s\r\n", t.Cookie)
	}
	req.WriteString("\r\n")
	raw := req.Bytes()
	out := make([]net.Conn, n)
	var wg sync.WaitGroup
	var firstErr atomic.Pointer[error]
	sem := make(chan struct{}, 50)
	for i := range n {
		if firstErr.Load() != nil || ctx.Err() != nil {
			break
		}
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			c, err := handshake(u.Host, raw)
			if err != nil {
				firstErr.CompareAndSwap(nil, &err)
				return
			}
			out[i] = c
		}()
	}
	wg.Wait()
	for _, c := range out {
		if c != nil {
			ic.conns = append(ic.conns, c)
		}
	}
	if p := firstErr.Load(); p != nil {
		return *p
	}
	return ctx.Err()
}

func handshake(addr string, req []byte) (net.Conn, error) {
	c, err := net.DialTimeout("tcp", addr, 10*time.Second)
	if err != nil {
		return nil, err
	}
	c.SetDeadline(time.Now().Add(15 * time.Second))
	if _, err := c.Write(req); err != nil {
		c.Close()
		return nil, err
	}
	buf := make([]byte, 0, 512)
	tmp := make([]byte, 512)
	for !bytes.Contains(buf, []byte("\r\n\r\n")) {
		n, err := c.Read(tmp)
		if err != nil {
			c.Close()
			return nil, fmt.Errorf("handshake read: %w", err)
		}
		buf = append(buf, tmp[:n]...)
		if len(buf) > 8192 {
			c.Close()
			return nil, errors.New("handshake: response head too long")
		}
	}
	if !bytes.HasPrefix(buf, []byte("HTTP/1.1 101")) {
		c.Close()
		line, _, _ := bytes.Cut(buf, []byte("\r\n"))
		return nil, fmt.Errorf("handshake: %s", line)
	}
	c.SetDeadline(time.Time{})
	return c, nil
}

// Len is the number of open connections.
func (ic *IdleConns) Len() int { return len(ic.conns) }

// Close closes every connection.
func (ic *IdleConns) Close() {
	for _, c := range ic.conns {
		c.Close()
	}
	ic.conns = nil
}
