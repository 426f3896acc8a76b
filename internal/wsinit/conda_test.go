package wsinit

import (
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestSyncConda(t *testing.T) {
	cases := []struct {
		name           string
		condarc        *string
		envsTxt        *string // "$TMP" is replaced by the temp dir
		wantCondarc    string
		wantEnvsTxt    string
		wantErr        string
		condarcKeptRaw bool
	}{
		{name: "fresh", wantCondarc: "created", wantEnvsTxt: "created"},
		{name: "user-condarc-other-keys", wantCondarc: "merged", wantEnvsTxt: "created", condarc: ptr(`# my conda settings
channels:
  - conda-forge   # only this one
auto_activate_base: false
envs_dirs:
  - /data/my-envs
`)},
		{name: "user-condarc-flow-list", wantCondarc: "merged", wantEnvsTxt: "created", condarc: ptr("envs_dirs: [/data/my-envs]\nchannels: [conda-forge]\n")},
		{name: "user-condarc-already-complete", wantCondarc: "unchanged", wantEnvsTxt: "created", condarcKeptRaw: true,
			condarc: ptr("envs_dirs:\n- $TMP/User/.conda/envs\n- $TMP/opt/conda/envs/\n")},
		{name: "user-condarc-null-envs-dirs", wantCondarc: "merged", wantEnvsTxt: "created", condarc: ptr("envs_dirs:\nssl_verify: true\n")},
		{name: "user-condarc-empty", wantCondarc: "merged", wantEnvsTxt: "created", condarc: ptr("# nothing yet\n")},
		{name: "malformed-condarc", wantErr: "malformed YAML, kept as is", condarcKeptRaw: true, condarc: ptr("envs_dirs: [unclosed\n  - x: : :\n")},
		{name: "condarc-not-a-mapping", wantErr: "top level is not a mapping", condarcKeptRaw: true, condarc: ptr("- a\n- b\n")},
		{name: "envs-dirs-not-a-list", wantErr: "envs_dirs is not a list", condarcKeptRaw: true, condarc: ptr("envs_dirs: /one/dir\n")},
		{name: "environments-txt-stale-and-user-entries", wantCondarc: "created", wantEnvsTxt: "updated",
			envsTxt: ptr("$TMP/gone/env\n$TMP/elsewhere/myenv\n\n$TMP/User/.conda/envs/jupyter-env\n")},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tmp := t.TempDir()
			home := filepath.Join(tmp, "home")
			base := filepath.Join(tmp, "opt", "conda")
			shared := filepath.Join(tmp, "User", ".conda", "envs")
			mkEnv(t, base)
			mkEnv(t, filepath.Join(base, "envs", "image-env"))
			mkEnv(t, filepath.Join(shared, "jupyter-env"))
			mkEnv(t, filepath.Join(shared, "another"))
			mkEnv(t, filepath.Join(tmp, "elsewhere", "myenv"))
			writeFile(t, filepath.Join(shared, "not-an-env", "README"), "no conda-meta here")
			condarcPath := filepath.Join(home, ".condarc")
			envsTxtPath := filepath.Join(home, ".conda", "environments.txt")
			var rawCondarc string
			if tc.condarc != nil {
				rawCondarc = strings.ReplaceAll(*tc.condarc, "$TMP", tmp)
				writeFile(t, condarcPath, rawCondarc)
			}
			if tc.envsTxt != nil {
				writeFile(t, envsTxtPath, strings.ReplaceAll(*tc.envsTxt, "$TMP", tmp))
			}

			res, err := SyncConda(home, CondaEnvsDirs([]string{shared}, base), base)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) || !strings.Contains(err.Error(), condarcPath) {
					t.Fatalf("err = %v, want one naming %s and containing %q", err, condarcPath, tc.wantErr)
				}
			} else if err != nil {
				t.Fatal(err)
			}
			if tc.condarcKeptRaw && readFile(t, condarcPath) != rawCondarc {
				t.Fatalf(".condarc was modified:\n%s", readFile(t, condarcPath))
			}
			if tc.wantErr != "" {
				return
			}
			if res.Condarc != tc.wantCondarc || res.EnvironmentsTxt != tc.wantEnvsTxt {
				t.Errorf("result = %+v, want condarc %s, environments.txt %s", res, tc.wantCondarc, tc.wantEnvsTxt)
			}
			if !tc.condarcKeptRaw {
				golden(t, tmp, "conda/"+tc.name+".condarc", readFile(t, condarcPath))
			}
			envsTxt := readFile(t, envsTxtPath)
			golden(t, tmp, "conda/"+tc.name+".environments.txt", envsTxt)
			for _, want := range []string{base, filepath.Join(shared, "jupyter-env"), filepath.Join(shared, "another")} {
				if !slices.Contains(strings.Split(envsTxt, "\n"), want) {
					t.Errorf("environments.txt lacks %s", want)
				}
			}
			if strings.Contains(envsTxt, "not-an-env") || strings.Contains(envsTxt, "gone") {
				t.Errorf("environments.txt lists a dir without conda-meta/:\n%s", envsTxt)
			}

			again, err := SyncConda(home, CondaEnvsDirs([]string{shared}, base), base)
			if err != nil || again.Condarc != "unchanged" || again.EnvironmentsTxt != "unchanged" {
				t.Fatalf("second run = %+v, %v; want everything unchanged", again, err)
			}
		})
	}
}

// An env created by hand in the shared dir after the first start is listed on the next.
func TestSyncCondaNewEnv(t *testing.T) {
	tmp := t.TempDir()
	shared := filepath.Join(tmp, "envs")
	if _, err := SyncConda(tmp, []string{shared}, filepath.Join(tmp, "no-conda")); err != nil {
		t.Fatal(err)
	}
	mkEnv(t, filepath.Join(shared, "made-by-hand"))
	res, err := SyncConda(tmp, []string{shared}, filepath.Join(tmp, "no-conda"))
	if err != nil {
		t.Fatal(err)
	}
	if res.EnvironmentsTxt != "created" || !slices.Equal(res.Envs, []string{filepath.Join(shared, "made-by-hand")}) {
		t.Fatalf("result = %+v", res)
	}
	if got := readFile(t, filepath.Join(tmp, ".conda", "environments.txt")); got != filepath.Join(shared, "made-by-hand")+"\n" {
		t.Fatalf("environments.txt = %q", got)
	}
}
