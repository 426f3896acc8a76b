package gateway

import (
	"bytes"
	"compress/gzip"
	"container/list"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/andybalholm/brotli"
)

// Shared static assets. code-server serves VS Code's static tree under a URL that names
// the release, /<quality>-<commit>/static/<file>, identical for every user of that
// release, and compresses it again for every cold load (19 MB of workbench.js with
// brotli at its maximum quality: seconds of the workspace's CPU per load). The gateway
// serves that tree itself, compressed once (brotli and gzip) and kept in memory, to every
// signed-in user.
//
// Trust: the bytes come from a code-server tree the gateway trusts — the one it runs
// (local backend) or a copy of the workspace image's (--code-server-assets, on Kubernetes
// from an init container) — never from a workspace's answer: a user controls her own
// workspace's socket and could otherwise plant a script in everybody's editor. Only files
// under the static prefix of that exact commit are served; everything else (a user's
// files, vscode-remote-resource, other releases) goes to the user's own workspace.

const (
	maxAssetFile    = 64 << 20 // larger files are proxied as they are
	assetFillWait   = 15 * time.Second
	brotliQuality   = 6 // compressed once: far smaller than gzip, ~0.6 s for workbench.js
	assetCacheBytes = 512 << 20
)

// AssetCache serves code-server's static files of one release (see above).
type AssetCache struct {
	root   string // VS Code's root in the trusted code-server tree (holds product.json)
	prefix string // "/stable-<commit>/static/"
	max    int64

	mu     sync.Mutex
	size   int64
	byPath map[string]*list.Element // of *asset
	lru    *list.List
	fills  map[string]*assetFill
}

type asset struct {
	file     string
	ctype    string
	etag     string
	modTime  time.Time
	size     int64
	identity []byte
	gzip     []byte
	br       []byte
}

type assetFill struct {
	done chan struct{}
	a    *asset
	err  error
}

func (a *asset) bytes() int64 { return int64(len(a.identity) + len(a.gzip) + len(a.br)) }

// NewAssetCache finds VS Code's root under a code-server tree (the directory of the
// launcher or of a standalone release, or VS Code's root itself) and its release; max
// bounds the memory it keeps (0: 512 MiB).
func NewAssetCache(tree string, max int64) (*AssetCache, error) {
	if max <= 0 {
		max = assetCacheBytes
	}
	for _, rel := range []string{".", "lib/vscode", "lib/node_modules/code-server/lib/vscode", "../lib/vscode"} {
		root := filepath.Join(tree, rel)
		b, err := os.ReadFile(filepath.Join(root, "product.json"))
		if err != nil {
			continue
		}
		var p struct{ Commit, Quality string }
		if json.Unmarshal(b, &p) != nil || len(p.Commit) < 7 || p.Quality == "" {
			return nil, fmt.Errorf("code-server assets: %s has no commit and quality", filepath.Join(root, "product.json"))
		}
		abs, err := filepath.Abs(root)
		if err == nil {
			abs, err = filepath.EvalSymlinks(abs)
		}
		if err != nil {
			return nil, err
		}
		return &AssetCache{root: abs, prefix: "/" + p.Quality + "-" + p.Commit + "/static/", max: max,
			byPath: map[string]*list.Element{}, lru: list.New(), fills: map[string]*assetFill{}}, nil
	}
	return nil, fmt.Errorf("code-server assets: no VS Code product.json under %s", tree)
}

// file maps a request path to a file of the trusted tree, or "" when the path is not a
// plain static path of this release.
func (c *AssetCache) file(p string) string {
	rest, ok := strings.CutPrefix(p, c.prefix)
	if !ok || rest == "" || strings.Contains(rest, "\\") || path.Clean("/"+rest) != "/"+rest {
		return ""
	}
	f := filepath.Join(c.root, filepath.FromSlash(rest))
	real, err := filepath.EvalSymlinks(f)
	if err != nil || !strings.HasPrefix(real, c.root+string(filepath.Separator)) {
		return ""
	}
	return real
}

// serve answers r from the cache when it asks for a static file of the release; it
// reports false (the request goes to the workspace) otherwise.
// Release is the static URL prefix of the release served.
func (c *AssetCache) Release() string { return c.prefix }

func (c *AssetCache) serve(w http.ResponseWriter, r *http.Request) bool {
	if (r.Method != http.MethodGet && r.Method != http.MethodHead) || r.Header.Get("Range") != "" {
		return false
	}
	f := c.file(r.URL.Path)
	if f == "" {
		return false
	}
	a, err := c.get(f)
	if err != nil {
		return false
	}
	h := w.Header()
	h.Set("Cache-Control", "public, max-age=31536000, immutable")
	h.Set("ETag", a.etag)
	h.Set("Vary", "Accept-Encoding")
	h.Set("Content-Type", a.ctype)
	h.Set("X-Content-Type-Options", "nosniff")
	if match := r.Header.Get("If-None-Match"); match != "" && strings.Contains(match, a.etag) {
		w.WriteHeader(http.StatusNotModified)
		return true
	}
	body := a.identity
	switch encoding(r.Header.Get("Accept-Encoding")) {
	case "br":
		body = a.br
		h.Set("Content-Encoding", "br")
	case "gzip":
		body = a.gzip
		h.Set("Content-Encoding", "gzip")
	}
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(http.StatusOK)
	if r.Method == http.MethodGet {
		_, _ = w.Write(body)
	}
	return true
}

// get returns the cached asset for file, filling it once however many ask at a time.
func (c *AssetCache) get(file string) (*asset, error) {
	st, err := os.Stat(file)
	if err != nil || !st.Mode().IsRegular() || st.Size() > maxAssetFile {
		return nil, errors.New("not a cacheable file")
	}
	c.mu.Lock()
	if e, ok := c.byPath[file]; ok {
		a := e.Value.(*asset)
		if a.size == st.Size() && a.modTime.Equal(st.ModTime()) {
			c.lru.MoveToFront(e)
			c.mu.Unlock()
			return a, nil
		}
		c.drop(e) // the tree changed under us: never serve stale bytes
	}
	fl, filling := c.fills[file]
	if !filling {
		fl = &assetFill{done: make(chan struct{})}
		c.fills[file] = fl
		go c.fill(file, fl)
	}
	c.mu.Unlock()
	select {
	case <-fl.done:
		return fl.a, fl.err
	case <-time.After(assetFillWait):
		return nil, errors.New("asset still compressing")
	}
}

func (c *AssetCache) fill(file string, fl *assetFill) {
	fl.a, fl.err = compressAsset(file)
	c.mu.Lock()
	delete(c.fills, file)
	if fl.err == nil {
		c.byPath[file] = c.lru.PushFront(fl.a)
		c.size += fl.a.bytes()
		for c.size > c.max && c.lru.Len() > 1 {
			c.drop(c.lru.Back())
		}
	}
	c.mu.Unlock()
	close(fl.done)
}

// drop removes an entry (callers hold mu).
func (c *AssetCache) drop(e *list.Element) {
	a := e.Value.(*asset)
	c.lru.Remove(e)
	delete(c.byPath, a.file)
	c.size -= a.bytes()
}

// compressAsset reads file and compresses it both ways, then checks that each encoding
// decodes to exactly the file's bytes before anything is served.
func compressAsset(file string) (*asset, error) {
	st, err := os.Stat(file)
	if err != nil {
		return nil, err
	}
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	sum := sha256.Sum256(data)
	a := &asset{file: file, identity: data, modTime: st.ModTime(), size: int64(len(data)),
		etag: `"sha256-` + hex.EncodeToString(sum[:16]) + `"`, ctype: contentType(file)}
	var gz, br bytes.Buffer
	gw, _ := gzip.NewWriterLevel(&gz, gzip.DefaultCompression)
	bw := brotli.NewWriterLevel(&br, brotliQuality)
	for _, w := range []io.WriteCloser{gw, bw} {
		if _, err := w.Write(data); err != nil {
			return nil, err
		}
		if err := w.Close(); err != nil {
			return nil, err
		}
	}
	a.gzip, a.br = gz.Bytes(), br.Bytes()
	gr, err := gzip.NewReader(bytes.NewReader(a.gzip))
	if err != nil {
		return nil, err
	}
	for name, rd := range map[string]io.Reader{"gzip": gr, "br": brotli.NewReader(bytes.NewReader(a.br))} {
		back, err := io.ReadAll(rd)
		if err != nil || sha256.Sum256(back) != sum {
			return nil, fmt.Errorf("%s of %s does not decode to the file", name, file)
		}
	}
	return a, nil
}

func contentType(file string) string {
	switch filepath.Ext(file) {
	case ".js", ".mjs":
		return "text/javascript" // what code-server sends
	case ".css":
		return "text/css"
	}
	if t := mime.TypeByExtension(filepath.Ext(file)); t != "" {
		return t
	}
	return "application/octet-stream"
}

// encoding picks br, gzip or "" (identity) from an Accept-Encoding header, honouring q=0.
func encoding(accept string) string {
	q := map[string]float64{}
	for part := range strings.SplitSeq(accept, ",") {
		name, params, _ := strings.Cut(strings.TrimSpace(part), ";")
		v := 1.0
		if p, ok := strings.CutPrefix(strings.TrimSpace(params), "q="); ok {
			if f, err := strconv.ParseFloat(p, 64); err == nil {
				v = f
			}
		}
		q[strings.ToLower(strings.TrimSpace(name))] = v
	}
	for _, e := range []string{"br", "gzip"} {
		if v, ok := q[e]; ok && v > 0 {
			return e
		}
		if v, ok := q["*"]; ok && v > 0 {
			if _, named := q[e]; !named {
				return e
			}
		}
	}
	return ""
}
