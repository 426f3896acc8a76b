package serve

import (
	"bytes"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestOneStopperPerDeployment: with the kubernetes backend the operator alone stops
// workspaces, so the gateway refuses the local backend's idle timeout and maximum run time.
func TestOneStopperPerDeployment(t *testing.T) {
	base := Options{StateDir: "/tmp/x", Auth: "local"}
	for _, c := range []struct {
		name string
		o    func(*Options)
		ok   bool
	}{
		{"local with an idle timeout", func(o *Options) { o.Backend, o.IdleTimeout, o.IdleTimeoutSet = "local", time.Hour, true }, true},
		{"kubernetes, flag not given", func(o *Options) { o.Backend, o.IdleTimeout = "kubernetes", time.Hour }, true},
		{"kubernetes with --idle-timeout", func(o *Options) { o.Backend, o.IdleTimeout, o.IdleTimeoutSet = "kubernetes", time.Hour, true }, false},
		{"kubernetes with --idle-timeout 0", func(o *Options) { o.Backend, o.IdleTimeoutSet = "kubernetes", true }, false},
		{"kubernetes with --max-run-time", func(o *Options) { o.Backend, o.MaxRunTime = "kubernetes", 8*time.Hour }, false},
	} {
		o := base
		c.o(&o)
		err := checkOptions(o)
		if (err == nil) != c.ok {
			t.Errorf("%s: %v", c.name, err)
		}
		if err != nil && !strings.Contains(err.Error(), "spec.idleTimeout") {
			t.Errorf("%s: the refusal does not say where the timeout goes: %v", c.name, err)
		}
	}
}

// TestWarnBuiltinExtensions: the pins fetch-extensions.sh left beside the VSIX files are
// compared with what is there, and the missing ones are named in one warning.
func TestWarnBuiltinExtensions(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "PINS"), []byte("a.one@1.0.0\nb.two@2.0.0 platform\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "10-a.one-1.0.0.vsix"), []byte("zip"), 0o644)
	var buf bytes.Buffer
	warnBuiltinExtensions(dir, slog.New(slog.NewTextHandler(&buf, nil)))
	if out := buf.String(); strings.Count(out, "\n") != 1 || !strings.Contains(out, "1 of 2 pinned extensions are not in") || !strings.Contains(out, "missing=b.two@2.0.0") {
		t.Fatalf("warning:\n%s", out)
	}
	os.WriteFile(filepath.Join(dir, "11-b.two-2.0.0.vsix"), []byte("zip"), 0o644)
	buf.Reset()
	warnBuiltinExtensions(dir, slog.New(slog.NewTextHandler(&buf, nil)))
	if buf.Len() != 0 {
		t.Fatalf("all pins present, still warned:\n%s", buf.String())
	}
}
