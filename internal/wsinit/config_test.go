package wsinit

import (
	"fmt"
	"io"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestParseArgs(t *testing.T) {
	env := func(k string) string { return map[string]string{"HOME": "/home/u"}[k] }
	tmp := t.TempDir()
	cfgFile := filepath.Join(tmp, "init.json")
	writeFile(t, cfgFile, `{"bind-addr": "0.0.0.0:9000", "home": "/User", "conda-envs-dirs": ["/a", "/b"],
		"reconnection-grace-time": 90, "dry-run": true, "state-dir": "/state"}`)

	t.Run("defaults", func(t *testing.T) {
		c, err := ParseArgs(nil, env, io.Discard)
		if err != nil {
			t.Fatal(err)
		}
		want := Config{CodeServer: "code-server", BindAddr: "0.0.0.0:8080", Home: "/home/u",
			StateDir: "/home/u/.local/share/codehub", UserDataDir: "/home/u/.local/share/codehub/user-data",
			ExtensionsDir: "/home/u/.local/share/codehub/extensions", BuiltinExtensionsDir: "/opt/codehub/extensions",
			Folder: "/home/u", ServiceAccountDir: "/var/run/secrets/kubernetes.io/serviceaccount",
			CondaEnvsDirs: []string{"/User/.conda/envs"}, CondaBase: "/opt/conda", ReconnectionGraceTime: 30 * time.Second}
		if !equalConfig(*c, want) {
			t.Fatalf("got %+v\nwant %+v", *c, want)
		}
	})
	t.Run("file-then-flags-win", func(t *testing.T) {
		c, err := ParseArgs([]string{"--config", cfgFile, "--bind-addr", "127.0.0.1:1", "--", "--log", "debug"}, env, io.Discard)
		if err != nil {
			t.Fatal(err)
		}
		if c.BindAddr != "127.0.0.1:1" || c.Home != "/User" || c.StateDir != "/state" || c.UserDataDir != "/state/user-data" ||
			c.Folder != "/User" || !slices.Equal(c.CondaEnvsDirs, []string{"/a", "/b"}) ||
			c.ReconnectionGraceTime != 90*time.Second || !c.DryRun || !slices.Equal(c.ExtraArgs, []string{"--log", "debug"}) {
			t.Fatalf("got %+v", *c)
		}
	})
	t.Run("grace-time-as-seconds", func(t *testing.T) {
		for arg, want := range map[string]time.Duration{"45": 45 * time.Second, "2m": 2 * time.Minute, "0": 0} {
			c, err := ParseArgs([]string{"--reconnection-grace-time", arg}, env, io.Discard)
			if err != nil || c.ReconnectionGraceTime != want {
				t.Errorf("--reconnection-grace-time %s = %v, %v; want %v", arg, c, err, want)
			}
		}
		if _, err := ParseArgs([]string{"--reconnection-grace-time", "-5"}, env, io.Discard); err == nil {
			t.Error("negative grace time accepted")
		}
	})
	for _, tc := range []struct{ name, content, wantErr string }{
		{"unknown-key", `{"bind_addr": "x"}`, `unknown key "bind_addr"`},
		{"not-json", `bind-addr: x`, "not a JSON object"},
		{"bad-duration", `{"reconnection-grace-time": "soon"}`, `key "reconnection-grace-time"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := filepath.Join(t.TempDir(), "init.json")
			writeFile(t, p, tc.content)
			_, err := ParseArgs([]string{"--config", p}, env, io.Discard)
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) || !strings.Contains(err.Error(), p) {
				t.Fatalf("err = %v, want one naming %s and containing %q", err, p, tc.wantErr)
			}
		})
	}
	t.Run("no-home", func(t *testing.T) {
		_, err := ParseArgs(nil, func(string) string { return "" }, io.Discard)
		if err == nil || !strings.Contains(err.Error(), "$HOME") {
			t.Fatalf("err = %v", err)
		}
	})
}

func equalConfig(a, b Config) bool {
	if !slices.Equal(a.CondaEnvsDirs, b.CondaEnvsDirs) || !slices.Equal(a.ExtraArgs, b.ExtraArgs) {
		return false
	}
	return fmt.Sprintf("%+v", a) == fmt.Sprintf("%+v", b)
}

func TestCodeServerArgs(t *testing.T) {
	c := &Config{CodeServer: "/opt/cs/code-server", BindAddr: "127.0.0.1:8080", UserDataDir: "/s/user data",
		ExtensionsDir: "/s/ext", Folder: "/home/u", ReconnectionGraceTime: 1500 * time.Millisecond, ExtraArgs: []string{"--log", "debug"}}
	got := ShellQuote(CodeServerArgs(c))
	want := "/opt/cs/code-server --bind-addr 127.0.0.1:8080 --auth none --user-data-dir '/s/user data' --extensions-dir /s/ext " +
		"--disable-telemetry --disable-update-check --disable-workspace-trust --reconnection-grace-time 2 --log debug /home/u"
	if got != want {
		t.Fatalf("got  %s\nwant %s", got, want)
	}
}
