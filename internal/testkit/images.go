package testkit

import (
	"bufio"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Images returns the directory scripts/build-images.sh prints: workspace.tar, gateway.tar and
// operator.tar (docker-archives of images built for real with buildah).
func Images(t testing.TB) string {
	return fromEnv(t, "CODEHUB_IMAGES", "set it to the output of scripts/build-images.sh", func(d string) bool {
		for _, f := range []string{"workspace.tar", "gateway.tar", "operator.tar"} {
			if st, err := os.Stat(filepath.Join(d, f)); err != nil || st.Size() == 0 {
				return false
			}
		}
		return true
	})
}

// ContainersEnv returns the variables (KEY=VALUE) that point buildah and podman at the private
// store the images were built in ($CODEHUB_CACHE/containers, next to the images directory).
func ContainersEnv(t testing.TB) []string {
	t.Helper()
	path := filepath.Join(filepath.Dir(Images(t)), "containers", "env")
	f, err := os.Open(path)
	if err != nil {
		t.Fatalf("containers store settings: %v (written by scripts/build-images.sh)", err)
	}
	defer f.Close()
	var env []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if line := strings.TrimSpace(sc.Text()); strings.Contains(line, "=") {
			env = append(env, line)
		}
	}
	if err := sc.Err(); err != nil || len(env) == 0 {
		t.Fatalf("containers store settings %s: empty or unreadable (%v)", path, err)
	}
	return env
}
