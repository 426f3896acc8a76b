package helm

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/apiutil"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	ctrllog "sigs.k8s.io/controller-runtime/pkg/log"

	codehubv1 "github.com/codehub-dev/codehub/api/v1alpha1"
	"github.com/codehub-dev/codehub/internal/backend/kubernetes"
	"github.com/codehub-dev/codehub/internal/testkit"
	"github.com/codehub-dev/codehub/internal/workspacebuild"
)

// cluster is a real etcd + kube-apiserver with no CRDs, and a kubeconfig for helm.
type cluster struct {
	c          client.Client
	kubeconfig string
}

func startCluster(t *testing.T) *cluster {
	t.Helper()
	ctrllog.SetLogger(logr.Discard())
	env := &envtest.Environment{BinaryAssetsDirectory: testkit.KubebuilderAssets(t)}
	start := time.Now()
	cfg, err := env.Start()
	if err != nil {
		t.Fatalf("starting envtest: %v", err)
	}
	t.Cleanup(func() { _ = env.Stop() })
	t.Logf("apiserver started in %s", time.Since(start).Round(time.Millisecond))

	admin, err := env.AddUser(envtest.User{Name: "helm-admin", Groups: []string{"system:masters"}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	kc, err := admin.KubeConfig()
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "kubeconfig")
	if err := os.WriteFile(path, kc, 0o600); err != nil {
		t.Fatal(err)
	}
	scheme := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	if err := codehubv1.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	httpClient, err := rest.HTTPClientFor(cfg)
	if err != nil {
		t.Fatal(err)
	}
	// A mapper that re-discovers: the Workspace kind appears only once helm creates the CRD.
	mapper, err := apiutil.NewDynamicRESTMapper(cfg, httpClient)
	if err != nil {
		t.Fatal(err)
	}
	c, err := client.New(cfg, client.Options{Scheme: scheme, Mapper: mapper})
	if err != nil {
		t.Fatal(err)
	}
	return &cluster{c: c, kubeconfig: path}
}

// restricted creates a namespace that enforces the restricted Pod Security Standard.
func (cl *cluster) restricted(t *testing.T, ctx context.Context, name string) {
	t.Helper()
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{
		"pod-security.kubernetes.io/enforce":         "restricted",
		"pod-security.kubernetes.io/enforce-version": "latest",
	}}}
	if err := cl.c.Create(ctx, ns); err != nil {
		t.Fatal(err)
	}
}

func (cl *cluster) get(ctx context.Context, apiVersion, kind, ns, name string) (*unstructured.Unstructured, error) {
	u := &unstructured.Unstructured{}
	u.SetGroupVersionKind(schema.FromAPIVersionAndKind(apiVersion, kind))
	err := cl.c.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, u)
	return u, err
}

// eventually is testkit.Eventually with the argument order this package's tests read in.
func eventually(t *testing.T, what string, timeout time.Duration, cond func() error) {
	t.Helper()
	testkit.Eventually(t, timeout, what, cond)
}

// checkManifest asserts every object of the release's manifest exists in the apiserver.
func (cl *cluster) checkManifest(t *testing.T, ctx context.Context, manifest string) int {
	t.Helper()
	objs := objects(t, manifest)
	for _, o := range objs {
		ns := o.GetNamespace()
		if _, err := cl.get(ctx, o.GetAPIVersion(), o.GetKind(), ns, o.GetName()); err != nil {
			t.Errorf("%s %s/%s from the release is not in the apiserver: %v", o.GetKind(), ns, o.GetName(), err)
		}
	}
	return len(objs)
}

// TestInstallUpgradeUninstall installs the chart into a real kube-apiserver the way the
// seed did (`helm -n default-tenant install vscode ...`), creates a user's Workspace and
// home PVC, upgrades with changed values and uninstalls, keeping the CRD and user data.
func TestInstallUpgradeUninstall(t *testing.T) {
	ctx := context.Background()
	cl := startCluster(t)
	h := newHelm(t).withKubeconfig(cl.kubeconfig)
	cl.restricted(t, ctx, namespace)

	// Bad values never reach the cluster.
	if _, errOut, err := h.run("install", release, chartPath, "-n", namespace, "--set", "gateway.replica=2"); err == nil || !strings.Contains(errOut, "replica") {
		t.Fatalf("helm install with an unknown key: err=%v\n%s", err, errOut)
	}
	if _, err := cl.get(ctx, "apiextensions.k8s.io/v1", "CustomResourceDefinition", "", "workspaces.codehub.io"); !apierrors.IsNotFound(err) {
		t.Fatalf("a rejected install created the CRD (err=%v)", err)
	}

	// The v3io access-key Secret must have the driver's name as its type (the kubelet passes
	// a flexVolume secretRef to the driver only then): one of another type stops the install.
	wrong := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "vscode-v3io", Namespace: namespace}, Type: corev1.SecretTypeOpaque,
		StringData: map[string]string{"accessKey": "k"}}
	if err := cl.c.Create(ctx, wrong); err != nil {
		t.Fatal(err)
	}
	if _, errOut, err := h.run("install", release, chartPath, "-n", namespace, "-f", chartPath+"/values-single-user.yaml"); err == nil ||
		!strings.Contains(errOut, `Secret vscode-v3io has type "Opaque"`) || !strings.Contains(errOut, "--type=v3io/fuse") {
		t.Fatalf("helm install with an Opaque v3io Secret: err=%v\n%s", err, errOut)
	}
	if err := cl.c.Delete(ctx, wrong); err != nil {
		t.Fatal(err)
	}
	right := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "vscode-v3io", Namespace: namespace}, Type: "v3io/fuse",
		StringData: map[string]string{"accessKey": "k"}}
	if err := cl.c.Create(ctx, right); err != nil {
		t.Fatal(err)
	}

	// The seed's one-user install, with the documented values file.
	start := time.Now()
	out := h.must(t, "install", release, chartPath, "-n", namespace, "-f", chartPath+"/values-single-user.yaml")
	t.Logf("helm install (single-user values): %s", time.Since(start).Round(time.Millisecond))
	if i := strings.Index(out, "NOTES:"); i >= 0 {
		t.Logf("%s", out[i:])
	}
	for _, want := range []string{"http://vscode.iguazio.example.com", "get service " + release + "-codehub-gateway-nodeport"} {
		if !strings.Contains(out, want) {
			t.Errorf("NOTES lack %q:\n%s", want, out)
		}
	}
	if np, err := cl.get(ctx, "v1", "Service", namespace, release+"-codehub-gateway-nodeport"); err != nil {
		t.Errorf("single-user: no NodePort Service: %v", err)
	} else if p, _, _ := unstructured.NestedSlice(np.Object, "spec", "ports"); len(p) != 1 || p[0].(map[string]any)["nodePort"] == nil {
		t.Errorf("the apiserver allocated no node port: %v", p)
	}
	if _, err := cl.get(ctx, "networking.k8s.io/v1", "Ingress", namespace, release+"-codehub-gateway"); err != nil {
		t.Errorf("single-user: no Ingress: %v", err)
	}
	n := cl.checkManifest(t, ctx, h.must(t, "get", "manifest", release, "-n", namespace))
	t.Logf("%d objects of the release are in the apiserver", n)

	cl.checkRBAC(t, ctx)
	cl.helmTest(t, ctx, h)

	// The CRD is served: a user's Workspace, built as the gateway builds it from the installed
	// workspace-defaults ConfigMap, is accepted (and validated by the CRD's schema and rules).
	cm, err := cl.get(ctx, "v1", "ConfigMap", namespace, release+"-codehub-workspace-defaults")
	if err != nil {
		t.Fatal(err)
	}
	fc, err := kubernetes.LoadFile(defaultsFile(t, cm))
	if err != nil {
		t.Fatalf("the gateway rejects the installed workspace defaults: %v", err)
	}
	alice := &codehubv1.Workspace{
		ObjectMeta: metav1.ObjectMeta{Name: "alice", Namespace: fc.Namespace},
		Spec:       *fc.Workspace.DeepCopy(),
	}
	alice.Spec.User, alice.Spec.Running = "alice", true
	eventually(t, "Workspace CRD established", 30*time.Second, func() error {
		err := cl.c.Create(ctx, alice.DeepCopy())
		if apierrors.IsAlreadyExists(err) {
			return nil
		}
		return err
	})
	// And its validation is live: a Workspace without a user is rejected.
	if err := cl.c.Create(ctx, workspace("")); err == nil || !apierrors.IsInvalid(err) {
		t.Errorf("a Workspace without spec.user was not rejected by the CRD schema: %v", err)
	}
	// The home PVC the operator would create for alice (no owner: Retain).
	pvc := &corev1.PersistentVolumeClaim{
		ObjectMeta: metav1.ObjectMeta{Name: workspacebuild.HomeClaimName(alice), Namespace: namespace},
		Spec: corev1.PersistentVolumeClaimSpec{
			AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
			Resources:   corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("10Gi")}},
		},
	}
	if err := cl.c.Create(ctx, pvc); err != nil {
		t.Fatal(err)
	}
	secretBefore, err := cl.get(ctx, "v1", "Secret", namespace, release+"-codehub-session-key")
	if err != nil {
		t.Fatal(err)
	}
	gwBefore, err := cl.get(ctx, "apps/v1", "Deployment", namespace, release+"-codehub-gateway")
	if err != nil {
		t.Fatal(err)
	}

	// Upgrade to a platform-wide configuration: more gateway replicas, HTTPS, no NodePort,
	// a longer idle timeout, no v3io.
	upgradeValues := []string{
		"--set", "global.domain=iguazio.example.com",
		"--set", "auth.mode=forward",
		"--set", "auth.forward.url=https://dashboard.iguazio.example.com/api/data_sessions/verifications/app_service",
		"--set", "gateway.replicas=3",
		"--set", "ingress.tls.enabled=true,ingress.tls.secretName=vscode-tls",
		"--set", "workspaceDefaults.idleTimeout=2h",
	}
	start = time.Now()
	out = h.must(t, append([]string{"upgrade", release, chartPath, "-n", namespace}, upgradeValues...)...)
	t.Logf("helm upgrade: %s", time.Since(start).Round(time.Millisecond))
	if !strings.Contains(out, "https://vscode.iguazio.example.com") {
		t.Errorf("upgrade NOTES lack the https URL:\n%s", out)
	}
	cl.checkManifest(t, ctx, h.must(t, "get", "manifest", release, "-n", namespace))
	gw, err := cl.get(ctx, "apps/v1", "Deployment", namespace, release+"-codehub-gateway")
	if err != nil {
		t.Fatal(err)
	}
	if r, _, _ := unstructured.NestedInt64(gw.Object, "spec", "replicas"); r != 3 {
		t.Errorf("gateway replicas after upgrade = %d, want 3", r)
	}
	checksum := func(d *unstructured.Unstructured) string {
		a, _, _ := unstructured.NestedStringMap(d.Object, "spec", "template", "metadata", "annotations")
		return a["checksum/workspace-defaults"]
	}
	if checksum(gw) == "" || checksum(gw) == checksum(gwBefore) {
		t.Errorf("changed workspace defaults do not roll the gateway pods (checksum %q before, %q after)", checksum(gwBefore), checksum(gw))
	}
	// The idle timeout is the operator's alone (the Workspace defaults above): the gateway
	// never gets --idle-timeout with the kubernetes backend (it refuses the flag).
	if y := toYAML(t, gw.Object["spec"]); strings.Contains(y, "--idle-timeout") || !strings.Contains(y, "--secure-cookies=true") {
		t.Errorf("gateway args not upgraded, or an --idle-timeout the gateway would refuse:\n%s", y)
	}
	if _, err := cl.get(ctx, "v1", "Service", namespace, release+"-codehub-gateway-nodeport"); !apierrors.IsNotFound(err) {
		t.Errorf("the NodePort Service survived an upgrade that turned it off (err=%v)", err)
	}
	secretAfter, err := cl.get(ctx, "v1", "Secret", namespace, release+"-codehub-session-key")
	if err != nil {
		t.Fatal(err)
	}
	if toYAML(t, secretBefore.Object["data"]) != toYAML(t, secretAfter.Object["data"]) {
		t.Error("helm upgrade changed the session key: every user would be signed out")
	}

	// A second tenant: another release in another namespace shares the cluster-scoped CRD,
	// so it installs with crds.enabled=false; with the CRD on, helm refuses clearly.
	cl.restricted(t, ctx, "tenant-b")
	tenantB := []string{"--set", "global.domain=tenant-b.example.com"}
	_, errOut, err := h.run(append([]string{"install", release, chartPath, "-n", "tenant-b"}, tenantB...)...)
	if err == nil || !strings.Contains(errOut, `CustomResourceDefinition "workspaces.codehub.io"`) || !strings.Contains(errOut, "cannot be imported") {
		t.Errorf("a second release owning the CRD: err=%v\n%s", err, errOut)
	}
	start = time.Now()
	h.must(t, append([]string{"install", release, chartPath, "-n", "tenant-b", "--set", "crds.enabled=false"}, tenantB...)...)
	t.Logf("helm install (second tenant, crds.enabled=false): %s", time.Since(start).Round(time.Millisecond))
	cl.checkManifest(t, ctx, h.must(t, "get", "manifest", release, "-n", "tenant-b"))
	h.must(t, "uninstall", release, "-n", "tenant-b")

	// Uninstall: the chart's objects go, the CRD, the Workspace and the PVC stay.
	manifest := h.must(t, "get", "manifest", release, "-n", namespace)
	start = time.Now()
	h.must(t, "uninstall", release, "-n", namespace)
	t.Logf("helm uninstall: %s", time.Since(start).Round(time.Millisecond))
	for _, o := range objects(t, manifest) {
		if o.GetKind() == "CustomResourceDefinition" {
			continue
		}
		eventually(t, o.GetKind()+" "+o.GetName()+" deleted", 30*time.Second, func() error {
			_, err := cl.get(ctx, o.GetAPIVersion(), o.GetKind(), o.GetNamespace(), o.GetName())
			if apierrors.IsNotFound(err) {
				return nil
			}
			if err == nil {
				return errStillThere
			}
			return err
		})
	}
	if _, err := cl.get(ctx, "apiextensions.k8s.io/v1", "CustomResourceDefinition", "", "workspaces.codehub.io"); err != nil {
		t.Errorf("helm uninstall deleted the CRD: %v", err)
	}
	if _, err := cl.get(ctx, "codehub.io/v1alpha1", "Workspace", namespace, "alice"); err != nil {
		t.Errorf("alice's Workspace is gone after helm uninstall: %v", err)
	}
	if err := cl.c.Get(ctx, client.ObjectKeyFromObject(pvc), &corev1.PersistentVolumeClaim{}); err != nil {
		t.Errorf("alice's home PVC is gone after helm uninstall: %v", err)
	}

	// Installing again over the kept CRD works (helm adopts nothing by surprise: the kept
	// CRD still carries this release's ownership annotations).
	start = time.Now()
	h.must(t, append([]string{"install", release, chartPath, "-n", namespace}, upgradeValues...)...)
	t.Logf("helm install over the kept CRD: %s", time.Since(start).Round(time.Millisecond))
	if _, err := cl.get(ctx, "codehub.io/v1alpha1", "Workspace", namespace, "alice"); err != nil {
		t.Errorf("alice's Workspace is gone after reinstall: %v", err)
	}
}

type stillThere struct{}

func (stillThere) Error() string { return "still there" }

var errStillThere error = stillThere{}

func workspace(user string) *unstructured.Unstructured {
	u := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "codehub.io/v1alpha1",
		"kind":       "Workspace",
		"metadata":   map[string]any{"name": "alice", "namespace": namespace},
		"spec":       map[string]any{"user": user, "running": true},
	}}
	if user == "" {
		u.SetName("nobody")
	}
	return u
}
