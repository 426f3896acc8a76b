package wsinit

import (
	"archive/zip"
	"maps"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestInstalledExtensions(t *testing.T) {
	cases := []struct {
		name  string
		files map[string]string
		want  map[string]string // id -> version
	}{
		{name: "no-dir", want: map[string]string{}},
		{name: "index-with-obsolete", files: map[string]string{
			"extensions.json": `[{"identifier":{"id":"Pub.A"},"version":"1.0.0","relativeLocation":"pub.a-1.0.0"},
				{"identifier":{"id":"pub.a"},"version":"1.1.0","relativeLocation":"pub.a-1.1.0"},
				{"identifier":{"id":"pub.b"},"version":"2.0.0","location":{"path":"/elsewhere/pub.b-2.0.0"}},
				{"identifier":{"id":"pub.gone"},"version":"1.0.0","relativeLocation":"pub.gone-1.0.0"}]`,
			".obsolete":                `{"pub.a-1.0.0": true}`,
			"pub.a-1.0.0/package.json": `{}`,
			"pub.a-1.1.0/package.json": `{}`,
			"pub.b-2.0.0/package.json": `{}`,
		}, want: map[string]string{"pub.a": "1.1.0", "pub.b": "2.0.0"}},
		{name: "no-index-scan-dirs", files: map[string]string{
			"pub.c-3.0.0/package.json": `{"publisher":"Pub","name":"c","version":"3.0.0"}`,
			"pub.d-1.0.0/package.json": `{"publisher":"pub","name":"d","version":"1.0.0"}`,
			".obsolete":                `{"pub.d-1.0.0": true}`,
			"junk/README":              "x",
		}, want: map[string]string{"pub.c": "3.0.0"}},
		{name: "torn-index-scan-dirs", files: map[string]string{
			"extensions.json":          `[{"identif`,
			"pub.c-3.0.0/package.json": `{"publisher":"pub","name":"c","version":"3.0.0"}`,
		}, want: map[string]string{"pub.c": "3.0.0"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "ext")
			for name, content := range tc.files {
				writeFile(t, filepath.Join(dir, name), content)
			}
			got, err := InstalledExtensions(dir)
			if err != nil {
				t.Fatal(err)
			}
			versions := map[string]string{}
			for id, e := range got {
				versions[id] = e.Version
			}
			if !maps.Equal(versions, tc.want) {
				t.Fatalf("got %v, want %v", versions, tc.want)
			}
		})
	}
}

func TestBuiltinExtensionsErrors(t *testing.T) {
	mk := func(t *testing.T, path string, files map[string]string) {
		t.Helper()
		f, err := os.Create(path)
		if err != nil {
			t.Fatal(err)
		}
		zw := zip.NewWriter(f)
		for n, c := range files {
			w, _ := zw.Create(n)
			w.Write([]byte(c))
		}
		zw.Close()
		f.Close()
	}
	pkg := `{"publisher":"p","name":"n","version":"1.0.0"}`
	for _, tc := range []struct {
		name    string
		vsix    map[string]map[string]string
		wantErr string
	}{
		{"no-package-json", map[string]map[string]string{"a.vsix": {"extension/x.js": ""}}, "a.vsix: no extension/package.json inside"},
		{"no-version", map[string]map[string]string{"a.vsix": {"extension/package.json": `{"publisher":"p","name":"n"}`}}, "lacks publisher, name or version"},
		{"duplicate", map[string]map[string]string{"a.vsix": {"extension/package.json": pkg}, "b.vsix": {"extension/package.json": pkg}}, "b.vsix: p.n is also pinned by"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			for n, files := range tc.vsix {
				mk(t, filepath.Join(dir, n), files)
			}
			_, err := BuiltinExtensions(dir)
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("err = %v, want %q", err, tc.wantErr)
			}
		})
	}
	if got, err := BuiltinExtensions(filepath.Join(t.TempDir(), "missing")); err != nil || len(got) != 0 {
		t.Fatalf("missing dir: %v, %v; want empty set", got, err)
	}
}
