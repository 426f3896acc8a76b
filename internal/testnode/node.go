// Package testnode runs a real single-node Kubernetes cluster on this machine as a test
// fixture: etcd, kube-apiserver, kube-controller-manager, kube-scheduler, kubelet and
// kube-proxy (iptables mode), built by scripts/install-control-plane.sh, with Debian's
// containerd, runc and CNI plugins (scripts/install-container-tools.sh). Pods really run.
//
// One node per machine: Start takes a machine-wide lock (flock on LockPath) and holds it until
// the node is torn down; a second caller waits. Everything the node creates carries the name
// "codehub-testnode" (directories, rule comments, the CNI network) or is one of the fixed
// names below (bridge, CIDRs), so a teardown — including the one Start runs first when an
// earlier test process died with a node up — finds it all, and Leftovers can prove it is gone.
//
// Network safety (set up before containerd starts, so before any pod can send a packet):
// the bridge is created here and the whole service CIDR is routed to it; FORWARD DROP rules
// (mangle and filter, IPv4 and IPv6) stop anything from the bridge leaving through another
// interface, anything from the pod CIDR leaving through the default interface, and anything
// from elsewhere being forwarded into the bridge; pods get routes for the pod CIDR (the link)
// and the service CIDR only, no default route, and a resolv.conf with no nameserver;
// NodePorts listen on the bridge address only. ip_forward (which the CNI bridge plugin turns
// on) and the kernel settings the kubelet changes are recorded first and restored on teardown.
// Images are imported (ctr -n k8s.io images import); a ValidatingAdmissionPolicy rejects every
// pod whose containers do not all use imagePullPolicy: Never, so nothing ever tries a registry.
//
// Optional stand-ins for what a real cluster has: Options.ClusterDNS (a DNS server on NodeIP
// that resolves Service names to ClusterIPs and nothing else, dns.go) and
// InstallV3IOStandIn (the platform's v3io/fuse flexVolume driver, serving real FUSE mounts of a
// host directory, internal/testnode/v3iofuse).
package testnode

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
)

// The node's fixed names and addresses. The CIDRs are private ranges no other part of this
// project or of this machine uses; Start refuses to run if they are already routed.
const (
	NodeName    = "codehub-node"
	Bridge      = "codehub-br0"
	PodCIDR     = "10.213.0.0/24"
	ServiceCIDR = "10.214.0.0/24"
	// NodeIP is the bridge's address: the node's InternalIP, where kube-apiserver, the
	// kubelet and NodePorts listen. Pods reach the host only here.
	NodeIP = "10.213.0.1"
	// KubernetesServiceIP is the first service IP, the in-cluster kube-apiserver address.
	KubernetesServiceIP = "10.214.0.1"
	APIServerPort       = 6443

	// Marker names everything the node creates: directories, rule comments, the CNI network.
	Marker   = "codehub-testnode"
	StateDir = "/var/lib/" + Marker
	RunDir   = "/run/" + Marker
	// LockPath is the machine-wide lock (an empty file that stays: it is the lock, not state).
	LockPath = "/run/lock/" + Marker + ".lock"

	// PauseImage is the sandbox image name containerd is told to use (built here, never pulled).
	PauseImage = "registry.k8s.io/pause:3.10"
	// NeverPullPolicy is the ValidatingAdmissionPolicy (and binding) rejecting any other pull policy.
	NeverPullPolicy = Marker + "-image-pull-never"
)

const (
	etcdClientPort = 12379
	etcdPeerPort   = 12380
	kubeletPort    = 10250
	kubeletHealthz = 10248
	proxyHealthz   = 10256
	proxyMetrics   = 10249
	kcmPort        = 10257
	schedulerPort  = 10259
)

// Options configure Start.
type Options struct {
	// Images are docker-archive or OCI tarballs imported into the node's containerd (the
	// k8s.io namespace) before Start returns, e.g. the files of testenv.Images.
	Images []string
	// Binaries is the directory with etcd, kube-apiserver, kube-controller-manager,
	// kube-scheduler, kubelet, kube-proxy and kubectl (scripts/install-control-plane.sh).
	Binaries string
	// RepoRoot is the repository root, to build the pause program (internal/testnode/pause).
	RepoRoot string
	// Logf receives progress lines (t.Logf); nil = silent.
	Logf func(format string, args ...any)
	// LockTimeout bounds the wait for another node on this machine to go (default 15 min).
	LockTimeout time.Duration
	// ClusterDNS runs a stand-in for the cluster's DNS on NodeIP:53 (dns.go: Service names
	// resolve to their ClusterIPs, nothing else resolves) and gives pods it as their name
	// server, so in-cluster URLs such as http://<svc>.<ns>.svc:8080 work as on a real
	// cluster. Off: pods have no name server at all.
	ClusterDNS bool
}

// Node is a running node. Its fields are read-only.
type Node struct {
	// Kubeconfig is an admin (system:masters) kubeconfig file for kubectl.
	Kubeconfig string
	// Config and Client are the same admin identity for client-go.
	Config *rest.Config
	Client kubernetes.Interface
	// Kubectl is the kubectl binary of the same build.
	Kubectl string
	// Timings of the bring-up, by phase, for benchmarks.
	Timings []Timing

	opts  Options
	lock  *os.File
	procs map[string]*proc
	dns   *clusterDNS
	mu    sync.Mutex
	down  bool
}

// Timing is how long one bring-up phase took.
type Timing struct {
	Phase string
	Took  time.Duration
}

// APIServerURL is where the apiserver listens (from the host and from pods, via the bridge).
func (n *Node) APIServerURL() string { return fmt.Sprintf("https://%s:%d", NodeIP, APIServerPort) }

// Start brings a node up for the test t and registers its teardown (with the leftover check:
// the test fails if anything of the node survives it). On failure the components' log tails
// are logged. Needs root.
func Start(t testing.TB, opts Options) *Node {
	t.Helper()
	if opts.Logf == nil {
		opts.Logf = t.Logf
	}
	n, err := Up(context.Background(), opts)
	if err != nil {
		t.Fatalf("test node: %v", err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			n.LogTails(t.Logf, 40)
		}
		if err := n.Down(); err != nil {
			t.Errorf("test node teardown: %v", err)
		}
		if left := Leftovers(); len(left) > 0 {
			t.Errorf("test node left behind:\n  %s", strings.Join(left, "\n  "))
		}
	})
	return n
}

// Up brings a node up: lock, leftovers of an earlier run torn down, baseline recorded, PKI and
// configuration, network guards, containerd and images, etcd, kube-apiserver, the admission
// policy, kube-controller-manager, kube-scheduler, kubelet (node Ready), kube-proxy. On error
// everything started is torn down again. The caller must call Down.
func Up(ctx context.Context, opts Options) (*Node, error) {
	if os.Geteuid() != 0 {
		return nil, errors.New("needs root (network namespaces, iptables, mounts, cgroups)")
	}
	if opts.LockTimeout == 0 {
		opts.LockTimeout = 15 * time.Minute
	}
	if opts.Logf == nil {
		opts.Logf = func(string, ...any) {}
	}
	for _, b := range []string{"etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler", "kubelet", "kube-proxy", "kubectl"} {
		if st, err := os.Stat(filepath.Join(opts.Binaries, b)); err != nil || st.Mode()&0o111 == 0 {
			return nil, fmt.Errorf("%s not in %q: run scripts/install-control-plane.sh", b, opts.Binaries)
		}
	}
	for _, b := range []string{"containerd", "containerd-shim-runc-v2", "runc", "ctr", "iptables", "ip6tables", "iptables-save", "iptables-restore", "ip", "conntrack"} {
		if _, err := lookPath(b); err != nil {
			return nil, fmt.Errorf("%s: %v: run scripts/install-container-tools.sh", b, err)
		}
	}
	for _, p := range []string{"bridge", "host-local", "loopback"} {
		if _, err := os.Stat(filepath.Join(cniBinDir, p)); err != nil {
			return nil, fmt.Errorf("CNI plugin %s: %v: run scripts/install-container-tools.sh", p, err)
		}
	}
	lock, err := takeLock(opts.LockTimeout, opts.Logf)
	if err != nil {
		return nil, err
	}
	n := &Node{opts: opts, lock: lock, procs: map[string]*proc{}, Kubectl: filepath.Join(opts.Binaries, "kubectl")}
	if leftover := Leftovers(); len(leftover) > 0 {
		opts.Logf("testnode: leftovers of an earlier run (%s ...): tearing them down first", leftover[0])
		if err := teardown(n); err != nil {
			n.releaseLock()
			return nil, fmt.Errorf("tearing down an earlier node: %w", err)
		}
		if left := Leftovers(); len(left) > 0 {
			n.releaseLock()
			return nil, fmt.Errorf("an earlier node could not be removed:\n  %s", strings.Join(left, "\n  "))
		}
	}
	if err := n.up(ctx); err != nil {
		n.LogTails(opts.Logf, 30)
		if derr := n.Down(); derr != nil {
			err = fmt.Errorf("%w (and its teardown: %v)", err, derr)
		}
		return nil, err
	}
	return n, nil
}

func (n *Node) phase(name string, start time.Time) {
	d := time.Since(start)
	n.Timings = append(n.Timings, Timing{name, d})
	n.opts.Logf("testnode: %-28s %6.2fs", name, d.Seconds())
}

func (n *Node) up(ctx context.Context) error {
	t0 := time.Now()
	if err := checkAddressesFree(); err != nil {
		return err
	}
	if err := recordBaseline(); err != nil {
		return err
	}
	for _, d := range []string{StateDir, RunDir, logDir} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return err
		}
	}
	if err := writePKI(); err != nil {
		return fmt.Errorf("PKI: %w", err)
	}
	if err := writeConfigs(n.opts.ClusterDNS); err != nil {
		return fmt.Errorf("configuration: %w", err)
	}
	n.phase("PKI and configuration", t0)

	t := time.Now()
	if err := setupNetwork(); err != nil {
		return fmt.Errorf("network guards: %w", err)
	}
	n.phase("bridge, route, guards", t)

	t = time.Now()
	pauseTar, err := buildPauseImage(ctx, n.opts.RepoRoot)
	if err != nil {
		return fmt.Errorf("pause image: %w", err)
	}
	n.phase("pause image", t)

	t = time.Now()
	if err := n.startContainerd(ctx); err != nil {
		return err
	}
	n.phase("containerd", t)

	// Images import while the control plane starts.
	imported := make(chan error, 1)
	go func() {
		t := time.Now()
		err := importImages(ctx, append([]string{pauseTar}, n.opts.Images...))
		if err == nil {
			n.mu.Lock()
			n.phase("images imported", t)
			n.mu.Unlock()
		}
		imported <- err
	}()

	t = time.Now()
	if err := n.startControlPlane(ctx); err != nil {
		<-imported
		return err
	}
	n.mu.Lock()
	n.phase("etcd, apiserver, KCM, sched", t)
	n.mu.Unlock()

	t = time.Now()
	if err := n.installNeverPullPolicy(ctx); err != nil {
		<-imported
		return fmt.Errorf("admission policy: %w", err)
	}
	n.mu.Lock()
	n.phase("admission policy enforced", t)
	n.mu.Unlock()

	if n.opts.ClusterDNS {
		if err := n.startClusterDNS(); err != nil {
			<-imported
			return fmt.Errorf("cluster DNS stand-in on %s:%d: %w", NodeIP, DNSPort, err)
		}
	}
	if err := <-imported; err != nil {
		return fmt.Errorf("importing images: %w", err)
	}
	t = time.Now()
	if err := n.startKubelet(ctx); err != nil {
		return err
	}
	n.phase("kubelet, node Ready", t)
	t = time.Now()
	if err := n.startKubeProxy(ctx); err != nil {
		return err
	}
	n.phase("kube-proxy", t)
	n.phase("node up (total)", t0)
	return nil
}

// Down tears the node down (see teardown) and releases the machine lock. Idempotent.
func (n *Node) Down() error {
	n.mu.Lock()
	if n.down {
		n.mu.Unlock()
		return nil
	}
	n.down = true
	n.mu.Unlock()
	t := time.Now()
	err := teardown(n)
	n.Timings = append(n.Timings, Timing{"teardown", time.Since(t)})
	n.opts.Logf("testnode: %-28s %6.2fs", "teardown", time.Since(t).Seconds())
	n.releaseLock()
	return err
}

func (n *Node) releaseLock() {
	if n.lock != nil {
		_ = syscall.Flock(int(n.lock.Fd()), syscall.LOCK_UN)
		_ = n.lock.Close()
		n.lock = nil
	}
}

// takeLock holds LockPath exclusively (polling, bounded by timeout).
func takeLock(timeout time.Duration, logf func(string, ...any)) (*os.File, error) {
	if err := os.MkdirAll(filepath.Dir(LockPath), 0o755); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(LockPath, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, err
	}
	deadline := time.Now().Add(timeout)
	logged := false
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			return f, nil
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) {
			f.Close()
			return nil, fmt.Errorf("lock %s: %w", LockPath, err)
		}
		if time.Now().After(deadline) {
			f.Close()
			return nil, fmt.Errorf("another test node holds %s for more than %s", LockPath, timeout)
		}
		if !logged {
			logf("testnode: waiting for the node another test runs on this machine (%s)", LockPath)
			logged = true
		}
		time.Sleep(500 * time.Millisecond)
	}
}

// Clean tears down whatever a node left on this machine (e.g. after its test process was
// killed), under the machine lock, and returns what is still left. Start does the same
// before bringing a node up.
func Clean(opts Options) ([]string, error) {
	if opts.Logf == nil {
		opts.Logf = func(string, ...any) {}
	}
	if opts.LockTimeout == 0 {
		opts.LockTimeout = time.Minute
	}
	lock, err := takeLock(opts.LockTimeout, opts.Logf)
	if err != nil {
		return nil, err
	}
	n := &Node{opts: opts, lock: lock, procs: map[string]*proc{}}
	defer n.releaseLock()
	if len(Leftovers()) == 0 {
		return nil, nil
	}
	err = teardown(n)
	return Leftovers(), err
}
