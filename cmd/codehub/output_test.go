package main

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
)

// Every command with -o refuses a format it does not know before it sends anything.
func TestUnknownOutputFormatRefusedBeforeAnyRequest(t *testing.T) {
	var requests atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		requests.Add(1)
		http.Error(w, "no", http.StatusTeapot)
	}))
	defer srv.Close()
	t.Setenv("CODEHUB_TOKEN", "a-token")
	for _, args := range [][]string{
		{"workspaces", "list"},
		{"workspaces", "get", "alice"},
		{"workspaces", "start", "alice"},
		{"workspaces", "stop", "alice"},
		{"workspaces", "delete", "alice", "--yes"},
		{"profiles", "list"},
	} {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			out, err := run(t, "", append(args, "--server", srv.URL, "-o", "xml")...)
			if err == nil || !strings.Contains(err.Error(), `--output must be json or yaml, not "xml"`) {
				t.Fatalf("err %v, output:\n%s", err, out)
			}
		})
	}
	if n := requests.Load(); n != 0 {
		t.Errorf("%d requests sent with a bad -o", n)
	}
}
