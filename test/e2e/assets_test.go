package e2e

import (
	"bytes"
	"compress/gzip"
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"

	"github.com/andybalholm/brotli"
)

// TestSharedAssetsMatchCodeServer: the gateway serves the workbench's static files itself
// (from the code-server tree it runs), and for every encoding what it sends decodes to
// exactly what code-server itself sends for that URL.
func TestSharedAssetsMatchCodeServer(t *testing.T) {
	state := stateWithUsers(t, "alice")
	g := startGateway(t, state, "--idle-timeout", "0")
	alice := g.signIn(t, "alice")
	html := alice.openWorkbench(t)
	urls := regexp.MustCompile(`(?:src|href)="(stable-[0-9a-f]{40}/static/[^"]+)"`).FindAllStringSubmatch(html, -1)
	if len(urls) < 2 {
		t.Fatalf("the workbench HTML names %d static files", len(urls))
	}
	direct := directCodeServer(t)
	fetch := func(c *http.Client, base, path, accept string) ([]byte, http.Header) {
		t.Helper()
		req, _ := http.NewRequest("GET", base+"/"+path, nil)
		req.Header.Set("Accept-Encoding", accept)
		c2 := *c
		c2.Transport = &http.Transport{DisableCompression: true}
		resp, err := c2.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("%s%s: %d", base, path, resp.StatusCode)
		}
		var r io.Reader = resp.Body
		switch resp.Header.Get("Content-Encoding") {
		case "br":
			r = brotli.NewReader(r)
		case "gzip":
			zr, err := gzip.NewReader(r)
			if err != nil {
				t.Fatal(err)
			}
			r = zr
		}
		b, err := io.ReadAll(r)
		if err != nil {
			t.Fatal(err)
		}
		return b, resp.Header
	}
	for _, m := range urls {
		for _, accept := range []string{"br", "gzip", "identity"} {
			via, hdr := fetch(alice.Client, g.URL, m[1], accept)
			if !strings.Contains(hdr.Get("Cache-Control"), "immutable") || (accept != "identity" && hdr.Get("Content-Encoding") != accept) {
				t.Fatalf("%s (%s) was not served by the gateway's cache: %v", m[1], accept, hdr)
			}
			own, _ := fetch(http.DefaultClient, direct, m[1], accept)
			if !bytes.Equal(via, own) {
				t.Fatalf("%s (%s): the gateway's %d bytes differ from code-server's %d", m[1], accept, len(via), len(own))
			}
		}
	}
}

// directCodeServer runs the same code-server release on loopback, as it is without a
// gateway (for comparisons), and returns its base URL.
func directCodeServer(t *testing.T) string {
	t.Helper()
	u, _ := runCodeServerDir(t)
	return u.String()
}
