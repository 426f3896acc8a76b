// Package codehubext packs the codehub VS Code extension (extension/: plain JavaScript, no
// dependencies, no bundler) into a VSIX, the zip VS Code installs: extension/package.json,
// extension/extension.js, extension.vsixmanifest and [Content_Types].xml. The sources are
// compiled into every binary that embeds this package (codehub-init writes the VSIX into
// each workspace's state dir and installs it with the builtin extensions), so the
// extension always matches the codehub that runs it and needs no gallery.
package codehubext

import (
	"archive/zip"
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"html"
	"io/fs"
	"sort"
	"strings"
	"time"
)

//go:embed extension
var sources embed.FS

// Manifest is the part of extension/package.json the packer reads.
type Manifest struct {
	Name        string                  `json:"name"`
	DisplayName string                  `json:"displayName"`
	Description string                  `json:"description"`
	Publisher   string                  `json:"publisher"`
	Version     string                  `json:"version"`
	Engines     struct{ VSCode string } `json:"engines"`
	Kind        []string                `json:"extensionKind"`
}

// ID is publisher.name, as VS Code names the extension.
func (m Manifest) ID() string { return m.Publisher + "." + m.Name }

// Read returns the embedded extension's manifest.
func Read() (Manifest, error) {
	var m Manifest
	data, err := sources.ReadFile("extension/package.json")
	if err != nil {
		return m, err
	}
	if err := json.Unmarshal(data, &m); err != nil {
		return m, fmt.Errorf("extension/package.json: %w", err)
	}
	if m.Name == "" || m.Publisher == "" || m.Version == "" || m.Engines.VSCode == "" {
		return m, fmt.Errorf("extension/package.json lacks name, publisher, version or engines.vscode")
	}
	return m, nil
}

// SourceHash is a hash of the extension's sources (extension_test.go holds it with the
// version, so a change to the sources without a version bump fails a test: an installed
// copy is replaced only when the version changes).
func SourceHash() string {
	h := sha256.New()
	names := sourceNames()
	for _, n := range names {
		data, _ := sources.ReadFile(n)
		fmt.Fprintf(h, "%s %d\n", n, len(data))
		h.Write(data)
	}
	return hex.EncodeToString(h.Sum(nil))[:16]
}

func sourceNames() []string {
	var names []string
	_ = fs.WalkDir(sources, "extension", func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			names = append(names, p)
		}
		return nil
	})
	sort.Strings(names)
	return names
}

// modTime is fixed so the same sources always make the same VSIX bytes.
var modTime = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// VSIX packs the extension.
func VSIX() ([]byte, Manifest, error) {
	m, err := Read()
	if err != nil {
		return nil, m, err
	}
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	add := func(name string, data []byte) error {
		w, err := zw.CreateHeader(&zip.FileHeader{Name: name, Method: zip.Deflate, Modified: modTime})
		if err != nil {
			return err
		}
		_, err = w.Write(data)
		return err
	}
	if err := add("[Content_Types].xml", []byte(contentTypes)); err != nil {
		return nil, m, err
	}
	if err := add("extension.vsixmanifest", []byte(vsixManifest(m))); err != nil {
		return nil, m, err
	}
	for _, n := range sourceNames() {
		data, err := sources.ReadFile(n)
		if err != nil {
			return nil, m, err
		}
		if err := add(n, data); err != nil {
			return nil, m, err
		}
	}
	if err := zw.Close(); err != nil {
		return nil, m, err
	}
	return buf.Bytes(), m, nil
}

const contentTypes = `<?xml version="1.0" encoding="utf-8"?>
<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"><Default Extension=".json" ContentType="application/json"/><Default Extension=".js" ContentType="application/javascript"/><Default Extension=".md" ContentType="text/markdown"/><Default Extension=".vsixmanifest" ContentType="text/xml"/></Types>
`

func vsixManifest(m Manifest) string {
	e := html.EscapeString
	return `<?xml version="1.0" encoding="utf-8"?>
<PackageManifest Version="2.0.0" xmlns="http://schemas.microsoft.com/developer/vsx-schema/2011" xmlns:d="http://schemas.microsoft.com/developer/vsx-schema-design/2011">
  <Metadata>
    <Identity Language="en-US" Id="` + e(m.Name) + `" Version="` + e(m.Version) + `" Publisher="` + e(m.Publisher) + `"/>
    <DisplayName>` + e(m.DisplayName) + `</DisplayName>
    <Description xml:space="preserve">` + e(m.Description) + `</Description>
    <Categories>Other</Categories>
    <GalleryFlags>Public</GalleryFlags>
    <Properties>
      <Property Id="Microsoft.VisualStudio.Code.Engine" Value="` + e(m.Engines.VSCode) + `"/>
      <Property Id="Microsoft.VisualStudio.Code.ExtensionDependencies" Value=""/>
      <Property Id="Microsoft.VisualStudio.Code.ExtensionPack" Value=""/>
      <Property Id="Microsoft.VisualStudio.Code.ExtensionKind" Value="` + e(strings.Join(m.Kind, ",")) + `"/>
      <Property Id="Microsoft.VisualStudio.Code.LocalizedLanguages" Value=""/>
    </Properties>
  </Metadata>
  <Installation>
    <InstallationTarget Id="Microsoft.VisualStudio.Code"/>
  </Installation>
  <Dependencies/>
  <Assets>
    <Asset Type="Microsoft.VisualStudio.Code.Manifest" Path="extension/package.json" Addressable="true"/>
  </Assets>
</PackageManifest>
`
}
