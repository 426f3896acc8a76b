package auth

import (
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestHeaderTrust(t *testing.T) {
	h, err := NewHeader(HeaderConfig{
		TrustedCIDRs: []string{"10.0.0.0/8", "fd00:1::/64", "192.168.1.7"},
		GroupsName:   "X-Remote-Group",
	})
	admins := Members{Groups: []string{"ops"}} // the gateway's policy (--admin-groups ops) decides admin
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name    string
		remote  string
		headers map[string]string
		user    string
		groups  string
		admin   bool
		err     error
	}{
		{"trusted IPv4 proxy", "10.1.2.3:41000", map[string]string{"X-Remote-User": "alice"}, "alice", "", false, nil},
		{"trusted single address", "192.168.1.7:5000", map[string]string{"X-Remote-User": "alice"}, "alice", "", false, nil},
		{"neighbour of single address", "192.168.1.8:5000", map[string]string{"X-Remote-User": "alice"}, "", "", false, ErrNoCredentials},
		{"trusted with groups and admin", "10.0.0.1:1", map[string]string{"X-Remote-User": "bob", "X-Remote-Group": "dev, ops"}, "bob", "dev|ops", true, nil},
		{"trusted IPv6 proxy", "[fd00:1::5]:443", map[string]string{"X-Remote-User": "carol"}, "carol", "", false, nil},
		{"IPv6 with zone", "[fd00:1::5%eth0]:443", map[string]string{"X-Remote-User": "carol"}, "carol", "", false, nil},
		{"IPv4-mapped IPv6 of trusted", "[::ffff:10.9.9.9]:80", map[string]string{"X-Remote-User": "dave"}, "dave", "", false, nil},
		{"untrusted IPv4", "203.0.113.9:5555", map[string]string{"X-Remote-User": "alice"}, "", "", false, ErrNoCredentials},
		{"untrusted IPv6 outside /64", "[fd00:2::5]:443", map[string]string{"X-Remote-User": "alice"}, "", "", false, ErrNoCredentials},
		{"untrusted peer spoofs X-Forwarded-For", "203.0.113.9:5555", map[string]string{"X-Remote-User": "admin", "X-Forwarded-For": "10.0.0.1", "X-Real-Ip": "10.0.0.1", "Forwarded": "for=10.0.0.1"}, "", "", false, ErrNoCredentials},
		{"loopback not trusted unless listed", "127.0.0.1:9", map[string]string{"X-Remote-User": "admin"}, "", "", false, ErrNoCredentials},
		{"unparseable RemoteAddr", "10.0.0.1", map[string]string{"X-Remote-User": "admin"}, "", "", false, ErrNoCredentials},
		{"unix socket peer", "@", map[string]string{"X-Remote-User": "admin"}, "", "", false, ErrNoCredentials},
		{"trusted, header absent", "10.0.0.1:1", nil, "", "", false, ErrNoCredentials},
		{"trusted, empty header", "10.0.0.1:1", map[string]string{"X-Remote-User": ""}, "", "", false, ErrBadCredentials},
		{"trusted, control char", "10.0.0.1:1", map[string]string{"X-Remote-User": "ali\x01ce"}, "", "", false, ErrBadCredentials},
		{"trusted, space inside", "10.0.0.1:1", map[string]string{"X-Remote-User": "alice admin"}, "", "", false, ErrBadCredentials},
		{"trusted, 10KB user", "10.0.0.1:1", map[string]string{"X-Remote-User": strings.Repeat("a", 10<<10)}, "", "", false, ErrBadCredentials},
		{"trusted, bad groups", "10.0.0.1:1", map[string]string{"X-Remote-User": "alice", "X-Remote-Group": "a\x7f"}, "", "", false, ErrBadCredentials},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodGet, "/", nil)
			r.RemoteAddr = tc.remote
			for k, v := range tc.headers {
				r.Header.Set(k, v)
			}
			id, err := h.Identify(r)
			if tc.err != nil {
				if !errors.Is(err, tc.err) || id.User != "" {
					t.Fatalf("got (%q, %v), want %v", id.User, err, tc.err)
				}
				return
			}
			if err != nil || id.User != tc.user || strings.Join(id.Groups, "|") != tc.groups || admins.Has(id) != tc.admin || id.Admin {
				t.Fatalf("got (%+v, %v), want %q %q admin=%v", id, err, tc.user, tc.groups, tc.admin)
			}
		})
	}

	// Repeated identity header from a trusted proxy is ambiguous: refused.
	r := httptest.NewRequest(http.MethodGet, "/", nil)
	r.RemoteAddr = "10.0.0.1:1"
	r.Header.Add("X-Remote-User", "alice")
	r.Header.Add("X-Remote-User", "admin")
	if _, err := h.Identify(r); !errors.Is(err, ErrBadCredentials) {
		t.Errorf("repeated header: %v", err)
	}
}

// TestHeaderOverRealConnection checks trust against a real TCP peer: the test client
// connects from 127.0.0.1, which is trusted only when configured.
func TestHeaderOverRealConnection(t *testing.T) {
	for _, tc := range []struct {
		cidrs []string
		want  string
	}{
		{[]string{"127.0.0.0/8"}, "alice"},
		{[]string{"10.0.0.0/8"}, "no credentials"},
	} {
		h, err := NewHeader(HeaderConfig{TrustedCIDRs: tc.cidrs})
		if err != nil {
			t.Fatal(err)
		}
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			id, err := h.Identify(r)
			if err != nil {
				w.Write([]byte(err.Error()))
				return
			}
			w.Write([]byte(id.User))
		}))
		req, _ := http.NewRequest(http.MethodGet, srv.URL, nil)
		req.Header.Set("X-Remote-User", "alice")
		req.Header.Set("X-Forwarded-For", "127.0.0.1")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		srv.Close()
		if string(b) != tc.want {
			t.Errorf("cidrs %v: got %q, want %q", tc.cidrs, b, tc.want)
		}
	}
}

func TestNewHeaderRefusesCatchAll(t *testing.T) {
	for _, c := range [][]string{nil, {""}, {"0.0.0.0/0"}, {"::/0"}, {"10.0.0.0/33"}, {"not-an-ip"}} {
		if _, err := NewHeader(HeaderConfig{TrustedCIDRs: c}); err == nil {
			t.Errorf("NewHeader accepted %q", c)
		}
	}
}
