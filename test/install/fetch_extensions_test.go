package install

import (
	"archive/zip"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/codehub-dev/codehub/internal/testkit"
)

func vsixBytes(t *testing.T, publisher, name, version string) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	w, _ := zw.Create("extension/package.json")
	fmt.Fprintf(w, `{"name":%q,"publisher":%q,"version":%q,"engines":{"vscode":"^1.60.0"},"main":"./extension.js"}`, name, publisher, version)
	w, _ = zw.Create("extension/extension.js")
	w.Write([]byte("exports.activate = function () {};\n"))
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// TestFetchExtensions runs scripts/fetch-extensions.sh (make run's seed extensions) against
// a local stand-in for Open VSX serving locally built VSIX files: a download whose checksum
// is pinned is kept, one whose checksum differs is not, an unpinned one is skipped unless
// --pin records it; with the gallery unreachable it prints the directory, says so in one
// line, and exits 0.
func TestFetchExtensions(t *testing.T) {
	root := testkit.RepoRoot(t)
	tmp := t.TempDir()
	alpha, beta, gamma := vsixBytes(t, "codehubtest", "alpha", "1.0.0"), vsixBytes(t, "codehubtest", "beta", "2.0.0"), vsixBytes(t, "codehubtest", "gamma", "3.0.0")
	sum := func(b []byte) string { s := sha256.Sum256(b); return hex.EncodeToString(s[:]) }
	files := map[string][]byte{
		"/api/codehubtest/alpha/1.0.0/file/codehubtest.alpha-1.0.0.vsix":                   alpha,
		"/api/codehubtest/beta/linux-x64/2.0.0/file/codehubtest.beta-2.0.0@linux-x64.vsix": beta,
		"/api/codehubtest/gamma/3.0.0/file/codehubtest.gamma-3.0.0.vsix":                   gamma,
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/api/-/search" {
			w.Write([]byte(`{"extensions":[]}`))
			return
		}
		if b, ok := files[r.URL.Path]; ok {
			w.Write(b)
			return
		}
		http.NotFound(w, r)
	}))
	defer srv.Close()
	pins := filepath.Join(tmp, "extensions.txt")
	sums := filepath.Join(tmp, "extensions.sha256")
	os.WriteFile(pins, []byte("# test pins\ncodehubtest.alpha@1.0.0\ncodehubtest.beta@2.0.0 platform\ncodehubtest.gamma@3.0.0\n"), 0o644)
	os.WriteFile(sums, []byte("# sums\n"+sum(alpha)+"  codehubtest.alpha@1.0.0\n"+strings.Repeat("0", 64)+"  codehubtest.beta@2.0.0\n"), 0o644)
	cache := filepath.Join(tmp, "cache")
	fetch := func(gallery string, args ...string) (dir, stderr string) {
		t.Helper()
		cmd := exec.Command(filepath.Join(root, "scripts", "fetch-extensions.sh"), args...)
		cmd.Env = append(os.Environ(), "CODEHUB_CACHE="+cache, "CODEHUB_EXTENSION_GALLERY="+gallery,
			"CODEHUB_EXTENSION_PINS="+pins, "CODEHUB_EXTENSION_SUMS="+sums)
		var out, errb bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &errb
		if err := cmd.Run(); err != nil {
			t.Fatalf("fetch-extensions.sh %v: %v\n%s", args, err, errb.String())
		}
		return strings.TrimSpace(out.String()), errb.String()
	}
	vsix := func(dir, id string) []byte {
		m, _ := filepath.Glob(filepath.Join(dir, "*-"+id+".vsix"))
		if len(m) != 1 {
			return nil
		}
		b, _ := os.ReadFile(m[0])
		return b
	}

	dir, stderr := fetch(srv.URL)
	if !bytes.Equal(vsix(dir, "codehubtest.alpha-1.0.0"), alpha) {
		t.Errorf("the pinned, matching alpha was not kept (stderr:\n%s)", stderr)
	}
	if vsix(dir, "codehubtest.beta-2.0.0") != nil || !strings.Contains(stderr, "codehubtest.beta@2.0.0: checksum") {
		t.Errorf("beta with a wrong pinned checksum: kept=%v, stderr:\n%s", vsix(dir, "codehubtest.beta-2.0.0") != nil, stderr)
	}
	if vsix(dir, "codehubtest.gamma-3.0.0") != nil || !strings.Contains(stderr, "codehubtest.gamma@3.0.0 has no pinned checksum") {
		t.Errorf("unpinned gamma: kept=%v, stderr:\n%s", vsix(dir, "codehubtest.gamma-3.0.0") != nil, stderr)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "PINS")); !strings.Contains(string(b), "codehubtest.gamma@3.0.0") {
		t.Errorf("PINS (what the gateway compares with) = %q", b)
	}

	// Offline: the directory and one line; make run goes on.
	dir2, stderr := fetch("http://127.0.0.1:1")
	if dir2 != dir || strings.Count(stderr, "\n") != 1 || !strings.Contains(stderr, "not reachable: 2 pinned extensions are not cached") {
		t.Errorf("offline: dir %q, stderr:\n%s", dir2, stderr)
	}

	// A maintainer online pins what is unpinned; the wrong pin still refuses beta.
	_, stderr = fetch(srv.URL, "--pin")
	if b, _ := os.ReadFile(sums); !strings.Contains(string(b), sum(gamma)+"  codehubtest.gamma@3.0.0") || !bytes.Equal(vsix(dir, "codehubtest.gamma-3.0.0"), gamma) {
		t.Errorf("--pin did not record gamma (stderr:\n%s):\n%s", stderr, b)
	}
	if vsix(dir, "codehubtest.beta-2.0.0") != nil {
		t.Error("--pin replaced a pinned checksum")
	}
}
