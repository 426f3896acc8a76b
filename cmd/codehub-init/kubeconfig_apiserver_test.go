package main

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	"github.com/codehub-dev/codehub/internal/testkit"
)

// The generated kubeconfig against a real kube-apiserver: a ServiceAccount bound to a Role
// that may list pods in its namespace, its token laid out as the kubelet does, then kubectl.
func TestKubeconfigAgainstAPIServer(t *testing.T) {
	assets := testkit.KubebuilderAssets(t)
	kubectl := filepath.Join(assets, "kubectl")
	env := &envtest.Environment{BinaryAssetsDirectory: assets}
	cfg, err := env.Start()
	if err != nil {
		t.Fatalf("starting etcd + kube-apiserver from %s: %v", assets, err)
	}
	t.Cleanup(func() { _ = env.Stop() })
	cs := kubernetes.NewForConfigOrDie(cfg)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	const ns, otherNS, sa = "user-alice", "user-bob", "workspace"
	for _, n := range []string{ns, otherNS} {
		must(t, create(ctx, cs.CoreV1().Namespaces().Create, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: n}}))
	}
	must(t, create(ctx, cs.CoreV1().ServiceAccounts(ns).Create, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: sa}}))
	must(t, create(ctx, cs.RbacV1().Roles(ns).Create, &rbacv1.Role{
		ObjectMeta: metav1.ObjectMeta{Name: "workspace"},
		Rules:      []rbacv1.PolicyRule{{APIGroups: []string{""}, Resources: []string{"pods"}, Verbs: []string{"get", "list"}}},
	}))
	must(t, create(ctx, cs.RbacV1().RoleBindings(ns).Create, &rbacv1.RoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: "workspace"},
		RoleRef:    rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "Role", Name: "workspace"},
		Subjects:   []rbacv1.Subject{{Kind: "ServiceAccount", Name: sa, Namespace: ns}},
	}))
	// The first token is bound to a Secret, so deleting the Secret revokes it: that is how the
	// test shows the kubeconfig follows the token file rather than a copy of the token.
	holder := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "token-holder"}}
	holder, err = cs.CoreV1().Secrets(ns).Create(ctx, holder, metav1.CreateOptions{})
	must(t, err)
	mint := func(bound *corev1.Secret) string {
		t.Helper()
		req := &authenticationv1.TokenRequest{Spec: authenticationv1.TokenRequestSpec{ExpirationSeconds: ptrTo(int64(3600))}}
		if bound != nil {
			req.Spec.BoundObjectRef = &authenticationv1.BoundObjectReference{Kind: "Secret", APIVersion: "v1", Name: bound.Name, UID: bound.UID}
		}
		tr, err := cs.CoreV1().ServiceAccounts(ns).CreateToken(ctx, sa, req, metav1.CreateOptions{})
		must(t, err)
		return tr.Status.Token
	}

	tmp := t.TempDir()
	saDir := filepath.Join(tmp, "serviceaccount")
	must(t, os.MkdirAll(saDir, 0o755))
	must(t, os.WriteFile(filepath.Join(saDir, "ca.crt"), cfg.CAData, 0o644))
	must(t, os.WriteFile(filepath.Join(saDir, "namespace"), []byte(ns), 0o644))
	token1 := mint(holder)
	writeToken(t, saDir, token1)

	// KUBERNETES_SERVICE_HOST/PORT as the kubelet sets them, pointing at this apiserver.
	host, port := splitHostPort(t, cfg.Host)
	getenv := func(k string) string {
		return map[string]string{"KUBERNETES_SERVICE_HOST": host, "KUBERNETES_SERVICE_PORT": port}[k]
	}
	home := filepath.Join(tmp, "home")
	args := append(localBackendArgs(tmp), "--dry-run")
	args[indexOf(args, "--serviceaccount-dir")+1] = saDir
	var stdout, stderr bytes.Buffer
	if code := run(args, getenv, &stdout, &stderr, nil); code != 0 {
		t.Fatalf("codehub-init exit %d: %s", code, stderr.String())
	}
	if strings.Contains(stderr.String(), token1) {
		t.Fatal("the token appears in codehub-init's log")
	}
	kubeconfig := filepath.Join(home, ".kube", "config")
	generated, err := os.ReadFile(kubeconfig)
	must(t, err)
	if strings.Contains(string(generated), token1) {
		t.Fatal("the token was copied into the kubeconfig")
	}

	kubectlRun := func(args ...string) (string, error) {
		cmd := exec.CommandContext(ctx, kubectl, append([]string{"--kubeconfig", kubeconfig}, args...)...)
		cmd.Env = []string{"HOME=" + filepath.Join(tmp, "kubectl-home")}
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	// The context's default namespace is the pod's: no -n needed.
	if out, err := kubectlRun("get", "pods"); err != nil || !strings.Contains(out, "No resources found in "+ns) {
		t.Fatalf("kubectl get pods in own namespace: %v\n%s", err, out)
	}
	if out, err := kubectlRun("get", "pods", "-n", otherNS); err == nil || !strings.Contains(out, "Forbidden") {
		t.Fatalf("kubectl get pods -n %s: want Forbidden, got %v\n%s", otherNS, err, out)
	}

	// Rotation: revoke the first token, then write a new one as the kubelet would. The same
	// kubeconfig, untouched and without re-running codehub-init, keeps working.
	must(t, cs.CoreV1().Secrets(ns).Delete(ctx, holder.Name, metav1.DeleteOptions{}))
	for deadline := time.Now().Add(60 * time.Second); ; {
		out, err := kubectlRun("get", "pods")
		if err != nil && strings.Contains(out, "Unauthorized") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("revoked token still accepted after 60s: %v\n%s", err, out)
		}
		time.Sleep(200 * time.Millisecond) // polling the apiserver's token cache, bounded by the deadline
	}
	writeToken(t, saDir, mint(nil))
	if out, err := kubectlRun("get", "pods"); err != nil || !strings.Contains(out, "No resources found in "+ns) {
		t.Fatalf("kubectl after token rotation: %v\n%s", err, out)
	}
	if after, _ := os.ReadFile(kubeconfig); !bytes.Equal(after, generated) {
		t.Fatal("kubeconfig changed during rotation")
	}
}

// writeToken replaces the token file atomically, as the kubelet's projected volume does.
func writeToken(t *testing.T, dir, token string) {
	t.Helper()
	tmp := filepath.Join(dir, ".token.tmp")
	must(t, os.WriteFile(tmp, []byte(token), 0o600))
	must(t, os.Rename(tmp, filepath.Join(dir, "token")))
}

func create[T any](ctx context.Context, fn func(context.Context, T, metav1.CreateOptions) (T, error), obj T) error {
	_, err := fn(ctx, obj, metav1.CreateOptions{})
	return err
}

func splitHostPort(t *testing.T, hostURL string) (string, string) {
	t.Helper()
	hp := strings.TrimPrefix(strings.TrimPrefix(hostURL, "https://"), "http://")
	i := strings.LastIndex(hp, ":")
	if i < 0 {
		t.Fatalf("apiserver host %q has no port", hostURL)
	}
	return strings.Trim(hp[:i], "[]"), strings.TrimSuffix(hp[i+1:], "/")
}

func indexOf(s []string, v string) int {
	for i, x := range s {
		if x == v {
			return i
		}
	}
	return -1
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func ptrTo[T any](v T) *T { return &v }
