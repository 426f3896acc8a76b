package main

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	codehubv1 "github.com/codehub-dev/codehub/api/v1alpha1"
	"github.com/codehub-dev/codehub/internal/identity"
	"github.com/codehub-dev/codehub/internal/testkit"
	"github.com/codehub-dev/codehub/internal/workspacebuild"
)

// podCodeServer is code-server started the way a workspace pod starts it.
type podCodeServer struct {
	pid        int    // the container's process: codehub-init, then (same pid) code-server
	base       string // http://127.0.0.1:<port>
	credential string // the value of the workspace's Secret
	home       string // what the pod sees as /home (its home volume is /home/codehub)
	logs       logReader
	exited     chan error
}

func randomHex(t *testing.T) string {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}

// startPodCodeServer renders a Workspace's Secret, ConfigMap and Deployment with the
// operator's builders and plays the kubelet: the container's command (codehub-init, found on
// PATH, as in the image) runs with the container's args and env, secretKeyRefs resolved
// from the Secret. Only what differs from a pod is replaced: the ConfigMap volume becomes
// the rendered init.json in a temp dir, the home volume a temp dir bind-mounted over /home
// in a private mount namespace (so /home/codehub is the path code-server really uses), and
// --bind-addr 127.0.0.1:<free port> is appended (flags win over the config file).
func startPodCodeServer(t *testing.T, o workspacebuild.Options) *podCodeServer {
	t.Helper()
	codeServer := testkit.CodeServer(t)
	tmp := t.TempDir()
	binDir := filepath.Join(tmp, "bin")
	testkit.GoBuild(t, filepath.Join(binDir, "codehub-init"), "./cmd/codehub-init")

	ws := &codehubv1.Workspace{
		ObjectMeta: metav1.ObjectMeta{Name: identity.WorkspaceName("alice"), Namespace: "default-tenant", UID: "6a1c43f2-2f5e-4d1b-9c36-0d7e8b2f9a10"},
		Spec:       codehubv1.WorkspaceSpec{User: "alice", Running: true},
	}
	p := &podCodeServer{credential: randomHex(t), home: filepath.Join(tmp, "home-volume-root"), exited: make(chan error, 1)}
	secret := workspacebuild.CredentialSecret(ws, p.credential)
	container := workspacebuild.Deployment(ws, o, p.credential).Spec.Template.Spec.Containers[0]

	configDir := filepath.Join(tmp, "configmap")
	must(t, os.MkdirAll(configDir, 0o755))
	for k, v := range workspacebuild.ConfigMap(ws).Data {
		must(t, os.WriteFile(filepath.Join(configDir, k), []byte(v), 0o644))
	}
	must(t, os.MkdirAll(filepath.Join(p.home, "codehub"), 0o755))

	args := append([]string{}, container.Args...)
	for i, a := range args {
		if a == workspacebuild.InitConfigFile {
			args[i] = filepath.Join(configDir, filepath.Base(workspacebuild.InitConfigFile))
		}
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	must(t, err)
	port := l.Addr().(*net.TCPAddr).Port
	must(t, l.Close())
	p.base = "http://127.0.0.1:" + strconv.Itoa(port)
	args = append(args, "--bind-addr", "127.0.0.1:"+strconv.Itoa(port))

	// The image's PATH has codehub-init and code-server; the rest of the env is the pod's.
	env := []string{"PATH=" + binDir + ":" + filepath.Dir(codeServer) + ":" + os.Getenv("PATH")}
	for _, e := range container.Env {
		switch {
		case e.ValueFrom == nil:
			env = append(env, e.Name+"="+e.Value)
		case e.ValueFrom.SecretKeyRef != nil && e.ValueFrom.SecretKeyRef.Name == secret.Name:
			env = append(env, e.Name+"="+string(secret.Data[e.ValueFrom.SecretKeyRef.Key]))
		default:
			t.Fatalf("env %s: a source the test cannot play: %+v", e.Name, e.ValueFrom)
		}
	}
	if len(container.Command) != 1 || container.Command[0] != "codehub-init" {
		t.Fatalf("container command %q, want [codehub-init]", container.Command)
	}
	// unshare execs sh, which execs codehub-init, which execs code-server: one pid, as in the pod.
	script := `mount --bind "$1" /home || exit 97; shift; exec "$@"`
	cmd := exec.Command("unshare", append([]string{"--mount", "--propagation", "private", "--", "/bin/sh", "-c", script, "sh", p.home, container.Command[0]}, args...)...)
	cmd.Env = env
	logFile, err := os.Create(filepath.Join(tmp, "pod.log"))
	must(t, err)
	t.Cleanup(func() { logFile.Close() })
	p.logs = logReader(logFile.Name())
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	must(t, cmd.Start())
	p.pid = cmd.Process.Pid
	go func() { p.exited <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = syscall.Kill(-p.pid, syscall.SIGKILL)
		select {
		case <-p.exited:
		case <-time.After(10 * time.Second):
		}
	})

	client := &http.Client{Timeout: 2 * time.Second}
	waitHealthz(t, "the pod's /healthz answers", func() bool { return healthy(client, p.base+"/healthz") }, p.exited, p.logs)
	cmdline, err := os.ReadFile("/proc/" + strconv.Itoa(p.pid) + "/cmdline")
	must(t, err)
	if !strings.Contains(string(cmdline), "code-server") {
		t.Fatalf("pid %d runs %q, want code-server", p.pid, strings.ReplaceAll(string(cmdline), "\x00", " "))
	}
	for _, want := range []string{"Authentication is enabled", "Using password from $HASHED_PASSWORD", "Using user-data-dir /home/codehub/"} {
		if !strings.Contains(p.logs.String(), want) {
			t.Fatalf("code-server's log lacks %q:\n%s", want, p.logs.String())
		}
	}
	return p
}

// descendants lists the processes below pid (children, grandchildren, ...), read from /proc.
func descendants(pid int) []int {
	parent := map[int][]int{}
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		n, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		stat, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		// pid (comm) state ppid ...: comm may hold spaces, so split after the last ')'.
		f := strings.Fields(string(stat[strings.LastIndexByte(string(stat), ')')+1:]))
		if len(f) > 1 {
			if pp, err := strconv.Atoi(f[1]); err == nil {
				parent[pp] = append(parent[pp], n)
			}
		}
	}
	var out []int
	for queue := parent[pid]; len(queue) > 0; queue = queue[1:] {
		out = append(out, queue[0])
		queue = append(queue, parent[queue[0]]...)
	}
	return out
}

// environ returns a process's initial environment (what it was exec'd or forked with); nil
// for a process that has exited meanwhile (VS Code runs short-lived helpers, e.g. its port
// scanner's ls).
func environ(t *testing.T, pid int) []string {
	t.Helper()
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/environ")
	if errors.Is(err, os.ErrNotExist) || errors.Is(err, syscall.ESRCH) {
		return nil
	}
	if err != nil {
		t.Fatalf("environ of %d: %v", pid, err)
	}
	return strings.Split(string(b), "\x00")
}

func cmdlineOf(pid int) string {
	b, _ := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cmdline")
	return strings.ReplaceAll(strings.TrimRight(string(b), "\x00"), "\x00", " ")
}

// checkChildrenEnv fails if any descendant of the pod's process has the credential in its
// environment, and returns the descendants' command lines.
func (p *podCodeServer) checkChildrenEnv(t *testing.T) []string {
	t.Helper()
	var seen []string
	for _, pid := range descendants(p.pid) {
		cl := cmdlineOf(pid)
		seen = append(seen, strconv.Itoa(pid)+": "+cl)
		for _, kv := range environ(t, pid) {
			if strings.HasPrefix(kv, workspacebuild.EnvCredential+"=") || strings.Contains(kv, p.credential) {
				t.Errorf("child %d (%s) has the credential in its environment (%s…)", pid, cl, kv[:min(len(kv), 20)])
			}
		}
	}
	return seen
}
