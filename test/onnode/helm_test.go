package onnode

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/codehub-dev/codehub/internal/testnode"
)

// helmCmd runs helm against the node with its own config/cache/data dirs.
func (c *cluster) helmCmd(ctx context.Context, args ...string) (string, error) {
	dir := filepath.Join(c.dir, "helm")
	ctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, c.helm, append(args, "--kubeconfig", c.node.Kubeconfig)...)
	cmd.Env = append(os.Environ(), "HELM_CONFIG_HOME="+filepath.Join(dir, "config"), "HELM_CACHE_HOME="+filepath.Join(dir, "cache"),
		"HELM_DATA_HOME="+filepath.Join(dir, "data"))
	cmd.Dir = c.repo
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// values are the --set flags on top of the seed's values file and testdata/values.yaml.
func (c *cluster) values() []string {
	return []string{
		"--set", fmt.Sprintf("auth.forward.url=http://%s:%d%s", testnode.NodeIP, c.platform.port(), verifyPath),
		"--set", fmt.Sprintf("auth.forward.loginURL=http://%s:%d/login?rd={url}", platformHost, c.platform.port()),
	}
}

// install runs the seed's install (helm install with values-single-user.yaml, the node's
// overrides in testdata/values.yaml) once; later calls return at once. It waits for the
// gateway and operator to be Ready and records the gateway's ClusterIP and NodePort.
func (c *cluster) install(t testing.TB) {
	t.Helper()
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.installed {
		return
	}
	start := time.Now()
	args := append([]string{"install", release, "./charts/codehub", "-n", namespace,
		"-f", "charts/codehub/values-single-user.yaml", "-f", "test/onnode/testdata/values.yaml",
		"--wait", "--timeout", "3m"}, c.values()...)
	if out, err := c.helmCmd(context.Background(), args...); err != nil {
		c.dumpPods(t)
		t.Fatalf("helm install: %v\n%s", err, out)
	}
	ctx := context.Background()
	svc, err := c.node.Client.CoreV1().Services(namespace).Get(ctx, release+"-codehub-gateway", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	np, err := c.node.Client.CoreV1().Services(namespace).Get(ctx, release+"-codehub-gateway-nodeport", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	c.gatewayIP, c.nodePort = svc.Spec.ClusterIP, int(np.Spec.Ports[0].NodePort)
	c.installed = true
	t.Logf("helm install → gateway and operator Ready: %.1fs (gateway Service %s:80, NodePort %d)", time.Since(start).Seconds(), c.gatewayIP, c.nodePort)
	// kube-proxy programs the new Services within a few seconds.
	hc := c.httpClient()
	poll(t, 60*time.Second, 250*time.Millisecond, "the gateway through its Service", func() (bool, string) {
		resp, err := hc.Get("http://" + mainHost + "/_codehub/healthz")
		if err != nil {
			return false, err.Error()
		}
		resp.Body.Close()
		return resp.StatusCode == 200, resp.Status
	})
}

// uninstall runs helm uninstall; the next install starts over.
func (c *cluster) uninstall(t testing.TB) {
	t.Helper()
	c.mu.Lock()
	defer c.mu.Unlock()
	if out, err := c.helmCmd(context.Background(), "uninstall", release, "-n", namespace, "--wait", "--timeout", "2m"); err != nil {
		t.Fatalf("helm uninstall: %v\n%s", err, out)
	}
	c.installed = false
}

// dumpPods logs every pod's state and the namespace's events (for failures).
func (c *cluster) dumpPods(t testing.TB) {
	t.Helper()
	ctx := context.Background()
	pods, _ := c.node.Client.CoreV1().Pods(metav1.NamespaceAll).List(ctx, metav1.ListOptions{})
	for _, p := range pods.Items {
		var st []string
		for _, cs := range p.Status.ContainerStatuses {
			switch {
			case cs.State.Waiting != nil:
				st = append(st, cs.Name+" waiting "+cs.State.Waiting.Reason+": "+cs.State.Waiting.Message)
			case cs.State.Terminated != nil:
				st = append(st, fmt.Sprintf("%s terminated %s %d", cs.Name, cs.State.Terminated.Reason, cs.State.Terminated.ExitCode))
			default:
				st = append(st, fmt.Sprintf("%s running ready=%v restarts=%d", cs.Name, cs.Ready, cs.RestartCount))
			}
		}
		t.Logf("pod %s/%s %s %s", p.Namespace, p.Name, p.Status.Phase, strings.Join(st, "; "))
	}
	events, _ := c.node.Client.CoreV1().Events(namespace).List(ctx, metav1.ListOptions{})
	for _, e := range events.Items {
		if e.Type == corev1.EventTypeWarning {
			t.Logf("event %s %s: %s", e.InvolvedObject.Name, e.Reason, e.Message)
		}
	}
}

// componentLogs logs the last lines of the gateway's and the operator's logs (for failures).
func (c *cluster) componentLogs(t testing.TB) {
	t.Helper()
	for _, d := range []string{release + "-codehub-gateway", release + "-codehub-operator"} {
		out, _ := c.node.KubectlCmd(context.Background(), "-n", namespace, "logs", "deploy/"+d, "--tail=60")
		t.Logf("logs of %s:\n%s", d, out)
	}
}
