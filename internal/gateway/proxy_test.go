package gateway

import (
	"crypto/tls"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"reflect"
	"testing"
)

// TestSetXForwardedAsLibrary: the gateway's one-allocation setXForwarded sets exactly what
// httputil.ProxyRequest.SetXForwarded sets.
func TestSetXForwardedAsLibrary(t *testing.T) {
	for _, c := range []struct {
		name, remote string
		tls          bool
		prior        []string
	}{
		{"plain", "10.1.2.3:5555", false, nil},
		{"tls", "[::1]:443", true, nil},
		{"prior X-Forwarded-For", "10.1.2.3:5555", false, []string{"1.1.1.1", "2.2.2.2"}},
		{"no port in RemoteAddr", "pipe", false, []string{"1.1.1.1"}},
	} {
		in := httptest.NewRequest("GET", "http://code.example/x", nil)
		in.RemoteAddr = c.remote
		if c.tls {
			in.TLS = &tls.ConnectionState{}
		}
		want, got := in.Clone(in.Context()), in.Clone(in.Context())
		for _, out := range []*http.Request{want, got} {
			if c.prior != nil {
				out.Header["X-Forwarded-For"] = append([]string(nil), c.prior...)
			}
		}
		(&httputil.ProxyRequest{In: in, Out: want}).SetXForwarded()
		setXForwarded(&httputil.ProxyRequest{In: in, Out: got})
		if !reflect.DeepEqual(got.Header, want.Header) {
			t.Errorf("%s: got %v, want %v", c.name, got.Header, want.Header)
		}
	}
}
