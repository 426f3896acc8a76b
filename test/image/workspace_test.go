// Package image runs the images scripts/build-images.sh built for real (buildah, from the
// project's Dockerfiles): the workspace image under podman + runc through its real entrypoint
// (tini → codehub-init → code-server), as the image's own uid and as an arbitrary uid with no
// passwd entry, in a private network namespace whose only link is a veth to this host (no
// default route), with a host directory as home and a fake ServiceAccount.
//
// What stands in for what (the image is built offline, see scripts/build-images.sh): the base is
// a Debian bookworm rootfs made with mmdebstrap; /opt/conda is the labelled conda SUBSTITUTE (a
// venv over Debian's python3 with an empty conda-meta/, no conda binary); the builtin extensions
// are two minimal test VSIX files, not the pinned Open VSX ones.
package image

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/codehub-dev/codehub/internal/testkit"
)

const workspaceRef = "docker.io/library/codehub-workspace:latest"

// TestWorkspaceImageRuns starts the workspace image twice, as uid 1000 (the image's user) and
// as uid 12345 with no passwd entry (Kubernetes runAsUser), and checks what a user gets.
func TestWorkspaceImageRuns(t *testing.T) {
	pm := newPodman(t)
	cases := []struct {
		name string
		uid  int
		args []string
	}{
		{"uid-1000", 1000, []string{"--user", "1000:0"}},
		{"uid-12345-no-passwd-entry", 12345, []string{"--user", "12345:0", "--passwd=false"}},
	}
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ns := newNetns(t, i)
			home := t.TempDir()
			if err := os.Chown(home, c.uid, 0); err != nil {
				t.Fatal(err)
			}
			sa := fakeServiceAccount(t)
			name := fmt.Sprintf("codehub-imgtest-%d-%d", os.Getpid(), i)
			args := append([]string{"run", "-d", "--name", name, "--network", "ns:" + ns.path,
				"-v", home + ":/home/codehub", "-v", sa + ":/var/run/secrets/kubernetes.io/serviceaccount:ro",
				"-e", "KUBERNETES_SERVICE_HOST=10.214.0.1", "-e", "KUBERNETES_SERVICE_PORT=443"}, c.args...)
			started := time.Now()
			pm.run(t, append(args, workspaceRef)...)
			t.Cleanup(func() { _, _ = pm.output(context.Background(), "rm", "-f", "-t", "0", name) })

			base := "http://" + ns.peerIP + ":8080"
			waitHealthz(t, pm, name, base+"/healthz", 90*time.Second)
			t.Logf("/healthz 200 %.1fs after podman run", time.Since(started).Seconds())
			checkWorkbench(t, base)

			// codehub-init's files, in the host directory that is the home.
			for _, f := range []string{".kube/config", ".condarc", ".conda/environments.txt",
				".local/share/codehub/user-data/User/settings.json"} {
				st, err := os.Stat(filepath.Join(home, f))
				if err != nil {
					t.Errorf("codehub-init did not write ~/%s: %v", f, err)
					continue
				}
				if got := int(st.Sys().(*syscall.Stat_t).Uid); got != c.uid {
					t.Errorf("~/%s is owned by uid %d, want %d", f, got, c.uid)
				}
			}
			// The labelled substitute at /opt/conda is what VS Code's Python tooling sees as an env.
			if b, _ := os.ReadFile(filepath.Join(home, ".conda/environments.txt")); !strings.Contains(string(b), "/opt/conda\n") {
				t.Errorf("environments.txt does not list /opt/conda (the conda substitute):\n%s", b)
			}
			exts, _ := filepath.Glob(filepath.Join(home, ".local/share/codehub/extensions/codehub-test.*"))
			if len(exts) != 2 {
				t.Errorf("builtin test extensions installed: %v, want codehub-test.hello and codehub-test.world", exts)
			}

			view := pm.exec(t, name, "kubectl", "config", "view", "-o", "jsonpath={.clusters[0].cluster.server} {.contexts[0].context.namespace} {.users[0].user.tokenFile}")
			if want := "https://10.214.0.1:443 default-tenant /var/run/secrets/kubernetes.io/serviceaccount/token"; view != want {
				t.Errorf("kubectl config view inside = %q, want %q", view, want)
			}
			if id := pm.exec(t, name, "id", "-u"); id != fmt.Sprint(c.uid) {
				t.Errorf("runs as uid %s, want %d", id, c.uid)
			}
			pm.exec(t, name, "python3", "-c", "import pip, pylint, ipykernel, notebook")
			for _, tool := range [][]string{{"pip", "--version"}, {"pylint", "--version"}, {"jupyter", "--version"}, {"git", "--version"}} {
				pm.exec(t, name, tool...)
			}
			if py := pm.exec(t, name, "sh", "-c", "command -v python3"); py != "/opt/conda/bin/python3" {
				t.Errorf("python3 on PATH is %s, want the /opt/conda one", py)
			}
			// Never a fake conda: the substitute is labelled and has no conda binary.
			pm.exec(t, name, "test", "-f", "/opt/conda/conda-meta/CODEHUB-SUBSTITUTE-NOT-CONDA.txt")
			if out, err := pm.output(context.Background(), "exec", name, "test", "-e", "/opt/conda/bin/conda"); err == nil {
				t.Errorf("/opt/conda/bin/conda exists in an image built with the conda substitute (%s)", out)
			}
			// The network namespace has one link, to this host, and no default route.
			routes := pm.exec(t, name, "cat", "/proc/net/route")
			for _, line := range strings.Split(routes, "\n")[1:] {
				if f := strings.Fields(line); len(f) > 1 && f[1] == "00000000" {
					t.Errorf("the container has a default route: %s", line)
				}
			}

			stopped := time.Now()
			pm.run(t, "kill", "--signal", "TERM", name)
			ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
			defer cancel()
			code, err := pm.output(ctx, "wait", name)
			if err != nil {
				t.Fatalf("podman wait after SIGTERM: %v (%s)", err, code)
			}
			took := time.Since(stopped)
			t.Logf("exit %s %.2fs after SIGTERM", code, took.Seconds())
			if code != "0" {
				t.Errorf("exit code after SIGTERM = %s, want 0; logs:\n%s", code, pm.logs(name))
			}
			if took > 5*time.Second {
				t.Errorf("took %s to exit after SIGTERM, want < 5s", took)
			}
		})
	}
}

// TestWorkspaceImageContents reads the image archive itself: the Dockerfile's SHELL (bash with
// pipefail) really is in the image config (buildah drops it unless --format docker), the image
// runs as 1000:0 through tini and codehub-init, and no layer carries apt's package cache or
// lists, or the Go caches mounted into the build.
func TestWorkspaceImageContents(t *testing.T) {
	forbidden := regexp.MustCompile(`^(go/|root/\.cache/go-build/|var/cache/apt/[^/]*\.bin$|var/cache/apt/archives/[^/]*\.deb$|var/lib/apt/lists/[^/]+$)`)
	var bad []string
	a := readArchive(t, filepath.Join(testkit.Images(t), "workspace.tar"), func(layer string, h *tar.Header, _ io.Reader) {
		// Whiteouts (.wh.*) record removals, e.g. of apt's lists dir entries of the base.
		if forbidden.MatchString(h.Name) && !strings.Contains(h.Name, "/.wh.") && h.Name != "var/lib/apt/lists/lock" {
			bad = append(bad, layer+": "+h.Name)
		}
	})
	if got := strings.Join(a.Config.Shell, " "); got != "/bin/bash -o pipefail -c" {
		t.Errorf("image SHELL = %q, want /bin/bash -o pipefail -c (buildah keeps SHELL only with --format docker)", got)
	}
	if a.Config.User != "1000:0" {
		t.Errorf("image USER = %q, want 1000:0", a.Config.User)
	}
	if got := strings.Join(a.Config.Entrypoint, " "); got != "/usr/bin/tini -- /usr/local/bin/codehub-init" {
		t.Errorf("ENTRYPOINT = %q", got)
	}
	if a.Layers < 5 {
		t.Errorf("only %d layers read from workspace.tar", a.Layers)
	}
	if len(bad) > 0 {
		t.Errorf("the image carries build caches (%d files), e.g. %v", len(bad), bad[:min(len(bad), 5)])
	}
}

// TestStaticImages checks the gateway and operator images: they run their binary as 65532
// (nonroot) on the distroless stand-in, whose home belongs to 65532 (so the gateway can write
// its state there), /tmp is 1777, and the CA bundle is Debian's, from the base rootfs (never
// the build host's bundle).
func TestStaticImages(t *testing.T) {
	pm := newPodman(t)
	images := testkit.Images(t)
	debianCA := fileFromTar(t, filepath.Join(images, "base", "rootfs.tar"), "etc/ssl/certs/ca-certificates.crt")
	for _, c := range []struct{ name, entrypoint, ref string }{
		{"gateway", "/codehub", "docker.io/library/codehub-gateway:"},
		{"operator", "/operator", "docker.io/library/codehub-operator:"},
	} {
		t.Run(c.name, func(t *testing.T) {
			files := map[string]*tar.Header{}
			var ca []byte
			a := readArchive(t, filepath.Join(images, c.name+".tar"), func(_ string, h *tar.Header, r io.Reader) {
				files[h.Name] = h
				if h.Name == "etc/ssl/certs/ca-certificates.crt" {
					ca, _ = io.ReadAll(r)
				}
			})
			if a.Config.User != "65532:65532" || len(a.Config.Entrypoint) != 1 || a.Config.Entrypoint[0] != c.entrypoint {
				t.Errorf("config: user %q entrypoint %v, want 65532:65532 [%s]", a.Config.User, a.Config.Entrypoint, c.entrypoint)
			}
			if h := files["home/nonroot/"]; h == nil || h.Uid != 65532 || h.Mode&0o777 != 0o700 {
				t.Errorf("/home/nonroot = %+v, want a directory of uid 65532, mode 0700", h)
			}
			if h := files["tmp/"]; h == nil || h.Mode&0o7777 != 0o1777 {
				t.Errorf("/tmp = %+v, want mode 1777", h)
			}
			if files["usr/share/zoneinfo/UTC"] == nil || files["etc/passwd"] == nil {
				t.Error("zoneinfo or /etc/passwd missing")
			}
			if len(ca) == 0 || !bytes.Equal(ca, debianCA) {
				t.Errorf("the CA bundle (%d bytes) is not Debian's from the base rootfs (%d bytes)", len(ca), len(debianCA))
			}
			ref := c.ref + strings.TrimSpace(appVersion(t))
			args := []string{"run", "--rm", "--network", "none"}
			if c.name == "operator" {
				args = append(args, ref, "-help")
			} else {
				args = append(args, ref, "--help")
			}
			// The binary runs as 65532 from the image's entrypoint (exit 0 on --help).
			if out := pm.run(t, args...); !strings.Contains(out, "Usage") {
				t.Errorf("%s --help:\n%s", c.name, out)
			}
		})
	}
}

func appVersion(t *testing.T) string {
	b, err := os.ReadFile(filepath.Join(testkit.RepoRoot(t), "charts/codehub/Chart.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^appVersion: "?([^"\n]+)"?$`).FindSubmatch(b)
	if m == nil {
		t.Fatal("no appVersion in Chart.yaml")
	}
	return string(m[1])
}

type archive struct {
	Config struct {
		User       string
		Shell      []string
		Entrypoint []string
	}
	Layers int
}

// readArchive reads a docker-archive: its one image's config, and every entry of every layer
// (names without "./"), passed to each.
func readArchive(t *testing.T, path string, each func(layer string, h *tar.Header, r io.Reader)) archive {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var manifest []struct{ Config string }
	configs := map[string][]byte{}
	var a archive
	outer := tar.NewReader(f)
	for {
		h, err := outer.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		switch {
		case h.Name == "manifest.json":
			if err := json.NewDecoder(outer).Decode(&manifest); err != nil {
				t.Fatal(err)
			}
		case strings.HasSuffix(h.Name, ".json"):
			b, _ := io.ReadAll(outer)
			configs[h.Name] = b
		case strings.HasSuffix(h.Name, ".tar"):
			a.Layers++
			inner := tar.NewReader(outer)
			for {
				ih, err := inner.Next()
				if err == io.EOF {
					break
				}
				if err != nil {
					t.Fatalf("%s layer %s: %v", path, h.Name, err)
				}
				ih.Name = strings.TrimPrefix(ih.Name, "./")
				each(h.Name, ih, inner)
			}
		}
	}
	if len(manifest) != 1 || configs[manifest[0].Config] == nil {
		t.Fatalf("%s: manifest %v, configs %d: not one docker-archive image", path, manifest, len(configs))
	}
	var cfg struct {
		Config json.RawMessage `json:"config"`
	}
	if err := json.Unmarshal(configs[manifest[0].Config], &cfg); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(cfg.Config, &a.Config); err != nil {
		t.Fatal(err)
	}
	return a
}

// fileFromTar returns one file of a plain tar (the base rootfs).
func fileFromTar(t *testing.T, path, name string) []byte {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	tr := tar.NewReader(f)
	for {
		h, err := tr.Next()
		if err != nil {
			t.Fatalf("%s: %s not found (%v)", path, name, err)
		}
		if strings.TrimPrefix(h.Name, "./") == name {
			b, _ := io.ReadAll(tr)
			return b
		}
	}
}

type podman struct{ env []string }

func newPodman(t *testing.T) *podman {
	testkit.SkipInShort(t, "podman, runc and the images of scripts/build-images.sh")
	if os.Geteuid() != 0 {
		t.Fatal("running the images needs root (network namespaces, runc)")
	}
	images := testkit.Images(t)
	pm := &podman{env: append(os.Environ(), testkit.ContainersEnv(t)...)}
	if _, err := pm.output(context.Background(), "image", "exists", workspaceRef); err != nil {
		t.Logf("%s is not in the build store: loading %s/workspace.tar", workspaceRef, images)
		pm.run(t, "load", "-q", "-i", filepath.Join(images, "workspace.tar"))
	}
	return pm
}

func (p *podman) output(ctx context.Context, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, "podman", append([]string{"--runtime", "runc"}, args...)...)
	cmd.Env = p.env
	out, err := cmd.CombinedOutput()
	return strings.TrimSpace(string(out)), err
}

func (p *podman) run(t *testing.T, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	out, err := p.output(ctx, args...)
	if err != nil {
		t.Fatalf("podman %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out
}

func (p *podman) exec(t *testing.T, name string, cmd ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	out, err := p.output(ctx, append([]string{"exec", name}, cmd...)...)
	if err != nil {
		t.Errorf("inside the container: %s: %v\n%s", strings.Join(cmd, " "), err, out)
	}
	return out
}

func (p *podman) logs(name string) string {
	out, _ := p.output(context.Background(), "logs", name)
	return out
}

// netns is a network namespace held by a sleeping process, linked to this host by one veth
// pair on a /30 of its own: no default route, nothing else reachable.
type netns struct {
	path, hostIP, peerIP string
}

func newNetns(t *testing.T, i int) *netns {
	t.Helper()
	hostIP, peerIP := fmt.Sprintf("10.212.0.%d", 4*i+1), fmt.Sprintf("10.212.0.%d", 4*i+2)
	if out, _ := exec.Command("ip", "-o", "addr").Output(); strings.Contains(string(out), " "+hostIP+"/") {
		t.Fatalf("%s is already on an interface of this machine: a leftover of an earlier run?", hostIP)
	}
	holder := exec.Command("unshare", "--net", "sleep", "infinity")
	if err := holder.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = holder.Process.Kill()
		_ = holder.Wait()
	})
	pid := holder.Process.Pid
	path := fmt.Sprintf("/proc/%d/ns/net", pid)
	// unshare has moved the sleeper into the new namespace once its link differs from ours.
	self, _ := os.Readlink("/proc/self/ns/net")
	deadline := time.Now().Add(5 * time.Second)
	for {
		if l, err := os.Readlink(path); err == nil && l != self {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("unshare --net did not enter a new network namespace")
		}
		time.Sleep(10 * time.Millisecond)
	}
	hostIf := fmt.Sprintf("chimg%d-%d", os.Getpid()%100000, i)
	sh(t, "ip", "link", "add", hostIf, "type", "veth", "peer", "name", "eth0", "netns", fmt.Sprint(pid))
	t.Cleanup(func() { _ = exec.Command("ip", "link", "del", hostIf).Run() })
	sh(t, "ip", "addr", "add", hostIP+"/30", "dev", hostIf)
	sh(t, "ip", "link", "set", hostIf, "up")
	in := []string{"nsenter", "--net=" + path, "ip"}
	sh(t, append(in, "addr", "add", peerIP+"/30", "dev", "eth0")...)
	sh(t, append(in, "link", "set", "eth0", "up")...)
	sh(t, append(in, "link", "set", "lo", "up")...)
	if out := sh(t, append(in, "route", "show", "default")...); out != "" {
		t.Fatalf("the new namespace has a default route: %s", out)
	}
	return &netns{path: path, hostIP: hostIP, peerIP: peerIP}
}

func sh(t *testing.T, args ...string) string {
	t.Helper()
	out, err := exec.Command(args[0], args[1:]...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return strings.TrimSpace(string(out))
}

// fakeServiceAccount lays out what the kubelet mounts at
// /var/run/secrets/kubernetes.io/serviceaccount: a token, the cluster CA and the namespace.
func fakeServiceAccount(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "codehub-test-ca"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), IsCA: true,
		BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	files := map[string][]byte{
		"token":     []byte("not-a-real-token"),
		"ca.crt":    pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		"namespace": []byte("default-tenant"),
	}
	for name, b := range files {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

var client = &http.Client{
	Timeout:       10 * time.Second,
	CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
}

// waitHealthz polls url until 200, at most every 250 ms until the deadline; a container that
// exits meanwhile fails at once with its logs.
func waitHealthz(t *testing.T, pm *podman, name, url string, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	var last string
	for time.Now().Before(deadline) {
		resp, err := client.Get(url)
		if err == nil {
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK && bytes.Contains(body, []byte(`"status"`)) {
				return
			}
			last = fmt.Sprintf("%d %s", resp.StatusCode, body)
		} else {
			last = err.Error()
		}
		if state, _ := pm.output(context.Background(), "inspect", "-f", "{{.State.Status}}", name); state != "running" {
			t.Fatalf("container is %s before /healthz answered; logs:\n%s", state, pm.logs(name))
		}
		time.Sleep(250 * time.Millisecond)
	}
	t.Fatalf("%s not 200 within %s (last: %s); logs:\n%s", url, within, last, pm.logs(name))
}

// checkWorkbench follows code-server's redirect to the folder and fetches the workbench page and
// the workbench.js it references.
func checkWorkbench(t *testing.T, base string) {
	t.Helper()
	resp, err := client.Get(base + "/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	loc := resp.Header.Get("Location")
	if resp.StatusCode != http.StatusFound || !strings.Contains(loc, "folder=") {
		t.Fatalf("GET / = %d Location %q, want 302 to ./?folder=…", resp.StatusCode, loc)
	}
	page := get(t, base+"/"+strings.TrimPrefix(loc, "./"))
	for _, want := range []string{"workbench-web-configuration", "workbench/workbench.js"} {
		if !strings.Contains(page, want) {
			t.Fatalf("the workbench page lacks %q:\n%.600s", want, page)
		}
	}
	m := regexp.MustCompile(`src="([^"]*workbench/workbench\.js)"`).FindStringSubmatch(page)
	if m == nil {
		t.Fatalf("no workbench.js script in the page:\n%.600s", page)
	}
	pageURL, _ := url.Parse(base + "/" + strings.TrimPrefix(loc, "./"))
	jsURL, err := pageURL.Parse(m[1])
	if err != nil {
		t.Fatal(err)
	}
	if js := get(t, jsURL.String()); len(js) < 1<<20 {
		t.Errorf("workbench.js is %d bytes, want the whole bundle (> 1 MiB)", len(js))
	}
}

func get(t *testing.T, url string) string {
	t.Helper()
	c := *client
	c.Timeout = 60 * time.Second
	resp, err := c.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s = %d, %v", url, resp.StatusCode, err)
	}
	return string(b)
}

// TestUserStepFreesUID1000 runs the Dockerfile's own user-creation step on a base where uid
// 1000 is taken, as on ubuntu:24.04 (user "ubuntu"): the step must still create codehub with
// uid 1000 (the Ubuntu image itself cannot be had here: no OS archive but Debian's is used;
// the stand-in is the Debian base with such a user added first).
func TestUserStepFreesUID1000(t *testing.T) {
	pm := newPodman(t)
	b, err := os.ReadFile(filepath.Join(testkit.RepoRoot(t), "images/workspace/Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	step := dockerfileRun(t, string(b), "useradd")
	script := "set -e\nuseradd --uid 1000 --create-home --shell /bin/bash ubuntu\n" + step + "\n" +
		"getent passwd 1000\nstat -c '%U %G %a' /home/codehub\ntest ! -e /home/ubuntu && echo ubuntu-home-gone\n"
	out := pm.run(t, "run", "--rm", "--network", "none", "--user", "0:0", "--entrypoint", "/bin/bash",
		"docker.io/library/debian:bookworm", "-o", "pipefail", "-c", script)
	for _, want := range []string{"codehub:x:1000:0:", "codehub root 7", "ubuntu-home-gone"} {
		if !strings.Contains(out, want) {
			t.Errorf("the user step on a base with uid 1000 taken: output lacks %q:\n%s", want, out)
		}
	}
}

// dockerfileRun returns the shell text of the Dockerfile's RUN instruction that contains word
// (continuation lines joined, as the builder runs it).
func dockerfileRun(t *testing.T, dockerfile, word string) string {
	t.Helper()
	var inst strings.Builder
	for _, line := range strings.Split(dockerfile, "\n") {
		if strings.HasPrefix(strings.TrimSpace(line), "#") && inst.Len() == 0 {
			continue
		}
		if inst.Len() == 0 && !strings.HasPrefix(line, "RUN ") {
			continue
		}
		if strings.HasSuffix(line, "\\") {
			inst.WriteString(strings.TrimSuffix(line, "\\"))
			continue
		}
		inst.WriteString(line)
		text := strings.TrimPrefix(inst.String(), "RUN ")
		inst.Reset()
		if strings.Contains(text, word) {
			return text
		}
	}
	t.Fatalf("no RUN instruction with %q in the Dockerfile", word)
	return ""
}
