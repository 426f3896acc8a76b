package testnode

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
)

// proc is one component process, started by its real binary (so the PID file is right).
type proc struct {
	name string
	cmd  *exec.Cmd
	done chan struct{}
	err  error
}

var pidDir = filepath.Join(RunDir, "pids")

func (n *Node) start(name, bin string, args ...string) (*proc, error) {
	if err := os.MkdirAll(pidDir, 0o700); err != nil {
		return nil, err
	}
	logf, err := os.OpenFile(filepath.Join(logDir, name+".log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.Dir = StateDir
	cmd.Env = []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "HOME=" + StateDir}
	// Own process group (no terminal signals); killed if the test process dies (a later Start
	// tears down whatever that leaves, e.g. containerd's shims).
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		logf.Close()
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	logf.Close()
	p := &proc{name: name, cmd: cmd, done: make(chan struct{})}
	go func() { p.err = cmd.Wait(); close(p.done) }()
	_ = os.WriteFile(filepath.Join(pidDir, name+".pid"), []byte(strconv.Itoa(cmd.Process.Pid)), 0o600)
	n.mu.Lock()
	n.procs[name] = p
	n.mu.Unlock()
	return p, nil
}

// stop sends SIGTERM, then SIGKILL after grace, and waits for the exit.
func (p *proc) stop(grace time.Duration) {
	select {
	case <-p.done:
		return
	default:
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(grace):
		_ = p.cmd.Process.Kill()
		<-p.done
	}
	_ = os.Remove(filepath.Join(pidDir, p.name+".pid"))
}

func (p *proc) exited() error {
	select {
	case <-p.done:
		return fmt.Errorf("%s exited: %v (log: %s)", p.name, p.err, filepath.Join(logDir, p.name+".log"))
	default:
		return nil
	}
}

// waitFor polls cond every 200 ms until it returns nil, a process of the node exits, or the
// deadline passes (the last error is returned).
func (n *Node) waitFor(ctx context.Context, what string, within time.Duration, cond func() error) error {
	deadline := time.Now().Add(within)
	var last error
	for {
		if last = cond(); last == nil {
			return nil
		}
		n.mu.Lock()
		for _, p := range n.procs {
			if err := p.exited(); err != nil {
				n.mu.Unlock()
				return fmt.Errorf("waiting for %s: %w", what, err)
			}
		}
		n.mu.Unlock()
		if time.Now().After(deadline) {
			return fmt.Errorf("%s not within %s: %v", what, within, last)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
}

func (n *Node) startContainerd(ctx context.Context) error {
	bin, _ := lookPath("containerd")
	if _, err := n.start("containerd", bin, "--config", containerdConfig); err != nil {
		return err
	}
	return n.waitFor(ctx, "containerd", 30*time.Second, func() error {
		_, err := ctr(ctx, "version")
		return err
	})
}

// ctr runs ctr against the node's containerd, in the k8s.io namespace (the CRI's).
func ctr(ctx context.Context, args ...string) (string, error) {
	bin, err := lookPath("ctr")
	if err != nil {
		return "", err
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, bin, append([]string{"--address", containerdSock, "--namespace", "k8s.io"}, args...)...).CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("ctr %s: %v: %s", strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	return string(out), nil
}

func importImages(ctx context.Context, tars []string) error {
	for _, tar := range tars {
		if _, err := ctr(ctx, "images", "import", "--snapshotter", "overlayfs", tar); err != nil {
			return err
		}
	}
	return nil
}

// admin client-side TLS for health probes.
func adminTLS() (*tls.Config, error) {
	ca, err := os.ReadFile(pkiPath("ca.crt"))
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(ca)
	cert, err := tls.LoadX509KeyPair(pkiPath("admin.crt"), pkiPath("admin.key"))
	if err != nil {
		return nil, err
	}
	return &tls.Config{RootCAs: pool, Certificates: []tls.Certificate{cert}}, nil
}

func httpOK(client *http.Client, url string) error {
	resp, err := client.Get(url)
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	return nil
}

func (n *Node) startControlPlane(ctx context.Context) error {
	bin := func(b string) string { return filepath.Join(n.opts.Binaries, b) }
	etcdURL := fmt.Sprintf("http://127.0.0.1:%d", etcdClientPort)
	peerURL := fmt.Sprintf("http://127.0.0.1:%d", etcdPeerPort)
	if _, err := n.start("etcd", bin("etcd"), "--name", Marker, "--data-dir", filepath.Join(StateDir, "etcd"),
		"--listen-client-urls", etcdURL, "--advertise-client-urls", etcdURL,
		"--listen-peer-urls", peerURL, "--initial-advertise-peer-urls", peerURL,
		"--initial-cluster", Marker+"="+peerURL, "--unsafe-no-fsync", "--log-level", "warn"); err != nil {
		return err
	}
	plain := &http.Client{Timeout: 2 * time.Second}
	if err := n.waitFor(ctx, "etcd", 30*time.Second, func() error { return httpOK(plain, etcdURL+"/health") }); err != nil {
		return err
	}
	if _, err := n.start("kube-apiserver", bin("kube-apiserver"),
		"--etcd-servers", etcdURL,
		"--bind-address", NodeIP, "--advertise-address", NodeIP, "--secure-port", strconv.Itoa(APIServerPort),
		"--cert-dir", filepath.Join(StateDir, "apiserver"),
		"--tls-cert-file", pkiPath("apiserver.crt"), "--tls-private-key-file", pkiPath("apiserver.key"),
		"--client-ca-file", pkiPath("ca.crt"),
		"--kubelet-client-certificate", pkiPath("apiserver-kubelet-client.crt"), "--kubelet-client-key", pkiPath("apiserver-kubelet-client.key"),
		"--kubelet-certificate-authority", pkiPath("ca.crt"), "--kubelet-preferred-address-types", "InternalIP",
		"--service-account-issuer", "https://kubernetes.default.svc.cluster.local",
		"--service-account-key-file", pkiPath("sa.pub"), "--service-account-signing-key-file", pkiPath("sa.key"),
		"--service-cluster-ip-range", ServiceCIDR,
		"--authorization-mode", "Node,RBAC", "--enable-admission-plugins", "NodeRestriction",
		"--allow-privileged=false", "--profiling=false", "--v", "1"); err != nil {
		return err
	}
	tlsCfg, err := adminTLS()
	if err != nil {
		return err
	}
	secure := &http.Client{Timeout: 3 * time.Second, Transport: &http.Transport{TLSClientConfig: tlsCfg}}
	if err := n.waitFor(ctx, "kube-apiserver /readyz", 90*time.Second, func() error {
		return httpOK(secure, n.APIServerURL()+"/readyz")
	}); err != nil {
		return err
	}
	n.Kubeconfig = kubeconfigPath("admin")
	cfg, err := clientcmd.BuildConfigFromFlags("", n.Kubeconfig)
	if err != nil {
		return err
	}
	cfg.QPS, cfg.Burst = 50, 100
	n.Config = cfg
	if n.Client, err = kubernetes.NewForConfig(cfg); err != nil {
		return err
	}

	common := func(who string) []string {
		kc := kubeconfigPath(who)
		return []string{"--kubeconfig", kc, "--authentication-kubeconfig", kc, "--authorization-kubeconfig", kc,
			"--bind-address", "127.0.0.1", "--leader-elect=false", "--cert-dir", filepath.Join(StateDir, who), "--v", "1"}
	}
	if _, err := n.start("kube-controller-manager", bin("kube-controller-manager"), append(common("kube-controller-manager"),
		"--secure-port", strconv.Itoa(kcmPort),
		"--service-account-private-key-file", pkiPath("sa.key"), "--root-ca-file", pkiPath("ca.crt"),
		"--use-service-account-credentials=true", "--service-cluster-ip-range", ServiceCIDR,
		"--cluster-signing-cert-file", pkiPath("ca.crt"), "--cluster-signing-key-file", pkiPath("ca.key"),
		"--flex-volume-plugin-dir", volumePluginDir, "--controllers", "*,-nodeipam,-service-lb-controller,-cloud-node-lifecycle-controller")...); err != nil {
		return err
	}
	if _, err := n.start("kube-scheduler", bin("kube-scheduler"), append(common("kube-scheduler"),
		"--secure-port", strconv.Itoa(schedulerPort))...); err != nil {
		return err
	}
	// Without kube-controller-manager there is no default ServiceAccount (every pod is refused).
	return n.waitFor(ctx, "the default ServiceAccount and kube-root-ca.crt", 60*time.Second, func() error {
		if _, err := n.Client.CoreV1().ServiceAccounts("default").Get(ctx, "default", metav1.GetOptions{}); err != nil {
			return err
		}
		_, err := n.Client.CoreV1().ConfigMaps("default").Get(ctx, "kube-root-ca.crt", metav1.GetOptions{})
		return err
	})
}

func (n *Node) startKubelet(ctx context.Context) error {
	if _, err := n.start("kubelet", filepath.Join(n.opts.Binaries, "kubelet"),
		"--config", filepath.Join(StateDir, "kubelet.yaml"), "--kubeconfig", kubeconfigPath("kubelet"),
		"--root-dir", kubeletRoot, "--cert-dir", filepath.Join(kubeletRoot, "pki"),
		"--node-ip", NodeIP, "--hostname-override", NodeName, "--v", "1"); err != nil {
		return err
	}
	return n.waitFor(ctx, "node "+NodeName+" Ready", 90*time.Second, func() error {
		node, err := n.Client.CoreV1().Nodes().Get(ctx, NodeName, metav1.GetOptions{})
		if err != nil {
			return err
		}
		for _, c := range node.Status.Conditions {
			if c.Type == corev1.NodeReady {
				if c.Status == corev1.ConditionTrue {
					return nil
				}
				return fmt.Errorf("node condition Ready=%s: %s", c.Status, c.Message)
			}
		}
		return errors.New("no Ready condition yet")
	})
}

func (n *Node) startKubeProxy(ctx context.Context) error {
	if _, err := n.start("kube-proxy", filepath.Join(n.opts.Binaries, "kube-proxy"),
		"--config", filepath.Join(StateDir, "kube-proxy.yaml"), "--v", "1"); err != nil {
		return err
	}
	plain := &http.Client{Timeout: 2 * time.Second}
	return n.waitFor(ctx, "kube-proxy healthz (rules synced)", 60*time.Second, func() error {
		return httpOK(plain, fmt.Sprintf("http://127.0.0.1:%d/healthz", proxyHealthz))
	})
}

// LogTails passes the last lines of each component's log to logf.
func (n *Node) LogTails(logf func(string, ...any), lines int) {
	entries, _ := os.ReadDir(logDir)
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join(logDir, e.Name()))
		if err != nil {
			continue
		}
		all := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
		if len(all) > lines {
			all = all[len(all)-lines:]
		}
		logf("testnode: last lines of %s:\n%s", e.Name(), strings.Join(all, "\n"))
	}
}

// KubectlCmd runs kubectl with the admin kubeconfig and returns its combined output.
func (n *Node) KubectlCmd(ctx context.Context, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, n.Kubectl, append([]string{"--kubeconfig", n.Kubeconfig}, args...)...)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// readPIDs returns the PIDs recorded in RunDir/pids (processes of an earlier node).
func readPIDs() map[string]int {
	pids := map[string]int{}
	entries, _ := os.ReadDir(pidDir)
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join(pidDir, e.Name()))
		if err != nil {
			continue
		}
		if pid, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil {
			pids[strings.TrimSuffix(e.Name(), ".pid")] = pid
		}
	}
	return pids
}

// ourProcesses lists the processes of a node: a command line naming the node's directories,
// or membership of the kubelet's kubepods cgroups (the pods' own processes).
func ourProcesses() map[int]string {
	found := map[int]string{}
	entries, _ := os.ReadDir("/proc")
	self := os.Getpid()
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == self {
			continue
		}
		cmdline, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
		cl := strings.ReplaceAll(strings.TrimRight(string(cmdline), "\x00"), "\x00", " ")
		if strings.Contains(cl, Marker) {
			found[pid] = cl
			continue
		}
		if f, err := os.Open(fmt.Sprintf("/proc/%d/cgroup", pid)); err == nil {
			sc := bufio.NewScanner(f)
			for sc.Scan() {
				if strings.Contains(sc.Text(), ":/kubepods") {
					found[pid] = "(in kubepods) " + cl
					break
				}
			}
			f.Close()
		}
	}
	return found
}

func ignoreNotFound(err error) error {
	if apierrors.IsNotFound(err) {
		return nil
	}
	return err
}

// PIDs returns the PID of each component process the node started.
func (n *Node) PIDs() map[string]int {
	n.mu.Lock()
	defer n.mu.Unlock()
	pids := map[string]int{}
	for name, p := range n.procs {
		pids[name] = p.cmd.Process.Pid
	}
	return pids
}
