package wsinit

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"strings"
)

// kubeconfigMarker identifies a kubeconfig this program wrote. A file without it was written
// by the user (or another tool) and is never touched.
const kubeconfigMarker = "# codehub-init: generated"

// KubeconfigResult says what WriteKubeconfig did, for the one log line and for tests.
type KubeconfigResult string

const (
	KubeconfigSkippedNoSA KubeconfigResult = "no serviceaccount dir"
	KubeconfigKeptUsers   KubeconfigResult = "kept user's kubeconfig"
	KubeconfigUnchanged   KubeconfigResult = "unchanged"
	KubeconfigWritten     KubeconfigResult = "written"
)

const (
	kubeconfigContextName   = "codehub"
	serviceAccountTokenFile = "token"
)

// WriteKubeconfig writes <home>/.kube/config pointing at the ServiceAccount's token *file*,
// so kubectl and the VS Code Kubernetes extension re-read projected tokens as the kubelet
// rotates them; nothing secret is copied into the home directory.
func WriteKubeconfig(home, saDir string, getenv func(string) string) (KubeconfigResult, string, error) {
	path := filepath.Join(home, ".kube", "config")
	if st, err := os.Stat(saDir); err != nil || !st.IsDir() {
		return KubeconfigSkippedNoSA, path, nil
	}
	token := filepath.Join(saDir, serviceAccountTokenFile)
	ca := filepath.Join(saDir, "ca.crt")
	nsFile := filepath.Join(saDir, "namespace")
	for _, f := range []string{token, ca, nsFile} {
		if _, err := os.Stat(f); err != nil {
			return "", path, fmt.Errorf("serviceaccount file %s: %w", f, unwrapPathErr(err))
		}
	}
	nsData, err := os.ReadFile(nsFile)
	if err != nil {
		return "", path, fmt.Errorf("serviceaccount file %s: %w", nsFile, unwrapPathErr(err))
	}
	ns := strings.TrimSpace(string(nsData))
	if ns == "" {
		return "", path, fmt.Errorf("serviceaccount file %s: empty namespace", nsFile)
	}
	host, port := getenv("KUBERNETES_SERVICE_HOST"), getenv("KUBERNETES_SERVICE_PORT")
	if host == "" {
		return "", path, errors.New("environment variable KUBERNETES_SERVICE_HOST is not set")
	}
	if port == "" {
		return "", path, errors.New("environment variable KUBERNETES_SERVICE_PORT is not set")
	}
	want := renderKubeconfig("https://"+net.JoinHostPort(host, port), ca, token, ns)

	old, err := os.ReadFile(path)
	switch {
	case err == nil && !bytes.Contains(old, []byte(kubeconfigMarker)):
		return KubeconfigKeptUsers, path, nil
	case err == nil && bytes.Equal(old, want):
		// Still enforce the mode: the file names the token path, and kubectl warns on loose modes.
		if err := os.Chmod(path, 0o600); err != nil {
			return "", path, fmt.Errorf("kubeconfig %s: %w", path, unwrapPathErr(err))
		}
		return KubeconfigUnchanged, path, nil
	case err != nil && !errors.Is(err, fs.ErrNotExist):
		return "", path, fmt.Errorf("kubeconfig %s: %w", path, unwrapPathErr(err))
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return "", path, fmt.Errorf("kubeconfig dir %s: %w", filepath.Dir(path), unwrapPathErr(err))
	}
	if err := writeFileAtomic(path, want, 0o600); err != nil {
		return "", path, fmt.Errorf("kubeconfig %s: %w", path, err)
	}
	return KubeconfigWritten, path, nil
}

func renderKubeconfig(server, ca, token, ns string) []byte {
	var b strings.Builder
	b.WriteString(kubeconfigMarker + " from the pod's ServiceAccount on every start.\n")
	b.WriteString("# To keep your own kubeconfig, delete the line above: codehub-init then leaves this file alone.\n")
	fmt.Fprintf(&b, `apiVersion: v1
kind: Config
clusters:
- name: %[1]s
  cluster:
    server: %[2]s
    certificate-authority: %[3]s
users:
- name: %[1]s
  user:
    tokenFile: %[4]s
contexts:
- name: %[1]s
  context:
    cluster: %[1]s
    user: %[1]s
    namespace: %[5]s
current-context: %[1]s
preferences: {}
`, kubeconfigContextName, yamlQuote(server), yamlQuote(ca), yamlQuote(token), yamlQuote(ns))
	return []byte(b.String())
}

// yamlQuote double-quotes a scalar so paths or hosts with YAML-special characters stay strings;
// a JSON string is a valid YAML double-quoted scalar.
func yamlQuote(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}
