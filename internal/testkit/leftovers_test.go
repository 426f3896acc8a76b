package testkit

import (
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"
)

// A process started in the test's directory and not ended is named and killed; one started
// elsewhere is not this binary's business.
func TestKillLeftoverProcesses(t *testing.T) {
	left := exec.Command("sleep", "300")
	elsewhere := exec.Command("sleep", "301")
	elsewhere.Dir = "/"
	for _, c := range []*exec.Cmd{left, elsewhere} {
		if err := c.Start(); err != nil {
			t.Fatal(err)
		}
	}
	waited := make(chan error, 1)
	go func() { waited <- left.Wait() }()
	t.Cleanup(func() { elsewhere.Process.Kill(); elsewhere.Wait() })

	got := KillLeftoverProcesses(0)
	if len(got) != 1 || !strings.HasPrefix(got[0], strconv.Itoa(left.Process.Pid)+" sleep 300") {
		t.Fatalf("leftovers %q, want only pid %d (sleep 300)", got, left.Process.Pid)
	}
	select {
	case <-waited:
	case <-time.After(10 * time.Second):
		t.Fatal("the leftover was named but not killed")
	}
	if got := KillLeftoverProcesses(0); len(got) != 0 {
		t.Fatalf("after the kill: %q", got)
	}
}
