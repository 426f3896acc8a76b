package main

import (
	"os"
	"path/filepath"
	"strings"
)

// keptSection is written by hand from runs of single sections (--only, sections.go) with
// profiles, not by the full run: regenerating the report keeps it from the previous file.
const keptSection = "## WebSocket path and per-request allocations"

// keptNote returns keptSection of outDir's current benchmarks.md (heading included), or "".
func keptNote(outDir string) string {
	b, err := os.ReadFile(filepath.Join(outDir, "benchmarks.md"))
	if err != nil {
		return ""
	}
	text := string(b)
	i := strings.Index(text, "\n"+keptSection+"\n")
	if i < 0 {
		return ""
	}
	body := text[i+1:]
	if j := strings.Index(body[len(keptSection):], "\n## "); j >= 0 {
		body = body[:len(keptSection)+j]
	}
	return strings.TrimSpace(body)
}
