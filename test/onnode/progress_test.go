package onnode

import (
	"context"
	"fmt"
	"html"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	codehubv1 "github.com/codehub-dev/codehub/api/v1alpha1"
	"github.com/codehub-dev/codehub/internal/backend/kubernetes"
	"github.com/codehub-dev/codehub/internal/identity"
)

// TestStartFailuresFromTheCluster provokes, for real on the node, each way a workspace pod
// can fail to start, and checks that the gateway's progress page and Workspace.status say
// why within seconds (not after the Deployment's 600 s progress deadline): the image is not
// on the node (ErrImageNeverPull), the pod asks for more CPU than the node has, a volume
// cannot be mounted (the v3io driver refuses the access key), code-server keeps exiting (a
// NODE_OPTIONS preload that does not exist), code-server runs out of memory — which the
// next start, with enough memory, still reports —, and the home claim names a storage class
// that does not exist. A claim that is bound a moment after the pod is first scheduled (every
// other case here) is a wait, not a failure. Each user's Workspace is the chart's
// default one (as the gateway would create it) with one thing changed, as an admin might.
func TestStartFailuresFromTheCluster(t *testing.T) {
	c := nodeFor(t)
	c.install(t)
	defaults := c.workspaceDefaults(t)
	ctx := context.Background()

	// A v3io Secret of the right type with a key the platform does not know.
	if err := c.client.Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "revoked-v3io", Namespace: namespace},
		Type: "v3io/fuse", StringData: map[string]string{"accessKey": "revoked-access-key"}}); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		user, reason string
		change       func(*codehubv1.WorkspaceSpec)
		page         []string // on the failure page (HTML-unescaped)
	}{
		{"img-missing", codehubv1.ReasonImageMissing, func(s *codehubv1.WorkspaceSpec) { s.Image = "codehub-workspace:never-imported" },
			[]string{"the workspace image cannot be had", "is not present with pull policy of Never", "✓ Scheduling"}},
		{"too-big", codehubv1.ReasonUnschedulable, func(s *codehubv1.WorkspaceSpec) {
			s.Resources.Requests[corev1.ResourceCPU] = resource.MustParse("64")
		}, []string{"no node can run the workspace", "Insufficient cpu", "requests cpu 64", "▸ Scheduling"}},
		{"bad-key", codehubv1.ReasonVolumeMountFailed, func(s *codehubv1.WorkspaceSpec) {
			s.Mounts[0].V3IO.SecretRef.Name = "revoked-v3io"
		}, []string{"cannot be mounted", "mount command failed", "v3io: access key rejected", "▸ Creating the container"}},
		{"crashing", codehubv1.ReasonCrashLooping, func(s *codehubv1.WorkspaceSpec) {
			s.Env = append(s.Env, corev1.EnvVar{Name: "NODE_OPTIONS", Value: "--require /opt/site/missing-preload.js"})
		}, []string{"code-server exited with code 1", "Cannot find module", "missing-preload.js", "it keeps being restarted"}},
		{"small-mem", codehubv1.ReasonOOMKilled, func(s *codehubv1.WorkspaceSpec) {
			s.Resources.Requests[corev1.ResourceMemory] = resource.MustParse("32Mi")
			s.Resources.Limits[corev1.ResourceMemory] = resource.MustParse("48Mi")
		}, []string{"code-server ran out of memory (limit 48Mi) and was killed", "it keeps being restarted"}},
		{"no-class", codehubv1.ReasonUnschedulable, func(s *codehubv1.WorkspaceSpec) {
			if s.Home.PVC == nil {
				s.Home.PVC = &codehubv1.HomePVC{}
			}
			s.Home.PVC.StorageClassName = ptrTo("no-such-class")
		}, []string{"no node can run the workspace", "cannot be bound", `"no-such-class" not found`, "▸ Scheduling"}},
	}
	for i := range cases {
		cs := &cases[i]
		// A pre-bound PV binds whatever the claim's class: no-class has none.
		u := c.userWith(t, cs.user, 3001+i, cs.user != "no-class")
		spec := defaults.DeepCopy()
		spec.User, spec.UID, spec.GID, spec.Running = u.Name, ptrTo(int64(u.UID)), ptrTo(int64(u.GID)), false
		cs.change(spec)
		w := &codehubv1.Workspace{ObjectMeta: metav1.ObjectMeta{Name: identity.WorkspaceName(u.Name), Namespace: namespace}, Spec: *spec}
		if err := c.client.Create(ctx, w); err != nil {
			t.Fatal(err)
		}
	}

	var mu sync.Mutex
	took := map[string]time.Duration{}
	t.Run("group", func(t *testing.T) {
		for _, cs := range cases {
			t.Run(cs.user, func(t *testing.T) {
				t.Parallel()
				cookie := "session=" + c.platform.session(t, cs.user)
				start := time.Now()
				var page string
				poll(t, 90*time.Second, 500*time.Millisecond, "the failure on the progress page", func() (bool, string) {
					status, body := c.visit(t, cookie)
					page = body
					return status == http.StatusServiceUnavailable && strings.Contains(body, "could not start"), fmt.Sprintf("%d %s", status, squash(body))
				})
				d := time.Since(start)
				mu.Lock()
				took[cs.user] = d
				mu.Unlock()
				for _, want := range cs.page {
					if !strings.Contains(page, want) {
						t.Errorf("the failure page lacks %q:\n%s", want, squash(page))
					}
				}
				w := c.workspace(t, identity.WorkspaceName(cs.user))
				if w.Status.Phase != codehubv1.PhaseFailed || w.Status.Start == nil || w.Status.Start.Reason != cs.reason {
					t.Errorf("status: phase %s start %+v, want Failed with reason %s", w.Status.Phase, w.Status.Start, cs.reason)
				} else if w.Status.Start.CreatedAt == nil || (cs.reason != codehubv1.ReasonUnschedulable && w.Status.Start.ScheduledAt == nil) {
					t.Errorf("status.start lacks the cluster's times: %+v", w.Status.Start)
				}
				if d > 60*time.Second {
					t.Errorf("the reason took %.0fs to show (want seconds, not the progress deadline)", d.Seconds())
				}
			})
		}
	})
	for _, cs := range cases {
		if d, ok := took[cs.user]; ok {
			t.Logf("measured: first visit → %s (%s) on the progress page and in status: %.1fs", cs.reason, cs.user, d.Seconds())
		}
	}

	t.Run("OutOfMemoryShownOnTheNextStart", func(t *testing.T) {
		name := identity.WorkspaceName("small-mem")
		w := c.workspace(t, name)
		if w.Status.LastTermination == nil || w.Status.LastTermination.Reason != "OOMKilled" || w.Status.LastTermination.MemoryLimit != "48Mi" {
			t.Fatalf("status.lastTermination = %+v, want OOMKilled with the 48Mi limit", w.Status.LastTermination)
		}
		// Stopped; then the admin gives it enough memory, and she comes back.
		c.setRunning(t, name, false)
		poll(t, time.Minute, 500*time.Millisecond, "the OOM-killed workspace stopped", func() (bool, string) {
			w := c.workspace(t, name)
			return w.Status.Phase == codehubv1.PhaseStopped && len(c.workspacePods(t, name)) == 0, string(w.Status.Phase)
		})
		w = c.workspace(t, name)
		patch := client.MergeFrom(w.DeepCopy())
		w.Spec.Resources = defaults.Resources
		if err := c.client.Patch(ctx, w, patch); err != nil {
			t.Fatal(err)
		}
		cookie := "session=" + c.platform.session(t, "small-mem")
		var page string
		poll(t, 60*time.Second, 250*time.Millisecond, "the next start's progress page with the steps and the previous run", func() (bool, string) {
			status, body := c.visit(t, cookie)
			page = body
			return status == http.StatusServiceUnavailable && strings.Contains(body, "Last time, code-server ran out of memory (limit 48Mi)") &&
				strings.Contains(body, "✓ Scheduling"), fmt.Sprintf("%d %s", status, squash(body))
		})
		if !strings.Contains(page, "Starting your workspace") {
			t.Errorf("not a progress page:\n%s", squash(page))
		}
		w = c.workspace(t, name)
		if st := w.Status.Start; st == nil || st.PreviousRun == nil || st.PreviousRun.Reason != "OOMKilled" {
			t.Errorf("status.start of the next start = %+v, want previousRun OOMKilled", st)
		}
		poll(t, 2*time.Minute, 500*time.Millisecond, "the next start Running", func() (bool, string) {
			w := c.workspace(t, name)
			return w.Status.Phase == codehubv1.PhaseRunning, string(w.Status.Phase) + ": " + w.Status.Message
		})
		st := c.workspace(t, name).Status.Start
		t.Logf("measured: a start's steps (seconds, the cluster's clock): created %s, scheduled +%s, container started +%s, ready +%s",
			st.CreatedAt.UTC().Format("15:04:05"), st.ScheduledAt.Sub(st.CreatedAt.Time), st.ContainerStartedAt.Sub(st.CreatedAt.Time), st.ReadyAt.Sub(st.CreatedAt.Time))
	})

	// Free the node for the other tests.
	for _, cs := range cases {
		c.setRunning(t, identity.WorkspaceName(cs.user), false)
	}
	if t.Failed() {
		c.dumpPods(t)
		c.componentLogs(t)
	}
}

// workspaceDefaults is the Workspace spec the installed chart gives new users (its
// workspace-defaults ConfigMap, as the gateway reads it).
func (c *cluster) workspaceDefaults(t testing.TB) *codehubv1.WorkspaceSpec {
	t.Helper()
	cm := &corev1.ConfigMap{}
	if err := c.client.Get(context.Background(), client.ObjectKey{Namespace: namespace, Name: release + "-codehub-workspace-defaults"}, cm); err != nil {
		t.Fatal(err)
	}
	var fc kubernetes.FileConfig
	if err := yaml.UnmarshalStrict([]byte(cm.Data["workspace-defaults.yaml"]), &fc); err != nil {
		t.Fatal(err)
	}
	if len(fc.Workspace.Mounts) == 0 || fc.Workspace.Mounts[0].V3IO == nil || fc.Workspace.Resources.Requests == nil || fc.Workspace.Resources.Limits == nil {
		t.Fatalf("unexpected chart defaults: %+v", fc.Workspace)
	}
	return &fc.Workspace
}

func (c *cluster) setRunning(t testing.TB, name string, running bool) {
	t.Helper()
	w := c.workspace(t, name)
	patch := client.MergeFrom(w.DeepCopy())
	w.Spec.Running = running
	if err := c.client.Patch(context.Background(), w, patch); err != nil {
		t.Fatal(err)
	}
}

// visit is a page visit to the gateway's main host with the platform's session cookie; it
// returns the status and the HTML-unescaped body.
func (c *cluster) visit(t testing.TB, cookie string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest("GET", "http://"+mainHost+"/", nil)
	req.Header.Set("Cookie", cookie)
	req.Header.Set("Accept", "text/html")
	req.Header.Set("Sec-Fetch-Mode", "navigate")
	req.Header.Set("Sec-Fetch-Dest", "document")
	resp, err := c.httpClient().Do(req)
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	return resp.StatusCode, html.UnescapeString(string(b))
}

// squash is a page's text on one line, for messages.
func squash(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > 1200 {
		s = s[:1200] + "…"
	}
	return s
}
