package e2e

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	codehubv1 "github.com/codehub-dev/codehub/api/v1alpha1"
	"github.com/codehub-dev/codehub/internal/backend/kubernetes"
	"github.com/codehub-dev/codehub/internal/controller/ctrltest"
	gw "github.com/codehub-dev/codehub/internal/gateway"
	"github.com/codehub-dev/codehub/internal/identity"
	"github.com/codehub-dev/codehub/internal/testkit"
	"github.com/codehub-dev/codehub/internal/testkit/kubetest"
	"github.com/codehub-dev/codehub/internal/workbench"
	"github.com/codehub-dev/codehub/internal/workspacebuild"
)

// countingClient counts the status writes a gateway replica makes (activity records).
type countingClient struct {
	client.Client
	statusWrites atomic.Int64
}

func (c *countingClient) Status() client.SubResourceWriter {
	return countingStatus{SubResourceWriter: c.Client.Status(), n: &c.statusWrites}
}

type countingStatus struct {
	client.SubResourceWriter
	n *atomic.Int64
}

func (s countingStatus) Patch(ctx context.Context, obj client.Object, patch client.Patch, opts ...client.SubResourcePatchOption) error {
	s.n.Add(1)
	return s.SubResourceWriter.Patch(ctx, obj, patch, opts...)
}

func (s countingStatus) Update(ctx context.Context, obj client.Object, opts ...client.SubResourceUpdateOption) error {
	s.n.Add(1)
	return s.SubResourceWriter.Update(ctx, obj, opts...)
}

// replica is one gateway process of a Kubernetes deployment (in this test process: the
// replicas share the session key and users, as the chart's replicas do).
type replica struct {
	gw     *gw.Gateway
	srv    *httptest.Server
	client *countingClient
}

type k8sDeployment struct {
	ns       string
	c        client.Client
	replicas []*replica
}

// newK8sDeployment: an apiserver, the operator, and n gateway replicas whose Workspaces
// get idleTimeout and whose code-server "pod" is endpoint.
func newK8sDeployment(t *testing.T, n int, idleTimeout, activityInterval time.Duration, endpoint *url.URL) *k8sDeployment {
	t.Helper()
	d := &k8sDeployment{c: kubetest.Client(t)}
	d.ns = kubetest.Namespace(t, d.c, nil)
	ctrltest.RunManager(t, d.ns)
	state := newGatewayState(t, "alice")
	for range n {
		kc, err := kubernetes.NewClient(kubetest.Config(t))
		if err != nil {
			t.Fatal(err)
		}
		cc := &countingClient{Client: kc}
		be := kubernetesBackend(t, kubernetes.Config{
			Client: cc, Namespace: d.ns, ActivityInterval: activityInterval,
			Defaults: codehubv1.WorkspaceSpec{Image: "codehub-workspace:test", IdleTimeout: &metav1.Duration{Duration: idleTimeout}},
			Endpoint: func(*codehubv1.Workspace) (*url.URL, error) { return endpoint, nil },
		})
		logs := &testkit.Buffer{}
		g, srv := state.serve(t, be, gw.Config{ActivityFlush: time.Second,
			Logger: slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))})
		t.Cleanup(func() {
			if t.Failed() {
				t.Logf("gateway replica %s log:\n%s", srv.URL, logs.String())
			}
		})
		d.replicas = append(d.replicas, &replica{gw: g, srv: srv, client: cc})
	}
	return d
}

// playKubelet marks the workspace Deployments available until the test ends.
func (d *k8sDeployment) playKubelet(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	go func() {
		for ctx.Err() == nil {
			var deps appsv1.DeploymentList
			if d.c.List(ctx, &deps, client.InNamespace(d.ns)) == nil {
				for i := range deps.Items {
					dep := &deps.Items[i]
					if *dep.Spec.Replicas == 1 && dep.Status.AvailableReplicas != 1 {
						_ = kubetest.MarkAvailable(ctx, d.c, dep)
					} else if *dep.Spec.Replicas == 0 && dep.Status.Replicas != 0 {
						_ = kubetest.MarkScaledDown(ctx, d.c, dep)
					}
				}
			}
			time.Sleep(200 * time.Millisecond) // polling the apiserver as a kubelet would
		}
	}()
}

func (d *k8sDeployment) workspace(t *testing.T) *codehubv1.Workspace {
	t.Helper()
	ws := &codehubv1.Workspace{}
	if err := d.c.Get(context.Background(), client.ObjectKey{Namespace: d.ns, Name: identity.WorkspaceName("alice")}, ws); err != nil {
		t.Fatal(err)
	}
	return ws
}

// TestKubernetesTwoReplicasOneStopper: two gateway replicas, alice's traffic through the
// first only. While she types (every 20 s, for 1.5 idle timeouts) the operator keeps
// her Workspace running from status.lastActivityTime, which the first replica writes at its
// bounded rate and the second never touches; the second replica has no way to stop it.
// When she stops typing, the operator stops it one idle timeout after her last keystroke.
func TestKubernetesTwoReplicasOneStopper(t *testing.T) {
	t.Parallel() // with the idle tests that mostly wait (parallelUIDs)
	chromiumPath := testkit.Chromium(t)
	// A keystroke reaches lastActivityTime within one interval, so typing every 20 s keeps
	// the mark within 30 s of now: under the timeout.
	const timeout, interval = 40 * time.Second, 10 * time.Second
	cs := runCodeServer(t)
	d := newK8sDeployment(t, 2, timeout, interval, cs)
	d.playKubelet(t)
	a, b := d.replicas[0], d.replicas[1]

	wb, err := workbench.Launch(chromiumPath, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(wb.Close)
	if err := os.WriteFile(filepath.Join(servedDir(t, cs), "hello.py"), []byte("print('hi')\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := wb.SignIn(a.srv.URL, "alice", "alice-password", 4*time.Minute); err != nil {
		t.Fatal(err)
	}
	if err := wb.OpenFile("hello.py"); err != nil {
		t.Fatal(err)
	}
	aBefore, bBefore := a.client.statusWrites.Load(), b.client.statusWrites.Load()
	start := time.Now()
	var last time.Time
	for time.Since(start) < 3*timeout/2 {
		last = time.Now()
		if err := wb.TypeInEditor("x"); err != nil {
			t.Fatal(err)
		}
		for until := last.Add(20 * time.Second); time.Now().Before(until); time.Sleep(time.Second) { // a person typing every 20 s
			if ws := d.workspace(t); !ws.Spec.Running {
				t.Fatalf("stopped %s into typing; lastActivityTime %v", time.Since(start).Round(time.Second), ws.Status.LastActivityTime)
			}
		}
	}
	typing := time.Since(start)
	aWrites, bWrites := a.client.statusWrites.Load()-aBefore, b.client.statusWrites.Load()-bBefore
	if aWrites == 0 || bWrites != 0 {
		t.Fatalf("activity writes while typing: replica with the traffic %d, the other %d", aWrites, bWrites)
	}
	ws := d.workspace(t)
	if ws.Status.LastActivityTime == nil || ws.Status.LastActivityTime.Time.Before(last.Add(-interval-5*time.Second)) {
		t.Fatalf("lastActivityTime %v, last keystroke %v", ws.Status.LastActivityTime, last)
	}
	t.Logf("measured: %d activity writes in %s of typing every 20 s (activityInterval %s): %.0f per active workspace per hour; the other replica wrote %d",
		aWrites, typing.Round(time.Second), interval, float64(aWrites)/typing.Hours(), bWrites)

	// She stops typing: the operator stops it.
	testkit.Eventually(t, timeout+interval+2*time.Minute, "the operator's idle stop", func() error {
		if ws := d.workspace(t); ws.Spec.Running {
			return fmt.Errorf("running; lastActivityTime %v", ws.Status.LastActivityTime)
		}
		return nil
	})
	stopped := time.Now()
	ws = d.workspace(t)
	deadline := ws.Status.LastActivityTime.Add(timeout)
	if stopped.Before(deadline) {
		t.Fatalf("stopped at %v, before lastActivityTime+idleTimeout %v", stopped, deadline)
	}
	t.Logf("measured: operator stopped it %s after lastActivityTime+idleTimeout (last keystroke %s before that mark)",
		stopped.Sub(deadline).Round(100*time.Millisecond), ws.Status.LastActivityTime.Sub(last).Round(time.Second))
	if n := b.client.statusWrites.Load() - bBefore; n != 0 {
		t.Fatalf("the replica without traffic wrote %d times", n)
	}
}

// servedDir is the folder runCodeServer's code-server opens.
func servedDir(t *testing.T, cs *url.URL) string {
	t.Helper()
	c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := c.Get(cs.String() + "/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	folder, _ := url.QueryUnescape(strings.TrimPrefix(resp.Header.Get("Location"), "./?folder="))
	if folder == "" {
		t.Fatalf("code-server's folder: Location %q", resp.Header.Get("Location"))
	}
	return folder
}

// TestKubernetesBusyPodKeepsWorkspace: a workspace "pod" started as the operator's pods
// start (the real codehub-init with --auth password, the credential from the Workspace's
// Secret, CODEHUB_AGENT_URL and CODEHUB_REPORT_BUSY from the Deployment) reports busy CPU
// to a gateway replica, which writes it to status.lastActivityTime: no browser is needed
// for a job to keep the workspace running. Idle, it reports nothing.
func TestKubernetesBusyPodKeepsWorkspace(t *testing.T) {
	const uid = 65031
	d := newK8sDeployment(t, 1, time.Hour, time.Second, &url.URL{Scheme: "http", Host: "127.0.0.1:1"})
	d.playKubelet(t)
	g := d.replicas[0]
	// Create alice's Workspace through the gateway's backend and let the operator run it.
	jar := newBrowser(t, g.srv.URL)
	jar.login(t, "alice", "alice-password")
	jar.navigate(t, "/")
	kubetest.Eventually(t, "alice's Workspace Running", func() error {
		if ws := d.workspace(t); ws.Status.Phase != codehubv1.PhaseRunning {
			return fmt.Errorf("phase %q", ws.Status.Phase)
		}
		return nil
	})
	secret := &corev1.Secret{}
	ws := d.workspace(t)
	if err := d.c.Get(context.Background(), client.ObjectKey{Namespace: d.ns, Name: workspacebuild.CredentialSecretName(ws)}, secret); err != nil {
		t.Fatal(err)
	}
	credential := string(secret.Data[workspacebuild.CredentialKey])

	// The pod's filesystem: codehub-init and code-server the pod's uid can run, its home.
	dir := testkit.TraversableTempDir(t)
	for _, p := range []string{"bin", "home"} {
		if err := os.MkdirAll(filepath.Join(dir, p), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if out, err := exec.Command("cp", filepath.Join(filepath.Dir(codehubBinary(t)), "codehub-init"), filepath.Join(dir, "bin")).CombinedOutput(); err != nil {
		t.Fatalf("cp codehub-init: %v %s", err, out)
	}
	csTree := filepath.Dir(testkit.CodeServer(t))
	if out, err := exec.Command("cp", "-al", csTree, filepath.Join(dir, "code-server")).CombinedOutput(); err != nil {
		t.Fatalf("cp -al code-server: %v %s", err, out)
	}
	if out, err := exec.Command("find", filepath.Join(dir, "code-server"), "-type", "d", "-exec", "chmod", "755", "{}", "+").CombinedOutput(); err != nil {
		t.Fatalf("chmod: %v %s", err, out)
	}
	if err := os.Chown(filepath.Join(dir, "home"), uid, uid); err != nil {
		t.Fatal(err)
	}
	port := freePort(t)
	cmd := exec.Command(filepath.Join(dir, "bin", "codehub-init"), "--code-server", filepath.Join(dir, "code-server", filepath.Base(testkit.CodeServer(t))),
		"--bind-addr", fmt.Sprintf("127.0.0.1:%d", port), "--auth", "password", "--home", filepath.Join(dir, "home"),
		"--serviceaccount-dir", filepath.Join(dir, "none"), "--builtin-extensions-dir", filepath.Join(dir, "none"),
		"--codehub-extension=false", "--conda-base", filepath.Join(dir, "none"))
	cmd.Env = []string{"HOME=" + filepath.Join(dir, "home"), "PATH=/usr/bin:/bin", "CODEHUB_USER=alice", workspacebuild.EnvCredential + "=" + credential,
		"CODEHUB_AGENT_URL=" + g.srv.URL, workspacebuild.EnvReportBusy + "=true", "CODEHUB_BUSY_INTERVAL=2s"}
	var logs testkit.Buffer
	cmd.Stdout, cmd.Stderr = &logs, &logs
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Credential: &syscall.Credential{Uid: uid, Gid: uid, NoSetGroups: true}}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		cmd.Wait()
		if t.Failed() {
			t.Logf("pod log:\n%s", logs.String())
		}
	})
	eventually(t, 2*time.Minute, "the pod's code-server", func() bool {
		resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/healthz", port))
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == 200 && strings.Contains(logs.String(), "busy reporter")
	})
	mark := func() time.Time {
		if a := d.workspace(t).Status.LastActivityTime; a != nil {
			return a.Time
		}
		return time.Time{}
	}
	// Idle: a few sampling intervals (code-server's own start-up CPU may count once).
	time.Sleep(6 * time.Second) // observation window: three reporter samples
	idle := mark()
	time.Sleep(6 * time.Second) // observation window: three more
	if m := mark(); !m.Equal(idle) {
		t.Fatalf("an idle pod reported busy work: lastActivityTime %v → %v\n%s", idle, m, logs.String())
	}
	busy := exec.Command("sh", "-c", "while :; do :; done")
	busy.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uid, Gid: uid, NoSetGroups: true}}
	if err := busy.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { busy.Process.Kill(); busy.Wait() })
	started := time.Now()
	eventually(t, 30*time.Second, "a busy report in lastActivityTime", func() bool { return mark().After(idle) && !mark().Before(started.Truncate(time.Second)) })
	t.Logf("measured: busy loop to lastActivityTime %s (reporter interval 2 s)", time.Since(started).Round(100*time.Millisecond))
	if bytes.Contains([]byte(logs.String()), []byte(credential)) {
		t.Fatal("the pod log shows the credential")
	}
}
