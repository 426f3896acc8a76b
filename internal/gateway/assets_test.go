package gateway

import (
	"bytes"
	"compress/gzip"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/andybalholm/brotli"
)

const testCommit = "0123456789abcdef0123456789abcdef01234567"

// assetTree is a code-server tree as the gateway finds it: lib/vscode with product.json
// and static files (one large enough that compression matters).
func assetTree(t *testing.T) (tree, js string) {
	tree = t.TempDir()
	root := filepath.Join(tree, "lib", "vscode")
	os.MkdirAll(filepath.Join(root, "out", "vs"), 0o755)
	os.WriteFile(filepath.Join(root, "product.json"), []byte(`{"commit":"`+testCommit+`","quality":"stable"}`), 0o644)
	js = strings.Repeat("function workbench(){return 42}\n", 20000)
	os.WriteFile(filepath.Join(root, "out", "vs", "workbench.js"), []byte(js), 0o644)
	os.WriteFile(filepath.Join(tree, "secret.txt"), []byte("outside the static tree"), 0o644)
	os.Symlink(filepath.Join(tree, "secret.txt"), filepath.Join(root, "out", "escape.txt"))
	return tree, js
}

func decode(t *testing.T, enc string, body []byte) string {
	t.Helper()
	var r io.Reader = bytes.NewReader(body)
	switch enc {
	case "br":
		r = brotli.NewReader(r)
	case "gzip":
		zr, err := gzip.NewReader(r)
		if err != nil {
			t.Fatal(err)
		}
		r = zr
	}
	out, err := io.ReadAll(r)
	if err != nil {
		t.Fatalf("decode %s: %v", enc, err)
	}
	return string(out)
}

// TestSharedAssets: a release's static files are served from the trusted tree, compressed
// once, to every signed-in user, without touching their workspaces; every other path —
// another release, traversal, a symlink out of the tree, vscode-remote-resource, a
// directory — goes to the user's own workspace, and nobody signed out gets anything.
func TestSharedAssets(t *testing.T) {
	tree, js := assetTree(t)
	assets, err := NewAssetCache(tree, 0)
	if err != nil {
		t.Fatal(err)
	}
	f := newFixtureWith(t, 0, func(c *Config, _ string) { c.Assets = assets })
	f.be.running["alice"], f.be.running["bob"] = true, true
	url := "/stable-" + testCommit + "/static/out/vs/workbench.js"
	for _, user := range []string{"alice", "bob"} {
		for _, c := range []struct{ accept, enc string }{{"br, gzip", "br"}, {"gzip, deflate", "gzip"}, {"", ""}, {"br;q=0, gzip", "gzip"}, {"*", "br"}} {
			resp, body := f.do(t, "GET", url, map[string]string{"Cookie": f.cookie(user), "Accept-Encoding": c.accept})
			if resp.StatusCode != 200 || resp.Header.Get("Content-Encoding") != c.enc || !strings.Contains(resp.Header.Get("Cache-Control"), "immutable") {
				t.Fatalf("%s %q: %d encoding %q cache %q", user, c.accept, resp.StatusCode, resp.Header.Get("Content-Encoding"), resp.Header.Get("Cache-Control"))
			}
			if got := decode(t, c.enc, []byte(body)); got != js {
				t.Fatalf("%s %q: %d bytes decode to something else", user, c.accept, len(body))
			}
		}
	}
	if n := f.alice.hits.Load() + f.bob.hits.Load(); n != 0 {
		t.Fatalf("the workspaces were asked %d times for a cached asset", n)
	}
	resp, _ := f.do(t, "GET", url, map[string]string{"Cookie": f.cookie("alice"), "Accept-Encoding": "br"})
	if resp, _ := f.do(t, "GET", url, map[string]string{"Cookie": f.cookie("alice"), "If-None-Match": resp.Header.Get("ETag")}); resp.StatusCode != http.StatusNotModified {
		t.Errorf("revalidation: %d", resp.StatusCode)
	}
	for _, p := range []string{
		"/stable-" + testCommit + "/static/../../../secret.txt",
		"/stable-" + testCommit + "/static/out/escape.txt",
		"/stable-" + testCommit + "/static/out/vs",
		"/stable-" + testCommit + "/static/product.json/",
		"/stable-ffffffffffffffffffffffffffffffffffffffff/static/out/vs/workbench.js",
		"/stable-" + testCommit + "/vscode-remote-resource?path=" + filepath.Join(tree, "lib/vscode/out/vs/workbench.js"),
		"/vscode-remote-resource?path=" + filepath.Join(tree, "secret.txt"),
		"/?folder=/tmp",
	} {
		before := f.alice.hits.Load()
		resp, body := f.do(t, "GET", p, map[string]string{"Cookie": f.cookie("alice")})
		if body != "workspace:alice" || f.alice.hits.Load() != before+1 {
			t.Errorf("%s: %d %.40q, want alice's own workspace to answer", p, resp.StatusCode, body)
		}
	}
	if resp, body := f.do(t, "GET", url, nil); resp.StatusCode != http.StatusUnauthorized || strings.Contains(body, "workbench") {
		t.Errorf("signed out: %d", resp.StatusCode)
	}
}

func TestEncodingNegotiation(t *testing.T) {
	for accept, want := range map[string]string{
		"": "", "identity": "", "gzip": "gzip", "br": "br", "gzip, br": "br", "BR;q=0.5": "br",
		"br;q=0, gzip;q=0": "", "*;q=0": "", "*": "br", "gzip, *;q=0": "gzip", "deflate": "",
	} {
		if got := encoding(accept); got != want {
			t.Errorf("encoding(%q) = %q, want %q", accept, got, want)
		}
	}
}
