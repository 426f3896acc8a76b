// Package onnode installs the chart (charts/codehub) for real on the test node
// (internal/testnode: kubelet, containerd, runc, CNI) with the images scripts/build-images.sh
// built, and drives it the way the seed's users did: a real Chromium signs in through the
// platform, the operator starts the user's workspace pod, the workbench edits files on the
// home PV and on v3io (a flexVolume stand-in serving real FUSE mounts), the idle stop and the
// wake-up, start failures the cluster reports, and the uninstall.
//
// One node for the whole test binary (TestMain tears it down); every test asks for it with
// nodeFor. What a real cluster gives that this node does not, and what stands in for it:
//   - cluster DNS: a stand-in on the node's bridge address answers <svc>.<ns>.svc.cluster.local
//     with the Service's ClusterIP and nothing else (testnode.Options.ClusterDNS), so the
//     operator's in-cluster URL works as it does with CoreDNS;
//   - the Ingress: no ingress controller runs (so no TLS either); the Ingress object is
//     created and served by nothing. The browser reaches the gateway's Service at its
//     ClusterIP under the Ingress's host name (vscode.codehub.test, mapped by Chromium's
//     host resolver rules), and the NodePort at the node's address under node.codehub.test;
//   - the platform: a stand-in login page and verification endpoint (platform_test.go) on the
//     node's bridge address (dashboard.codehub.test for the browser);
//   - storage: hostPath PersistentVolumes bound to each user's home claim (no provisioner),
//     their directories chowned to the user's uid as a provisioner's fsGroup handling would;
//   - v3io: the stand-in flexVolume driver v3io/fuse (internal/testnode/v3iofuse) over a host
//     directory;
//   - NetworkPolicy: the CNI here (bridge) enforces none; the per-workspace credential is
//     the wall that holds on this node.
//
// Traffic goes only to this machine: the bridge address, ClusterIPs and pod IPs; Chromium
// resolves nothing but the three mapped names.
package onnode

import (
	"context"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	storagev1 "k8s.io/api/storage/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/controller-runtime/pkg/client"

	codehubv1 "github.com/codehub-dev/codehub/api/v1alpha1"
	"github.com/codehub-dev/codehub/internal/identity"
	"github.com/codehub-dev/codehub/internal/testkit"
	"github.com/codehub-dev/codehub/internal/testnode"
)

const (
	namespace    = "default-tenant"
	release      = "vscode"
	domain       = "codehub.test"
	mainHost     = "vscode." + domain    // the Ingress host (global.domain) → the gateway Service's ClusterIP
	nodeHost     = "node." + domain      // → the node's address, for the NodePort
	platformHost = "dashboard." + domain // → the platform stand-in on the node's address
	storageClass = "codehub-test-hostpath"
	v3ioSecret   = "vscode-v3io"
	v3ioKey      = "alice-v3io-access-key"
)

// cluster is the node with everything the chart's install needs around it.
type cluster struct {
	node     *testnode.Node
	client   client.Client
	platform *platform
	dir      string // host side: homes/<workspace>, v3io/<container>/...
	helm     string
	repo     string

	mu        sync.Mutex
	installed bool
	gatewayIP string // the gateway Service's ClusterIP
	nodePort  int
}

var (
	sharedOnce sync.Once
	shared     *cluster
	sharedErr  error
)

func TestMain(m *testing.M) {
	flag.Parse()
	code := m.Run()
	if shared != nil {
		if err := shared.down(); err != nil {
			fmt.Fprintln(os.Stderr, "onnode:", err)
			code = 1
		}
	}
	os.Exit(code)
}

func logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, time.Now().Format("15:04:05.000 ")+format+"\n", args...)
}

// nodeFor returns the node, bringing it up on first use (skipped in -short).
func nodeFor(t testing.TB) *cluster {
	t.Helper()
	testkit.SkipInShort(t, "a real Kubernetes node: root, containerd, kubelet, the images, helm")
	images, bins, helm, repo := testkit.Images(t), testkit.KubebuilderAssets(t), testkit.Helm(t), testkit.RepoRoot(t)
	sharedOnce.Do(func() { shared, sharedErr = up(images, bins, helm, repo) })
	if sharedErr != nil {
		t.Fatalf("node: %v", sharedErr)
	}
	return shared
}

func up(images, bins, helm, repo string) (*cluster, error) {
	start := time.Now()
	n, err := testnode.Up(context.Background(), testnode.Options{
		Images:   []string{filepath.Join(images, "workspace.tar"), filepath.Join(images, "gateway.tar"), filepath.Join(images, "operator.tar")},
		Binaries: bins, RepoRoot: repo, Logf: logf, ClusterDNS: true,
	})
	if err != nil {
		return nil, err
	}
	c := &cluster{node: n, helm: helm, repo: repo}
	fail := func(err error) (*cluster, error) {
		_ = c.down()
		return nil, err
	}
	logf("onnode: node up in %.1fs", time.Since(start).Seconds())
	scheme := runtime.NewScheme()
	_ = clientgoscheme.AddToScheme(scheme)
	_ = codehubv1.AddToScheme(scheme)
	_ = apiextensionsv1.AddToScheme(scheme)
	if c.client, err = client.New(n.Config, client.Options{Scheme: scheme}); err != nil {
		return fail(err)
	}
	if c.dir, err = os.MkdirTemp("", "codehub-onnode-"); err != nil {
		return fail(err)
	}
	if err := os.Chmod(c.dir, 0o755); err != nil { // the workspaces' uids traverse it
		return fail(err)
	}
	for _, d := range []string{"homes", "v3io/users", "v3io/projects"} {
		if err := os.MkdirAll(filepath.Join(c.dir, d), 0o755); err != nil {
			return fail(err)
		}
	}
	if c.platform, err = startPlatform(testnode.NodeIP, domain); err != nil {
		return fail(err)
	}
	// The v3io stand-in knows one access key, alice's: the chart mounts v3io with one Secret
	// for the release (the seed's single user).
	if err := n.InstallV3IOStandIn(context.Background(), testnode.V3IOStandIn{
		Root:  filepath.Join(c.dir, "v3io"),
		Users: map[string]testnode.V3IOUser{v3ioKey: {Name: "alice", UID: 2001, GID: 2001}},
	}); err != nil {
		return fail(err)
	}
	ctx := context.Background()
	if err := c.client.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: namespace}}); err != nil {
		return fail(err)
	}
	// The flexVolume secretRef Secret must have the driver's name as its type, or the kubelet
	// does not pass it (REAL-NODE.md; docs/install.md creates it so).
	if err := c.client.Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: v3ioSecret, Namespace: namespace},
		Type: "v3io/fuse", StringData: map[string]string{"accessKey": v3ioKey}}); err != nil {
		return fail(err)
	}
	immediate := storagev1.VolumeBindingImmediate
	if err := c.client.Create(ctx, &storagev1.StorageClass{ObjectMeta: metav1.ObjectMeta{Name: storageClass},
		Provisioner: "kubernetes.io/no-provisioner", VolumeBindingMode: &immediate}); err != nil {
		return fail(err)
	}
	logf("onnode: node, platform, storage and v3io stand-in ready in %.1fs", time.Since(start).Seconds())
	return c, nil
}

func (c *cluster) down() error {
	if c.platform != nil {
		c.platform.close()
	}
	err := c.node.Down()
	if left := testnode.Leftovers(); len(left) > 0 {
		err = fmt.Errorf("the node left behind:\n  %s", strings.Join(left, "\n  "))
	}
	if c.dir != "" {
		_ = os.RemoveAll(c.dir)
	}
	return err
}

// user prepares what the platform would have for a user before their first sign-in: the
// platform account (password user+"-password"), their v3io home users/<name> (owned by
// their uid, as the platform creates it), and a hostPath PV for the home PVC the operator
// will create (no provisioner here: pre-bound to the claim's name), owned by their uid.
func (c *cluster) user(t testing.TB, name string, uid int) platformUser {
	t.Helper()
	return c.userWith(t, name, uid, true)
}

// userWith is user, with or without the pre-bound home PV (without: the home claim is
// left to the storage class, as when an admin points it at a class of their own).
func (c *cluster) userWith(t testing.TB, name string, uid int, homePV bool) platformUser {
	t.Helper()
	u := platformUser{Name: name, Password: name + "-password", UID: uid, GID: uid, Groups: []string{"data-science"}}
	c.platform.addUser(u)
	ws := identity.WorkspaceName(name)
	home := filepath.Join(c.dir, "homes", ws)
	for _, d := range []string{home, filepath.Join(c.dir, "v3io", "users", name)} {
		if err := os.MkdirAll(d, 0o750); err != nil {
			t.Fatal(err)
		}
		if err := os.Chown(d, uid, uid); err != nil {
			t.Fatal(err)
		}
	}
	if !homePV {
		return u
	}
	pv := &corev1.PersistentVolume{
		ObjectMeta: metav1.ObjectMeta{Name: "home-" + ws},
		Spec: corev1.PersistentVolumeSpec{
			Capacity:                      corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("1Gi")},
			AccessModes:                   []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
			PersistentVolumeReclaimPolicy: corev1.PersistentVolumeReclaimRetain,
			StorageClassName:              storageClass,
			ClaimRef:                      &corev1.ObjectReference{Kind: "PersistentVolumeClaim", APIVersion: "v1", Namespace: namespace, Name: "codehub-" + ws + "-home"},
			PersistentVolumeSource: corev1.PersistentVolumeSource{HostPath: &corev1.HostPathVolumeSource{
				Path: home, Type: ptrTo(corev1.HostPathDirectory)}},
		},
	}
	if err := c.client.Create(context.Background(), pv); err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatal(err)
	}
	return u
}

// homeDir is the host directory behind user's home PV.
func (c *cluster) homeDir(user string) string {
	return filepath.Join(c.dir, "homes", identity.WorkspaceName(user))
}

// v3ioDir is the host directory behind user's /User on v3io.
func (c *cluster) v3ioDir(user string) string { return filepath.Join(c.dir, "v3io", "users", user) }

func ptrTo[T any](v T) *T { return &v }

// addr maps the test's host names to this node's addresses (the same mapping Chromium gets).
func (c *cluster) addr(host string) (string, bool) {
	h, port, err := net.SplitHostPort(host)
	if err != nil {
		h, port = host, "80"
	}
	switch h {
	case mainHost:
		return net.JoinHostPort(c.gatewayIP, port), true
	case nodeHost, platformHost:
		return net.JoinHostPort(testnode.NodeIP, port), true
	}
	return "", false
}

// httpClient reaches the mapped names only (no redirects followed, each request ≤ 20 s).
func (c *cluster) httpClient() *http.Client {
	dialer := &net.Dialer{Timeout: 5 * time.Second}
	return &http.Client{
		Timeout:       20 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		Transport: &http.Transport{DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			to, ok := c.addr(addr)
			if !ok {
				return nil, fmt.Errorf("%s is not one of this node's names", addr)
			}
			return dialer.DialContext(ctx, network, to)
		}},
	}
}

// poll calls cond every interval until it returns true or within passes (then fails with
// what the last call said).
func poll(t testing.TB, within, interval time.Duration, what string, cond func() (bool, string)) time.Duration {
	t.Helper()
	start := time.Now()
	var last string
	for {
		ok, msg := cond()
		if ok {
			return time.Since(start)
		}
		last = msg
		if time.Since(start) > within {
			t.Fatalf("%s: not within %s (last: %s)", what, within, last)
		}
		time.Sleep(interval)
	}
}
