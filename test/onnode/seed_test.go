package onnode

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	codehubv1 "github.com/codehub-dev/codehub/api/v1alpha1"
	"github.com/codehub-dev/codehub/internal/identity"
	"github.com/codehub-dev/codehub/internal/testnode"
)

// TestSeedInstall is the seed's install and its user's day, for real: helm install of the
// chart with the seed's single-user values (forward auth against the platform stand-in, v3io
// on, NodePort on) into default-tenant; a real Chromium signs in through the platform and the
// gateway's Service; the gateway creates alice's Workspace, the operator its objects, the
// kubelet runs the workspace pod from the workspace image as her platform uid; a file typed
// and saved in the editor lands on her home PV; /v3io and /User are FUSE mounts made by the
// kubelet through the v3io/fuse flexVolume driver, and a file saved under /User lands in
// v3io, a change to it from another process shows in the open editor, while code-server's
// own state stays on the PV; kubectl in her terminal can list pods in her namespace and not in
// another; she signs in again through the NodePort (pod warm); the operator stops the idle
// workspace (spec.idleTimeout) — pod gone, PVC kept; her next visit wakes it with the file
// there; helm uninstall keeps her Workspace and PVC.
func TestSeedInstall(t *testing.T) {
	c := nodeFor(t)
	alice := c.user(t, "alice", 2001)
	ws := identity.WorkspaceName(alice.Name)
	base := "codehub-" + ws
	ctx := context.Background()

	// Her files before the first sign-in: one in the home the PV holds, one on v3io.
	const homeFile, v3ioFile = "notes.md", "shared.md"
	writeAs(t, filepath.Join(c.homeDir(alice.Name), homeFile), "# notes\n", alice.UID)
	writeAs(t, filepath.Join(c.v3ioDir(alice.Name), v3ioFile), "# on v3io\n", alice.UID)

	c.install(t)

	var pod *corev1.Pod
	b := c.browser(t, "service", 10*time.Minute)
	if !t.Run("SignInThroughTheService", func(t *testing.T) {
		created := time.Now()
		took := b.signIn(t, "http://"+mainHost+"/", alice)
		t.Logf("measured: sign-in → workbench visible, pod cold (new Workspace), through the Service: %.1fs", took.Seconds())
		if host := b.eval(`location.host`); host != mainHost {
			t.Errorf("the workbench is served on %q, want %q", host, mainHost)
		}
		w := c.workspace(t, ws)
		if w.Spec.User != alice.Name || w.Spec.UID == nil || *w.Spec.UID != int64(alice.UID) || w.Spec.GID == nil || *w.Spec.GID != int64(alice.GID) {
			t.Errorf("Workspace spec = user %q uid %v gid %v, want the platform's %s %d:%d", w.Spec.User, w.Spec.UID, w.Spec.GID, alice.Name, alice.UID, alice.GID)
		}
		if w.Status.Phase != codehubv1.PhaseRunning {
			t.Errorf("Workspace phase %s, want Running", w.Status.Phase)
		}
		pod = c.workspacePod(t, ws)
		if img := pod.Status.ContainerStatuses[0].Image; !strings.Contains(img, "codehub-workspace:latest") {
			t.Errorf("workspace container image %s", img)
		}
		if sc := pod.Spec.SecurityContext; sc.RunAsUser == nil || *sc.RunAsUser != int64(alice.UID) {
			t.Errorf("pod runs as %v, want %d", sc.RunAsUser, alice.UID)
		}
		logStart(t, pod, created)
	}) {
		return
	}

	t.Run("FileSavedInTheEditorLandsOnTheHomePV", func(t *testing.T) {
		b.openFile(t, homeFile, "# notes")
		const typed = "typed in the browser on the node"
		b.typeAndSave(t, typed)
		host := filepath.Join(c.homeDir(alice.Name), homeFile)
		poll(t, 30*time.Second, 250*time.Millisecond, "the saved file on the PV's host directory", func() (bool, string) {
			b, err := os.ReadFile(host)
			return err == nil && strings.Contains(string(b), typed), string(b)
		})
		if uid := ownerUID(t, host); uid != alice.UID {
			t.Errorf("%s is owned by uid %d, want %d", host, uid, alice.UID)
		}
	})

	t.Run("V3IOMountsAreFUSEAndCodeServerStateIsNot", func(t *testing.T) {
		mounts := mountinfo(t, c, pod)
		for _, p := range []string{"/v3io", "/User"} {
			if fs := mounts.fsAt(p); fs != "fuse.v3io" {
				t.Errorf("%s in the pod is %q, want fuse.v3io (the flexVolume driver's mount)", p, fs)
			}
		}
		for _, p := range []string{"/home/codehub/.local/share/codehub/user-data", "/home/codehub/.local/share/codehub/extensions"} {
			if fs := mounts.fsAt(p); strings.HasPrefix(fs, "fuse") {
				t.Errorf("%s is on %s: code-server's state must stay off FUSE", p, fs)
			}
		}
		// ... and on the home PV, with the image's extensions installed there.
		state := filepath.Join(c.homeDir(alice.Name), ".local", "share", "codehub")
		if exts, _ := filepath.Glob(filepath.Join(state, "extensions", "codehub-test.hello-*")); len(exts) == 0 {
			t.Errorf("no codehub-test.hello extension under %s/extensions on the PV", state)
		}
		if _, err := os.Stat(filepath.Join(state, "user-data")); err != nil {
			t.Errorf("code-server's user data is not on the PV: %v", err)
		}
		calls := driverCalls(t)
		if !strings.Contains(calls, "init") || !strings.Contains(calls, "mount /") {
			t.Errorf("the kubelet did not call the v3io/fuse driver (init, mount):\n%s", calls)
		}
		if !strings.Contains(calls, fmt.Sprintf("fsGroup=%q", fmt.Sprint(alice.GID))) {
			t.Errorf("the kubelet did not pass the pod's fsGroup to the driver:\n%s", calls)
		}
		// The kubelet applied the pod's fsGroup to the FUSE tree (the driver does not opt out,
		// as a real driver may not): the mount's root now has her group. With
		// fsGroupChangePolicy OnRootMismatch that happens only while the root's group differs
		// (checked again at the wake below).
		if gid := ownerGID(t, filepath.Join(c.dir, "v3io")); gid != alice.GID {
			t.Errorf("v3io root group %d after the start, want the fsGroup %d (the kubelet's fsGroup walk of the flexVolume)", gid, alice.GID)
		}
	})

	// A second tab (the first would ask before leaving) opens /User; the terminal runs there.
	ub := b.tab(t, "user-folder")
	t.Run("FileUnderUserLandsInV3IOAndExternalChangesShow", func(t *testing.T) {
		ub.do(t, "open /User", chromedp.Navigate("http://"+mainHost+"/?folder=/User"))
		ub.waitWorkbench(t)
		ub.openFile(t, v3ioFile, "# on v3io")
		const typed = "saved through FUSE"
		ub.typeAndSave(t, typed)
		host := filepath.Join(c.v3ioDir(alice.Name), v3ioFile)
		poll(t, 30*time.Second, 250*time.Millisecond, "the saved file in the v3io stand-in's directory", func() (bool, string) {
			b, err := os.ReadFile(host)
			return err == nil && strings.Contains(string(b), typed), string(b)
		})
		// Another process writes the file through the same mount (a terminal, a notebook
		// kernel in the pod): the open editor shows the change. The save must be complete
		// first (VS Code ignores a change that arrives while it is still saving).
		ub.waitFor(t, 30*time.Second, "the save to complete", `String(document.querySelectorAll('.tabs-container .tab.dirty').length)`,
			func(s string) bool { return s == "0" })
		const external = "appended by another process"
		for attempt := 1; ; attempt++ {
			line := fmt.Sprintf("%s (%d)", external, attempt)
			if out, err := c.node.KubectlCmd(ctx, "-n", namespace, "exec", pod.Name, "--", "sh", "-c", "echo '"+line+"' >> /User/"+v3ioFile); err != nil {
				t.Fatalf("append through the pod's mount: %v %s", err, out)
			}
			if _, ok := ub.tryFor(20*time.Second, editorJS, func(s string) bool { return strings.Contains(s, line) }); ok {
				if attempt > 1 {
					t.Logf("the external change showed on attempt %d", attempt)
				}
				break
			}
			if attempt == 3 {
				ub.screenshot(t, "failed")
				t.Fatalf("three changes through the pod's mount never showed in the open editor")
			}
		}
	})

	t.Run("WithoutTheGatewayOnlyCodeServersLogin", func(t *testing.T) {
		// The NetworkPolicy admits only gateway pods, but this node's CNI (bridge) enforces no
		// NetworkPolicy: a workspace pod reaches the workspace Service (by its cluster DNS
		// name) — and gets code-server's login redirect, not the workbench: the per-workspace
		// credential, which only the gateway holds, is the wall that holds here.
		url := fmt.Sprintf("http://%s.%s.svc:8080", base, namespace)
		out, err := c.node.KubectlCmd(ctx, "-n", namespace, "exec", pod.Name, "--", "sh", "-c",
			"curl -s -o /dev/null -w '%{http_code} %{redirect_url}\\n' "+url+"/ ; curl -s -o /dev/null -w '%{http_code}\\n' "+url+"/healthz")
		if err != nil {
			t.Fatalf("curl from the workspace pod: %v %s", err, out)
		}
		lines := strings.Fields(out)
		if len(lines) < 3 || lines[0] != "302" || !strings.Contains(lines[1], "/login") || lines[2] != "200" {
			t.Errorf("a pod without the credential: %q, want 302 to code-server's login (and /healthz 200)", out)
		}
	})

	t.Run("ServiceAccountListsPodsInItsNamespaceOnly", func(t *testing.T) {
		ub.terminal(t, fmt.Sprintf("kubectl get pods -n %s -o name > ~/own-ns.txt 2>&1; kubectl get pods -n kube-system > ~/other-ns.txt 2>&1; echo done > ~/kubectl-done.txt", namespace))
		home := c.homeDir(alice.Name)
		poll(t, 60*time.Second, 250*time.Millisecond, "the terminal's kubectl run", func() (bool, string) {
			_, err := os.Stat(filepath.Join(home, "kubectl-done.txt"))
			return err == nil, fmt.Sprint(err)
		})
		own, _ := os.ReadFile(filepath.Join(home, "own-ns.txt"))
		other, _ := os.ReadFile(filepath.Join(home, "other-ns.txt"))
		if !strings.Contains(string(own), "pod/"+base) {
			t.Errorf("kubectl get pods in %s from the workspace terminal:\n%s", namespace, own)
		}
		if !strings.Contains(string(other), "Forbidden") || !strings.Contains(string(other), "system:serviceaccount:"+namespace+":"+base) {
			t.Errorf("kubectl get pods in kube-system from the workspace terminal, want Forbidden for its ServiceAccount:\n%s", other)
		}
	})
	b.close()

	t.Run("SignInThroughTheNodePort", func(t *testing.T) {
		nb := c.browser(t, "nodeport", 5*time.Minute)
		// A new browser: the NodePort URL sends her to the platform's sign-in, which returns
		// her to the public URL (--public-url, the Ingress host); the platform's cookie is for
		// the whole domain, so the NodePort under node.codehub.test is signed in too.
		start := fmt.Sprintf("http://%s:%d/", nodeHost, c.nodePort)
		nb.signIn(t, start, alice)
		nb.do(t, "open the NodePort URL", chromedp.Navigate(start))
		navigated := time.Now()
		nb.waitWorkbench(t)
		t.Logf("measured: NodePort navigation → workbench visible, pod warm: %.1fs", time.Since(navigated).Seconds())
		if host := nb.eval(`location.host`); host != fmt.Sprintf("%s:%d", nodeHost, c.nodePort) {
			t.Errorf("workbench on %q, want the NodePort", host)
		}
		nb.close()
	})

	if !t.Run("IdleStopKeepsThePVC", func(t *testing.T) {
		// The operator alone stops idle workspaces on Kubernetes: spec.idleTimeout counted
		// from status.lastActivityTime (the chart's workspaceDefaults.idleTimeout, 1h, would
		// take too long; the test shortens it on her Workspace, as an admin may).
		w := c.workspace(t, ws)
		patch := client.MergeFrom(w.DeepCopy())
		w.Spec.IdleTimeout = &metav1.Duration{Duration: 15 * time.Second}
		if err := c.client.Patch(ctx, w, patch); err != nil {
			t.Fatal(err)
		}
		took := poll(t, 2*time.Minute, 500*time.Millisecond, "the idle stop", func() (bool, string) {
			w := c.workspace(t, ws)
			return !w.Spec.Running && w.Status.Phase == codehubv1.PhaseStopped, fmt.Sprintf("running=%v phase=%s", w.Spec.Running, w.Status.Phase)
		})
		t.Logf("idle stop after the timeout was set: %.1fs", took.Seconds())
		// Stopped by the operator's idle rule, and not before the timeout had passed since the
		// last activity the gateway recorded.
		stopAt, ok := c.eventTime(t, ws, "IdleStop")
		if !ok {
			t.Errorf("no IdleStop event on the Workspace: not stopped by the operator's idle timeout")
		} else if last := c.workspace(t, ws).Status.LastActivityTime; last == nil || stopAt.Before(last.Add(15*time.Second-time.Second)) {
			t.Errorf("idle stop at %s, last activity %v: stopped before the idle timeout", stopAt, last)
		}
		poll(t, time.Minute, 500*time.Millisecond, "the workspace pod gone", func() (bool, string) {
			pods := c.workspacePods(t, ws)
			return len(pods) == 0, fmt.Sprintf("%d pods", len(pods))
		})
		pvc := &corev1.PersistentVolumeClaim{}
		if err := c.client.Get(ctx, client.ObjectKey{Namespace: namespace, Name: base + "-home"}, pvc); err != nil || pvc.Status.Phase != corev1.ClaimBound {
			t.Errorf("home PVC after the idle stop: %v %v", pvc.Status.Phase, err)
		}
		// Back to the chart's idle timeout, or the operator stops her woken workspace 15 s
		// after it starts.
		w = c.workspace(t, ws)
		patch = client.MergeFrom(w.DeepCopy())
		w.Spec.IdleTimeout = c.workspaceDefaults(t).IdleTimeout
		if err := c.client.Patch(ctx, w, patch); err != nil {
			t.Fatal(err)
		}
		// While she is away, the platform writes a file of another group into her v3io home.
		p := filepath.Join(c.v3ioDir(alice.Name), "from-the-platform.txt")
		writeAs(t, p, "written while the workspace was stopped\n", alice.UID)
		if err := os.Chown(p, alice.UID, 0); err != nil {
			t.Fatal(err)
		}
	}) {
		return
	}

	t.Run("NextVisitWakesItWithTheFile", func(t *testing.T) {
		wb := c.browser(t, "wake", 6*time.Minute)
		took := wb.signIn(t, "http://"+mainHost+"/", alice)
		t.Logf("measured: sign-in → workbench visible, pod cold (stopped Workspace), through the Service: %.1fs", took.Seconds())
		wb.holds(t, 15*time.Second)
		// The second start did not walk the v3io tree again (fsGroupChangePolicy
		// OnRootMismatch: its root has her group already): the platform's file keeps its group.
		if gid := ownerGID(t, filepath.Join(c.v3ioDir(alice.Name), "from-the-platform.txt")); gid != 0 {
			t.Errorf("a v3io file's group became %d at the workspace's start: the kubelet re-grouped the FUSE tree", gid)
		}
		// code-server reopens the folder last opened (/User); the home is one URL away.
		hb := wb.tab(t, "wake-home")
		hb.do(t, "open the home folder", chromedp.Navigate("http://"+mainHost+"/?folder=/home/codehub"))
		hb.waitWorkbench(t)
		hb.openFile(t, homeFile, "typed in the browser on the node")
		wb.close()
	})

	if t.Failed() || os.Getenv("ONNODE_LOGS") != "" {
		c.dumpPods(t)
		c.componentLogs(t)
	}

	t.Run("UninstallKeepsWorkspaceAndPVC", func(t *testing.T) {
		c.uninstall(t)
		if err := c.client.Get(ctx, client.ObjectKey{Namespace: namespace, Name: ws}, &codehubv1.Workspace{}); err != nil {
			t.Errorf("Workspace after helm uninstall: %v", err)
		}
		if err := c.client.Get(ctx, client.ObjectKey{Namespace: namespace, Name: base + "-home"}, &corev1.PersistentVolumeClaim{}); err != nil {
			t.Errorf("home PVC after helm uninstall: %v", err)
		}
		crd := &apiextensionsv1.CustomResourceDefinition{}
		if err := c.client.Get(ctx, client.ObjectKey{Name: "workspaces.codehub.io"}, crd); err != nil {
			t.Errorf("Workspace CRD after helm uninstall: %v", err)
		}
		for _, name := range []string{release + "-codehub-gateway", release + "-codehub-operator"} {
			err := c.client.Get(ctx, client.ObjectKey{Namespace: namespace, Name: name}, &appsv1.Deployment{})
			if err == nil {
				t.Errorf("Deployment %s still there after helm uninstall", name)
			}
		}
	})
}

// workspace reads a Workspace.
func (c *cluster) workspace(t testing.TB, name string) *codehubv1.Workspace {
	t.Helper()
	w := &codehubv1.Workspace{}
	if err := c.client.Get(context.Background(), client.ObjectKey{Namespace: namespace, Name: name}, w); err != nil {
		t.Fatalf("Workspace %s: %v", name, err)
	}
	return w
}

func (c *cluster) workspacePods(t testing.TB, ws string) []corev1.Pod {
	t.Helper()
	pods, err := c.node.Client.CoreV1().Pods(namespace).List(context.Background(), metav1.ListOptions{LabelSelector: "app.kubernetes.io/instance=codehub-" + ws})
	if err != nil {
		t.Fatal(err)
	}
	return pods.Items
}

// workspacePod is the one Running pod of ws.
func (c *cluster) workspacePod(t testing.TB, ws string) *corev1.Pod {
	t.Helper()
	var pod *corev1.Pod
	poll(t, time.Minute, 250*time.Millisecond, "the workspace pod Running", func() (bool, string) {
		var states []string
		for _, p := range c.workspacePods(t, ws) {
			if p.Status.Phase == corev1.PodRunning && p.DeletionTimestamp == nil && len(p.Status.ContainerStatuses) > 0 {
				pod = &p
				return true, ""
			}
			states = append(states, p.Name+" "+string(p.Status.Phase))
		}
		return false, strings.Join(states, ", ")
	})
	return pod
}

// eventTime is when the last event with reason about object happened.
func (c *cluster) eventTime(t testing.TB, object, reason string) (time.Time, bool) {
	t.Helper()
	events, err := c.node.Client.CoreV1().Events(namespace).List(context.Background(), metav1.ListOptions{FieldSelector: "involvedObject.name=" + object})
	if err != nil {
		t.Fatal(err)
	}
	var at time.Time
	found := false
	for _, e := range events.Items {
		if e.Reason != reason {
			continue
		}
		found = true
		for _, ts := range []time.Time{e.EventTime.Time, e.LastTimestamp.Time, e.FirstTimestamp.Time} {
			if ts.After(at) {
				at = ts
			}
		}
	}
	return at, found
}

// logStart logs the pod's start as the cluster recorded it.
func logStart(t testing.TB, pod *corev1.Pod, requested time.Time) {
	t.Helper()
	at := map[corev1.PodConditionType]time.Time{}
	for _, c := range pod.Status.Conditions {
		at[c.Type] = c.LastTransitionTime.Time
	}
	t.Logf("measured: pod created %+.1fs, scheduled %+.1fs, containers ready %+.1fs (from the sign-in)",
		pod.CreationTimestamp.Sub(requested).Seconds(), at[corev1.PodScheduled].Sub(requested).Seconds(), at[corev1.PodReady].Sub(requested).Seconds())
}

// mounts is a pod's /proc/self/mountinfo: mount point → file system type.
type mounts map[string]string

func mountinfo(t testing.TB, c *cluster, pod *corev1.Pod) mounts {
	t.Helper()
	out, err := c.node.KubectlCmd(context.Background(), "-n", namespace, "exec", pod.Name, "--", "cat", "/proc/self/mountinfo")
	if err != nil {
		t.Fatalf("mountinfo of %s: %v %s", pod.Name, err, out)
	}
	m := mounts{}
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		for i := range f {
			if f[i] == "-" && i+1 < len(f) && len(f) > 4 {
				m[f[4]] = f[i+1]
			}
		}
	}
	return m
}

// fsAt is the type of the file system path is on (the longest mount point above it).
func (m mounts) fsAt(path string) string {
	best := ""
	for mp := range m {
		if (path == mp || strings.HasPrefix(path, strings.TrimSuffix(mp, "/")+"/")) && len(mp) > len(best) {
			best = mp
		}
	}
	return m[best]
}

func driverCalls(t testing.TB) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(testnode.V3IODriverDir(), "calls.log"))
	if err != nil {
		t.Fatalf("the v3io driver's call log: %v", err)
	}
	return string(b)
}

func writeAs(t testing.TB, path, content string, uid int) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(path, uid, uid); err != nil {
		t.Fatal(err)
	}
}

func ownerGID(t testing.TB, path string) int {
	t.Helper()
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return int(st.Sys().(*syscall.Stat_t).Gid)
}

func ownerUID(t testing.TB, path string) int {
	t.Helper()
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return int(st.Sys().(*syscall.Stat_t).Uid)
}
