// Package kubetest is the Kubernetes half of the test kit: the one envtest bootstrap (a real
// etcd + kube-apiserver with the Workspace CRD, one per test binary, started by the first
// test that needs it), what tests play of the kubelet, and Workspace builders with modifiers.
// It is separate from testkit so that tests without Kubernetes do not link client-go.
package kubetest

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-logr/logr"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"k8s.io/klog/v2"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	codehubv1 "github.com/codehub-dev/codehub/api/v1alpha1"
	"github.com/codehub-dev/codehub/internal/testkit"
)

var (
	once    sync.Once
	env     *envtest.Environment
	cfg     *rest.Config
	initErr error
	nsSeq   atomic.Int64
)

func init() {
	// Warnings and errors from controller-runtime (and klog) help when a test fails.
	logger := logr.FromSlogHandler(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	ctrl.SetLogger(logger)
	klog.SetLogger(logger)
}

// Scheme knows the built-in types and Workspace.
func Scheme() *runtime.Scheme {
	s := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(s); err != nil {
		panic(err)
	}
	if err := codehubv1.AddToScheme(s); err != nil {
		panic(err)
	}
	return s
}

// Config starts the shared apiserver (with the Workspace CRD installed) on first use.
func Config(t testing.TB) *rest.Config {
	t.Helper()
	assets := testkit.KubebuilderAssets(t)
	root := testkit.RepoRoot(t)
	once.Do(func() {
		env = &envtest.Environment{
			BinaryAssetsDirectory: assets,
			CRDDirectoryPaths:     []string{filepath.Join(root, "config", "crd", "bases")},
			ErrorIfCRDPathMissing: true,
			Scheme:                Scheme(),
		}
		// envtest's default Service range (a /24) runs out before 1,000 Workspaces.
		env.ControlPlane.GetAPIServer().Configure().Set("service-cluster-ip-range", "10.0.0.0/16")
		start := time.Now()
		cfg, initErr = env.Start()
		if initErr == nil {
			t.Logf("envtest apiserver started in %s", time.Since(start).Round(time.Millisecond))
		}
	})
	if initErr != nil {
		t.Fatalf("starting envtest: %v", initErr)
	}
	return rest.CopyConfig(cfg)
}

// Stop ends the shared apiserver; Main calls it after m.Run.
func Stop() {
	if env != nil && cfg != nil {
		_ = env.Stop()
	}
}

// Main is the TestMain of every package whose tests use the shared apiserver: it runs the
// tests, then stops the apiserver (whose etcd and kube-apiserver processes would otherwise
// outlive the test binary), and fails when a test left a process running
// (testkit.KillLeftoverProcesses).
func Main(m *testing.M) {
	testkit.Main(runThenStop{m})
}

// runThenStop runs the tests and then stops the shared apiserver, before testkit.Main looks
// for processes left running.
type runThenStop struct{ m *testing.M }

func (r runThenStop) Run() int {
	defer Stop()
	return r.m.Run()
}

// Setup is the start of most envtest tests: a context, a plain client and a fresh
// namespace of their own.
func Setup(t testing.TB) (context.Context, client.Client, string) {
	t.Helper()
	c := Client(t)
	return context.Background(), c, Namespace(t, c, nil)
}

// Client is a plain (uncached, unwrapped) client for the test's own reads and writes.
func Client(t testing.TB) client.Client {
	c, err := client.New(Config(t), client.Options{Scheme: Scheme()})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// Namespace creates a fresh namespace so tests never see each other's objects.
func Namespace(t testing.TB, c client.Client, labels map[string]string) string {
	t.Helper()
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("t%d-%d", time.Now().UnixNano()%1e6, nsSeq.Add(1)), Labels: labels}}
	if err := c.Create(context.Background(), ns); err != nil {
		t.Fatal(err)
	}
	return ns.Name
}

// Eventually waits for the controller: testkit.Eventually with testkit.WaitLong, which
// covers a manager's start and a reconcile of a handful of objects on the CI machine.
func Eventually(t testing.TB, what string, cond func() error) {
	t.Helper()
	testkit.Eventually(t, testkit.WaitLong, what, cond)
}

// MarkAvailable plays kubelet and the deployment controller, neither of which envtest runs:
// it reports the Deployment's current generation as rolled out with one available pod.
func MarkAvailable(ctx context.Context, c client.Client, dep *appsv1.Deployment) error {
	dep.Status = appsv1.DeploymentStatus{
		ObservedGeneration: dep.Generation,
		Replicas:           1, UpdatedReplicas: 1, ReadyReplicas: 1, AvailableReplicas: 1,
		Conditions: []appsv1.DeploymentCondition{{
			Type: appsv1.DeploymentAvailable, Status: corev1.ConditionTrue, Reason: "MinimumReplicasAvailable",
			LastUpdateTime: metav1.Now(), LastTransitionTime: metav1.Now(),
		}},
	}
	return c.Status().Update(ctx, dep)
}

// MarkScaledDown reports that the Deployment's pods are gone.
func MarkScaledDown(ctx context.Context, c client.Client, dep *appsv1.Deployment) error {
	dep.Status = appsv1.DeploymentStatus{ObservedGeneration: dep.Generation}
	return c.Status().Update(ctx, dep)
}

// Kubeconfig writes a cluster-admin kubeconfig for the shared apiserver (for kubectl).
func Kubeconfig(t testing.TB) string {
	t.Helper()
	Config(t)
	user, err := env.AddUser(envtest.User{Name: "kubectl-admin", Groups: []string{"system:masters"}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	b, err := user.KubeConfig()
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "kubeconfig")
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}
