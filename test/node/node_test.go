// Package node runs the real test node (internal/testnode) with the workspace image built by
// scripts/build-images.sh: a pod reaches Ready and answers through its Service's ClusterIP and
// a NodePort, the admission policy refuses every pull policy but Never, and the teardown
// leaves nothing behind. Traffic goes only to the node's addresses (the bridge IP, service IPs).
package node

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/codehub-dev/codehub/internal/testkit"
	"github.com/codehub-dev/codehub/internal/testnode"
)

const (
	workspaceImage = "docker.io/library/codehub-workspace:latest"
	namespace      = "codehub-node-test"
)

func TestNode(t *testing.T) {
	testkit.SkipInShort(t, "a real Kubernetes node: root, containerd, kubelet, the images")
	images := testkit.Images(t)
	bins := testkit.KubebuilderAssets(t)
	// What an earlier, killed test process may have left goes first (Up would do it too, but
	// the sysctls this test compares with afterwards must be the machine's own).
	if left, err := testnode.Clean(testnode.Options{Binaries: bins, Logf: t.Logf}); err != nil || len(left) > 0 {
		t.Fatalf("leftovers of an earlier node could not be removed: %v\n%s", err, strings.Join(left, "\n"))
	}
	before := map[string]string{}
	for _, s := range []string{"net/ipv4/ip_forward", "net/ipv6/conf/all/forwarding", "kernel/panic", "kernel/panic_on_oops", "vm/overcommit_memory"} {
		before[s] = sysctl(s)
	}

	ctx := context.Background()
	start := time.Now()
	n, err := testnode.Up(ctx, testnode.Options{
		Images: []string{filepath.Join(images, "workspace.tar"), filepath.Join(images, "gateway.tar"),
			filepath.Join(images, "operator.tar")},
		Binaries: bins, RepoRoot: testkit.RepoRoot(t), Logf: t.Logf,
	})
	if err != nil {
		t.Fatalf("node up: %v", err)
	}
	t.Logf("node up in %.1fs", time.Since(start).Seconds())
	pids := n.PIDs()
	down := false
	t.Cleanup(func() {
		if !down {
			if t.Failed() {
				n.LogTails(t.Logf, 40)
			}
			_ = n.Down()
		}
	})

	t.Run("GuardsBeforeTheFirstPod", func(t *testing.T) {
		// Checked before any pod exists: the bridge is ours, the service CIDR is routed to it,
		// the FORWARD DROP guards are in mangle and filter (v4 and v6).
		route, _ := run(t, "ip", "-4", "route", "show", testnode.ServiceCIDR)
		if !strings.Contains(route, "dev "+testnode.Bridge) {
			t.Errorf("service CIDR route = %q, want dev %s", route, testnode.Bridge)
		}
		for _, bin := range []string{"iptables-save", "ip6tables-save"} {
			for _, table := range []string{"mangle", "filter"} {
				out, _ := run(t, bin, "-t", table)
				if got := strings.Count(out, testnode.Marker+" guard"); got < 2 {
					t.Errorf("%s -t %s: %d guard rules, want ≥ 2:\n%s", bin, table, got, out)
				}
			}
		}
		pods, err := n.Client.CoreV1().Pods(metav1.NamespaceAll).List(ctx, metav1.ListOptions{})
		if err != nil || len(pods.Items) != 0 {
			t.Errorf("pods before the first test pod: %v %v", pods, err)
		}
	})

	t.Run("ImagesImported", func(t *testing.T) {
		// The kubelet reports the images its runtime holds in the node's status.
		want := []string{workspaceImage, "docker.io/library/codehub-gateway:", "docker.io/library/codehub-operator:", testnode.PauseImage}
		deadline := time.Now().Add(60 * time.Second)
		for {
			node, err := n.Client.CoreV1().Nodes().Get(ctx, testnode.NodeName, metav1.GetOptions{})
			if err != nil {
				t.Fatal(err)
			}
			var names []string
			for _, img := range node.Status.Images {
				names = append(names, img.Names...)
			}
			var missing []string
			for _, w := range want {
				found := false
				for _, name := range names {
					found = found || strings.HasPrefix(name, w)
				}
				if !found {
					missing = append(missing, w)
				}
			}
			if len(missing) == 0 {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("images not on the node: %v (node reports %v)", missing, names)
			}
			time.Sleep(500 * time.Millisecond)
		}
	})

	t.Run("WorkspacePodServesThroughServiceAndNodePort", func(t *testing.T) {
		if _, err := n.Client.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: namespace}}, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		waitDefaultSA(t, n, namespace)
		created := time.Now()
		pod := workspacePod("workspace", corev1.PullNever)
		if _, err := n.Client.CoreV1().Pods(namespace).Create(ctx, pod, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		ready := waitPodReady(t, n, namespace, "workspace", 3*time.Minute)
		t.Logf("workspace pod create → Ready: %.2fs (pod IP %s)", time.Since(created).Seconds(), ready.Status.PodIP)
		if _, cidr, _ := net.ParseCIDR(testnode.PodCIDR); !cidr.Contains(net.ParseIP(ready.Status.PodIP)) {
			t.Errorf("pod IP %s is not in the pod CIDR %s", ready.Status.PodIP, testnode.PodCIDR)
		}

		svc := &corev1.Service{
			ObjectMeta: metav1.ObjectMeta{Name: "workspace", Namespace: namespace},
			Spec: corev1.ServiceSpec{
				Type:     corev1.ServiceTypeNodePort,
				Selector: map[string]string{"app": "workspace"},
				Ports:    []corev1.ServicePort{{Name: "http", Port: 8080, TargetPort: intstr.FromInt32(8080)}},
			},
		}
		svc, err := n.Client.CoreV1().Services(namespace).Create(ctx, svc, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		clusterIP, nodePort := svc.Spec.ClusterIP, svc.Spec.Ports[0].NodePort
		if _, cidr, _ := net.ParseCIDR(testnode.ServiceCIDR); !cidr.Contains(net.ParseIP(clusterIP)) {
			t.Fatalf("ClusterIP %s is not in the service CIDR %s", clusterIP, testnode.ServiceCIDR)
		}
		// Only the node's own addresses: a service IP (routed to the bridge) and the bridge IP.
		for _, target := range []string{
			fmt.Sprintf("http://%s:8080/healthz", clusterIP),
			fmt.Sprintf("http://%s:%d/healthz", testnode.NodeIP, nodePort),
		} {
			took := waitHTTP200(t, target, 30*time.Second)
			t.Logf("%s: 200 after %.2fs (kube-proxy programming included)", target, took.Seconds())
		}

		// The pod's network: routes for the pod CIDR (its link) and the service CIDR only, no
		// nameserver; codehub-init pointed its kubeconfig at the in-cluster apiserver address.
		routes := kubectl(t, n, "-n", namespace, "exec", "workspace", "--", "cat", "/proc/net/route")
		for _, line := range strings.Split(routes, "\n")[1:] {
			if f := strings.Fields(line); len(f) > 1 && f[1] == "00000000" {
				t.Errorf("the pod has a default route: %s", line)
			}
		}
		if resolv := kubectl(t, n, "-n", namespace, "exec", "workspace", "--", "cat", "/etc/resolv.conf"); strings.Contains(resolv, "nameserver") {
			t.Errorf("the pod's resolv.conf names a nameserver:\n%s", resolv)
		}
		server := kubectl(t, n, "-n", namespace, "exec", "workspace", "--", "kubectl", "config", "view", "-o", "jsonpath={.clusters[0].cluster.server}")
		if want := "https://" + testnode.KubernetesServiceIP + ":443"; server != want {
			t.Errorf("kubeconfig server in the pod = %q, want %q", server, want)
		}
	})

	t.Run("PullPolicyOtherThanNeverRejected", func(t *testing.T) {
		for _, c := range []struct {
			name string
			pod  *corev1.Pod
		}{
			{"IfNotPresent", workspacePod("pull-ifnotpresent", corev1.PullIfNotPresent)},
			{"Always", workspacePod("pull-always", corev1.PullAlways)},
			{"init container IfNotPresent", func() *corev1.Pod {
				p := workspacePod("pull-init", corev1.PullNever)
				p.Spec.InitContainers = []corev1.Container{{Name: "init", Image: workspaceImage, ImagePullPolicy: corev1.PullIfNotPresent, Command: []string{"true"}}}
				return p
			}()},
		} {
			_, err := n.Client.CoreV1().Pods(namespace).Create(ctx, c.pod, metav1.CreateOptions{})
			if err == nil {
				t.Errorf("%s: pod admitted, want the admission policy to refuse it", c.name)
				continue
			}
			if !strings.Contains(err.Error(), testnode.NeverPullMessage) {
				t.Errorf("%s: refused, but not by the node's policy: %v", c.name, err)
			}
		}
	})

	t.Run("TeardownLeavesNothing", func(t *testing.T) {
		down = true
		if err := n.Down(); err != nil {
			t.Errorf("teardown: %v", err)
		}
		left := testnode.Leftovers()
		// Each kind asserted on its own, so a failure says what kind of thing survived.
		kinds := []string{"process", "mount", "route -4", "route -6", "link", "address", "cgroup", "file", "sysctl"}
		for _, fam := range []string{"v4", "v6"} {
			for _, table := range []string{"filter", "nat", "mangle", "raw"} {
				kinds = append(kinds, "iptables "+fam+" "+table)
			}
		}
		for _, kind := range kinds {
			var items []string
			for _, l := range left {
				if strings.HasPrefix(l, kind+": ") {
					items = append(items, l)
				}
			}
			if len(items) > 0 {
				t.Errorf("left behind (%s):\n  %s", kind, strings.Join(items, "\n  "))
			}
		}
		if len(left) > 0 && !t.Failed() {
			t.Errorf("left behind (unclassified): %v", left)
		}
		// Independent of the fixture's own bookkeeping: the component PIDs are gone, the bridge
		// and directories too, and the sysctls are what this test read before the node.
		for name, pid := range pids {
			if err := syscall.Kill(pid, 0); err == nil {
				if cmd, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid)); strings.Contains(string(cmd), testnode.Marker) {
					t.Errorf("%s (pid %d) still runs", name, pid)
				}
			}
		}
		for _, p := range []string{"/sys/class/net/" + testnode.Bridge, testnode.StateDir, testnode.RunDir, "/var/lib/kubelet", "/var/log/containers"} {
			if _, err := os.Lstat(p); err == nil {
				t.Errorf("%s still exists", p)
			}
		}
		for s, v := range before {
			if got := sysctl(s); got != v {
				t.Errorf("sysctl %s = %s after teardown, was %s", s, got, v)
			}
		}
		for _, tm := range n.Timings {
			t.Logf("timing: %-28s %6.2fs", tm.Phase, tm.Took.Seconds())
		}
	})
}

func workspacePod(name string, pull corev1.PullPolicy) *corev1.Pod {
	uid, gid := int64(1000), int64(0)
	nonRoot, noEscalation := true, false
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: namespace, Labels: map[string]string{"app": name}},
		Spec: corev1.PodSpec{
			SecurityContext: &corev1.PodSecurityContext{RunAsUser: &uid, RunAsGroup: &gid, RunAsNonRoot: &nonRoot},
			Containers: []corev1.Container{{
				Name: "code-server", Image: workspaceImage, ImagePullPolicy: pull,
				Ports: []corev1.ContainerPort{{Name: "http", ContainerPort: 8080}},
				ReadinessProbe: &corev1.Probe{
					ProbeHandler:  corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: "/healthz", Port: intstr.FromInt32(8080)}},
					PeriodSeconds: 1, FailureThreshold: 3,
				},
				SecurityContext: &corev1.SecurityContext{AllowPrivilegeEscalation: &noEscalation,
					Capabilities: &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}}},
			}},
			TerminationGracePeriodSeconds: func() *int64 { g := int64(5); return &g }(),
		},
	}
}

func waitDefaultSA(t *testing.T, n *testnode.Node, ns string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		if _, err := n.Client.CoreV1().ServiceAccounts(ns).Get(context.Background(), "default", metav1.GetOptions{}); err == nil {
			return
		} else if time.Now().After(deadline) {
			t.Fatalf("no default ServiceAccount in %s: %v", ns, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func waitPodReady(t *testing.T, n *testnode.Node, ns, name string, within time.Duration) *corev1.Pod {
	t.Helper()
	deadline := time.Now().Add(within)
	var last string
	for time.Now().Before(deadline) {
		p, err := n.Client.CoreV1().Pods(ns).Get(context.Background(), name, metav1.GetOptions{})
		if err == nil {
			for _, c := range p.Status.Conditions {
				if c.Type == corev1.PodReady && c.Status == corev1.ConditionTrue {
					return p
				}
			}
			last = string(p.Status.Phase)
			for _, cs := range p.Status.ContainerStatuses {
				if cs.State.Waiting != nil {
					last += " " + cs.State.Waiting.Reason + ": " + cs.State.Waiting.Message
				}
			}
		} else {
			last = err.Error()
		}
		time.Sleep(200 * time.Millisecond)
	}
	events, _ := n.Client.CoreV1().Events(ns).List(context.Background(), metav1.ListOptions{})
	var ev []string
	for _, e := range events.Items {
		ev = append(ev, e.Reason+": "+e.Message)
	}
	t.Fatalf("pod %s/%s not Ready within %s (%s); events:\n%s", ns, name, within, last, strings.Join(ev, "\n"))
	return nil
}

// waitHTTP200 polls url (at most every 250 ms, each try ≤ 3 s) until 200 or the deadline.
func waitHTTP200(t *testing.T, url string, within time.Duration) time.Duration {
	t.Helper()
	client := &http.Client{Timeout: 3 * time.Second}
	start := time.Now()
	var last string
	for time.Since(start) < within {
		resp, err := client.Get(url)
		if err == nil {
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK && strings.Contains(string(body), `"status"`) {
				return time.Since(start)
			}
			last = fmt.Sprintf("%d %s", resp.StatusCode, body)
		} else {
			last = err.Error()
		}
		time.Sleep(250 * time.Millisecond)
	}
	t.Fatalf("%s: no 200 within %s (last: %s)", url, within, last)
	return 0
}

func kubectl(t *testing.T, n *testnode.Node, args ...string) string {
	t.Helper()
	out, err := n.KubectlCmd(context.Background(), args...)
	if err != nil {
		t.Errorf("kubectl %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return strings.TrimSpace(out)
}

func run(t *testing.T, name string, args ...string) (string, error) {
	t.Helper()
	b, err := exec.Command(name, args...).CombinedOutput()
	out := string(b)
	if err != nil {
		t.Errorf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return out, err
}

func sysctl(name string) string {
	b, _ := os.ReadFile("/proc/sys/" + name)
	return strings.TrimSpace(string(b))
}
