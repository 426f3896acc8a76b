package kubernetes_test

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/codehub-dev/codehub/internal/testkit"
)

// startCodeServer runs a real code-server on a free local port, standing in for the
// workspace pod the test's fake kubelet "started": --auth password with HASHED_PASSWORD set
// to the workspace's credential, as the pod gets it from its Secret.
func startCodeServer(t *testing.T, credential string) *url.URL {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	dir := t.TempDir()
	cmd := exec.Command(testkit.CodeServer(t), "--bind-addr", addr, "--auth", "password",
		"--disable-telemetry", "--disable-update-check", "--disable-workspace-trust",
		"--user-data-dir", filepath.Join(dir, "data"), "--extensions-dir", filepath.Join(dir, "ext"), dir)
	cmd.Env = append(cmd.Environ(), "HOME="+dir, "HASHED_PASSWORD="+credential)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		_ = cmd.Wait()
	})
	u := &url.URL{Scheme: "http", Host: addr}
	testkit.Eventually(t, 3*time.Minute, "code-server answers /healthz", func() error {
		req, _ := http.NewRequestWithContext(context.Background(), http.MethodGet, u.String()+"/healthz", nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("status %d", resp.StatusCode)
		}
		return nil
	})
	return u
}
