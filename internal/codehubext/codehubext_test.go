package codehubext

import (
	"archive/zip"
	"bytes"
	"encoding/json"
	"io"
	"testing"
)

// sourceHashAt pins the extension's sources to its version: change extension/ and this
// fails until package.json's version is bumped (an installed copy is replaced only when the
// version changes) and the pair below updated.
var sourceHashAt = map[string]string{"0.1.0": "a1674d70489ff7c7"}

func TestVersionFollowsSources(t *testing.T) {
	m, err := Read()
	if err != nil {
		t.Fatal(err)
	}
	if got := SourceHash(); sourceHashAt[m.Version] != got {
		t.Fatalf("extension sources changed (hash %s) but version %s is pinned to %q: bump the version in extension/package.json and set sourceHashAt[%q] = %q",
			got, m.Version, sourceHashAt[m.Version], "<new version>", got)
	}
}

// TestVSIXLayout checks what VS Code reads from the package: the manifest and content types
// at the root, the extension under extension/, the same bytes every time.
func TestVSIXLayout(t *testing.T) {
	a, m, err := VSIX()
	if err != nil {
		t.Fatal(err)
	}
	b, _, _ := VSIX()
	if !bytes.Equal(a, b) {
		t.Fatal("VSIX is not deterministic")
	}
	zr, err := zip.NewReader(bytes.NewReader(a), int64(len(a)))
	if err != nil {
		t.Fatal(err)
	}
	files := map[string][]byte{}
	for _, f := range zr.File {
		rc, _ := f.Open()
		files[f.Name], _ = io.ReadAll(rc)
		rc.Close()
	}
	for _, name := range []string{"[Content_Types].xml", "extension.vsixmanifest", "extension/package.json", "extension/extension.js"} {
		if _, ok := files[name]; !ok {
			t.Errorf("VSIX lacks %s (has %d files)", name, len(files))
		}
	}
	var pkg struct{ Main, Publisher, Name, Version string }
	if err := json.Unmarshal(files["extension/package.json"], &pkg); err != nil || pkg.Main != "./extension.js" {
		t.Fatalf("package.json: %+v %v", pkg, err)
	}
	if m.ID() != "codehub.codehub" || !bytes.Contains(files["extension.vsixmanifest"], []byte(`Version="`+m.Version+`"`)) {
		t.Fatalf("manifest for %s@%s:\n%s", m.ID(), m.Version, files["extension.vsixmanifest"])
	}
}
