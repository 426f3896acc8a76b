package audit

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"
)

func TestRingKeepsTheNewestFirst(t *testing.T) {
	l := New(3, slog.New(slog.DiscardHandler), nil)
	if got := l.Recent(0); len(got) != 0 {
		t.Fatalf("empty log: %v", got)
	}
	for i := range 5 {
		l.Record(Event{Actor: "root", Action: fmt.Sprint("a", i)})
	}
	got := l.Recent(0)
	if len(got) != 3 || got[0].Action != "a4" || got[1].Action != "a3" || got[2].Action != "a2" {
		t.Fatalf("recent = %+v, want a4 a3 a2", got)
	}
	if got := l.Recent(2); len(got) != 2 || got[0].Action != "a4" {
		t.Fatalf("recent(2) = %+v", got)
	}
	if got := l.Recent(10); len(got) != 3 {
		t.Fatalf("recent(10) = %d events, want the 3 kept", len(got))
	}
}

func TestEventIsOneStructuredLine(t *testing.T) {
	var buf bytes.Buffer
	at := time.Unix(1_800_000_000, 0)
	l := New(0, slog.New(slog.NewJSONHandler(&buf, nil)), func() time.Time { return at })
	l.Record(Event{Actor: "root", Action: "workspace.stop", User: "bob", Workspace: "bob-1234", Detail: "from the admin page"})
	l.Record(Event{Actor: "alice", Action: "user.delete", User: "bob", Outcome: Refused, Detail: "not an admin"})
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) != 2 {
		t.Fatalf("want 2 log lines, got %q", buf.String())
	}
	var first, second map[string]any
	if err := json.Unmarshal([]byte(lines[0]), &first); err != nil {
		t.Fatal(err)
	}
	json.Unmarshal([]byte(lines[1]), &second)
	want := map[string]any{"msg": "audit", "level": "INFO", "actor": "root", "action": "workspace.stop", "target_user": "bob",
		"workspace": "bob-1234", "outcome": "ok", "detail": "from the admin page"}
	for k, v := range want {
		if first[k] != v {
			t.Errorf("%s = %v, want %v (line %s)", k, first[k], v, lines[0])
		}
	}
	if second["level"] != "WARN" || second["outcome"] != "refused" {
		t.Errorf("a refused action: %s", lines[1])
	}
	if ev := l.Recent(1)[0]; !ev.Time.Equal(at) || ev.Outcome != Refused {
		t.Errorf("kept event %+v", ev)
	}
}
