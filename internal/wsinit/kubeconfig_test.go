package wsinit

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestWriteKubeconfig(t *testing.T) {
	fullEnv := map[string]string{"KUBERNETES_SERVICE_HOST": "10.96.0.1", "KUBERNETES_SERVICE_PORT": "443"}
	cases := []struct {
		name     string
		env      map[string]string
		saFiles  map[string]string // nil: no SA dir at all
		existing *string
		want     KubeconfigResult
		wantErr  string // substring; the error must also name a file or variable
	}{
		{name: "fresh", env: fullEnv, want: KubeconfigWritten},
		{name: "ipv6-host", env: map[string]string{"KUBERNETES_SERVICE_HOST": "fd00::1", "KUBERNETES_SERVICE_PORT": "6443"}, want: KubeconfigWritten},
		{name: "regenerates-own-file", env: fullEnv, want: KubeconfigWritten,
			existing: ptr(kubeconfigMarker + " old version\napiVersion: v1\nkind: Config\n")},
		{name: "keeps-users-file", env: fullEnv, want: KubeconfigKeptUsers,
			existing: ptr("apiVersion: v1\nkind: Config\ncurrent-context: mine\n")},
		{name: "no-serviceaccount-dir", env: fullEnv, saFiles: map[string]string{}, want: KubeconfigSkippedNoSA},
		{name: "missing-token", env: fullEnv, saFiles: map[string]string{"ca.crt": "CA", "namespace": "ns"}, wantErr: "serviceaccount file $SA/token: no such file or directory"},
		{name: "empty-namespace", env: fullEnv, saFiles: map[string]string{"ca.crt": "CA", "namespace": "\n", "token": "x"}, wantErr: "serviceaccount file $SA/namespace: empty namespace"},
		{name: "missing-host", env: map[string]string{"KUBERNETES_SERVICE_PORT": "443"}, wantErr: "environment variable KUBERNETES_SERVICE_HOST is not set"},
		{name: "missing-port", env: map[string]string{"KUBERNETES_SERVICE_HOST": "10.0.0.1"}, wantErr: "environment variable KUBERNETES_SERVICE_PORT is not set"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tmp := t.TempDir()
			home := filepath.Join(tmp, "home")
			sa := filepath.Join(tmp, "sa")
			files := tc.saFiles
			if files == nil {
				files = map[string]string{"token": "secret-token-value", "ca.crt": "CA", "namespace": "user-ns\n"}
			}
			for name, content := range files {
				writeFile(t, filepath.Join(sa, name), content)
			}
			path := filepath.Join(home, ".kube", "config")
			if tc.existing != nil {
				writeFile(t, path, *tc.existing)
			}
			getenv := func(k string) string { return tc.env[k] }

			got, gotPath, err := WriteKubeconfig(home, sa, getenv)
			if gotPath != path {
				t.Errorf("path = %s, want %s", gotPath, path)
			}
			if tc.wantErr != "" {
				want := strings.ReplaceAll(tc.wantErr, "$SA", sa)
				if err == nil || !strings.Contains(err.Error(), want) {
					t.Fatalf("err = %v, want %q", err, want)
				}
				if _, err := os.Stat(path); err == nil {
					t.Fatal("a kubeconfig was written despite the error")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got != tc.want {
				t.Fatalf("result = %q, want %q", got, tc.want)
			}
			switch got {
			case KubeconfigSkippedNoSA:
				if _, err := os.Stat(path); err == nil {
					t.Fatal("kubeconfig written without a ServiceAccount")
				}
				return
			case KubeconfigKeptUsers:
				if readFile(t, path) != *tc.existing {
					t.Fatal("user's kubeconfig was modified")
				}
				return
			}
			content := readFile(t, path)
			golden(t, tmp, "kubeconfig/"+tc.name, content)
			if strings.Contains(content, "secret-token-value") {
				t.Fatal("the token itself was copied into the kubeconfig")
			}
			if st, _ := os.Stat(path); st.Mode().Perm() != 0o600 {
				t.Fatalf("mode = %v, want 0600", st.Mode().Perm())
			}
			if again, _, err := WriteKubeconfig(home, sa, getenv); err != nil || again != KubeconfigUnchanged {
				t.Fatalf("second run = %q, %v; want unchanged", again, err)
			}
		})
	}
}
