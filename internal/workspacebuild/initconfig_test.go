package workspacebuild

import (
	"io"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/codehub-dev/codehub/internal/wsinit"
)

// TestInitConfigParsesInCodehubInit feeds every golden case's init.json to codehub-init's
// own parser, with the credential in the env as the pod has it: it refuses unknown keys,
// so a drift between the two would stop every pod.
func TestInitConfigParsesInCodehubInit(t *testing.T) {
	for name, ws := range cases {
		path := filepath.Join(t.TempDir(), "init.json")
		if err := os.WriteFile(path, []byte(ConfigMap(ws).Data["init.json"]), 0o644); err != nil {
			t.Fatal(err)
		}
		podEnv := func(k string) string { return map[string]string{EnvCredential: testCredential}[k] }
		cfg, err := wsinit.ParseArgs([]string{"--config", path}, podEnv, io.Discard)
		if err != nil {
			t.Fatalf("%s: codehub-init rejects the operator's config: %v", name, err)
		}
		want := BuildInitConfig(ws)
		if cfg.BindAddr != want.BindAddr || cfg.Auth != want.Auth || cfg.Home != want.Home || cfg.Folder != want.Folder {
			t.Errorf("%s: parsed %+v, want %+v", name, cfg, want)
		}
		if len(want.CondaEnvsDirs) > 0 && !reflect.DeepEqual(cfg.CondaEnvsDirs, want.CondaEnvsDirs) {
			t.Errorf("%s: conda envs dirs %v, want %v", name, cfg.CondaEnvsDirs, want.CondaEnvsDirs)
		}
	}
}
