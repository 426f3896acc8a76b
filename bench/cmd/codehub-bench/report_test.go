package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The report includes the node figures section of docs/real-node.md (and only it), so a make
// bench run that regenerates docs/benchmarks.md keeps them.
func TestRealNodeNote(t *testing.T) {
	dir := t.TempDir()
	if got := realNodeNote(dir); !strings.Contains(got, "has none yet") {
		t.Errorf("without real-node.md: %q", got)
	}
	doc := "# Real images\n\n## Tests\n\nnot this\n\n" + realNodeSection + "\n\nCommand: `go test ./test/onnode -bench OnNode`.\n\n### Sign-in\n\n| a | b |\n|---|---|\n| 1 | 2 |\n\n## Later\n\nnot this either\n"
	if err := os.WriteFile(filepath.Join(dir, "real-node.md"), []byte(doc), 0o644); err != nil {
		t.Fatal(err)
	}
	got := realNodeNote(dir)
	for _, want := range []string{"go test ./test/onnode -bench OnNode", "#### Sign-in", "| 1 | 2 |", "included from `docs/real-node.md`"} {
		if !strings.Contains(got, want) {
			t.Errorf("note lacks %q:\n%s", want, got)
		}
	}
	for _, not := range []string{"not this", "## Later"} {
		if strings.Contains(got, not) {
			t.Errorf("note includes %q:\n%s", not, got)
		}
	}
}

// The hand-written section of docs/benchmarks.md survives a regeneration, and only it.
func TestKeptSection(t *testing.T) {
	dir := t.TempDir()
	if got := keptNote(dir); got != "" {
		t.Errorf("without benchmarks.md: %q", got)
	}
	doc := "# Benchmarks\n\n## WebSocket\n\ngenerated\n\n" + keptSection + "\n\nmeasured by hand\n\n### Before/after\n\n| a |\n\n## Exact configurations\n\ngenerated too\n"
	if err := os.WriteFile(filepath.Join(dir, "benchmarks.md"), []byte(doc), 0o644); err != nil {
		t.Fatal(err)
	}
	got := keptNote(dir)
	if want := keptSection + "\n\nmeasured by hand\n\n### Before/after\n\n| a |"; got != want {
		t.Errorf("kept %q, want %q", got, want)
	}
}
