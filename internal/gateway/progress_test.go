package gateway

import (
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/codehub-dev/codehub/internal/backend"
)

// The progress page shows each start step the backend reports (done ones with their time,
// the current one marked), the previous run's notice, and on failure the cluster's reason.
func TestProgressPageSteps(t *testing.T) {
	t0 := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	steps := []backend.Step{
		{Name: "Scheduling", Started: t0, Done: t0.Add(time.Second)},
		{Name: "Creating the container", Started: t0.Add(time.Second), Done: t0.Add(3 * time.Second)},
		{Name: "Starting code-server", Started: t0.Add(3 * time.Second)},
	}
	views := stepViews(steps)
	if len(views) != 3 || views[0].State != "done" || views[1].State != "done" || views[2].State != "now" {
		t.Fatalf("step views %+v", views)
	}
	if views[1].At != "10:00:03 UTC, after 3 s" || views[2].At != "since 10:00:03 UTC" {
		t.Errorf("times %q, %q", views[1].At, views[2].At)
	}
	for _, c := range []struct {
		data pageData
		want []string
	}{
		{pageData{Title: "Starting", Refresh: 1, Message: "Starting code-server…", Steps: views, Notice: "Last time, code-server ran out of memory (limit 64Mi) and was killed."},
			[]string{`id="steps"`, "✓ Scheduling", "▸ Starting code-server", "10:00:01 UTC, after 1 s", `id="notice"`, "ran out of memory (limit 64Mi)", `http-equiv="refresh"`}},
		{pageData{Title: "Workspace failed", Failed: true, Message: "the workspace image cannot be had: Container image \"x\" is not present with pull policy of Never",
			Steps: stepViews(steps[:2:2][:1])},
			[]string{`id="reason"`, "is not present with pull policy of Never", "Try again", "✓ Scheduling"}},
	} {
		rec := httptest.NewRecorder()
		render(rec, 503, "progress.html", c.data)
		body := rec.Body.String()
		for _, w := range c.want {
			if !strings.Contains(body, w) {
				t.Errorf("%s page lacks %q:\n%s", c.data.Title, w, body)
			}
		}
	}
}
