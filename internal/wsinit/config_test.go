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
		want := Config{CodeServer: "code-server", BindAddr: "0.0.0.0:8080", Auth: "none", Home: "/home/u",
			StateDir: "/home/u/.local/share/codehub", UserDataDir: "/home/u/.local/share/codehub/user-data",
			ExtensionsDir: "/home/u/.local/share/codehub/extensions", BuiltinExtensionsDir: "/opt/codehub/extensions",
			Folder: "/home/u", ServiceAccountDir: "/var/run/secrets/kubernetes.io/serviceaccount",
			CondaEnvsDirs: []string{"/User/.conda/envs"}, CondaBase: "/opt/conda", ReconnectionGraceTime: 30 * time.Second,
			CodehubExtension: true}
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
	t.Run("listen-and-auth", func(t *testing.T) {
		withCred := func(k string) string {
			return map[string]string{"HOME": "/home/u", "HASHED_PASSWORD": "0123abcd"}[k]
		}
		sockFile := filepath.Join(t.TempDir(), "init.json")
		writeFile(t, sockFile, `{"auth": "password", "socket": "/run/cs.sock", "socket-mode": "600", "disable-proxy": true}`)
		for _, tc := range []struct {
			name    string
			args    []string
			env     func(string) string
			wantErr string // "" = accepted
		}{
			{"password-with-credential", []string{"--auth", "password"}, withCred, ""},
			{"password-without-credential", []string{"--auth", "password"}, env, "$HASHED_PASSWORD is empty or unset"},
			{"password-from-config-without-credential", []string{"--config", sockFile}, env, "$HASHED_PASSWORD is empty or unset"},
			{"unknown-auth", []string{"--auth", "token"}, withCred, `"token" is neither none nor password`},
			{"socket", []string{"--socket", "/run/cs.sock", "--socket-mode", "0600", "--disable-proxy"}, env, ""},
			{"socket-from-config", []string{"--config", sockFile}, withCred, ""},
			{"socket-and-bind-addr", []string{"--socket", "/run/cs.sock", "--bind-addr", "127.0.0.1:1"}, env, "--socket and --bind-addr are mutually exclusive"},
			{"socket-and-bind-addr-in-config", []string{"--config", cfgFile, "--socket", "/run/cs.sock"}, env, "--socket and --bind-addr are mutually exclusive"},
			{"socket-mode-without-socket", []string{"--socket-mode", "600"}, env, "--socket-mode needs --socket"},
			{"socket-mode-not-octal", []string{"--socket", "/s", "--socket-mode", "u+rw"}, env, "not an octal file mode"},
			{"socket-mode-too-long", []string{"--socket", "/s", "--socket-mode", "100600"}, env, "not an octal file mode"},
		} {
			c, err := ParseArgs(tc.args, tc.env, io.Discard)
			switch {
			case tc.wantErr == "" && err != nil:
				t.Errorf("%s: %v", tc.name, err)
			case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
				t.Errorf("%s: err = %v, want one containing %q", tc.name, err, tc.wantErr)
			case tc.name == "socket-from-config" && (c.Socket != "/run/cs.sock" || c.SocketMode != "600" || !c.DisableProxy || c.Auth != "password"):
				t.Errorf("%s: got %+v", tc.name, *c)
			}
		}
	})
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
	base := func(mutate func(*Config)) *Config {
		c := &Config{CodeServer: "/opt/cs/code-server", BindAddr: "127.0.0.1:8080", Auth: "none", UserDataDir: "/s/user data",
			ExtensionsDir: "/s/ext", Folder: "/home/u", ReconnectionGraceTime: 1500 * time.Millisecond, ExtraArgs: []string{"--log", "debug"}}
		if mutate != nil {
			mutate(c)
		}
		return c
	}
	const rest = " --user-data-dir '/s/user data' --extensions-dir /s/ext " +
		"--disable-telemetry --disable-update-check --disable-workspace-trust --reconnection-grace-time 2 --log debug /home/u"
	for _, tc := range []struct {
		name string
		c    *Config
		want string
	}{
		{"tcp-none", base(nil), "/opt/cs/code-server --bind-addr 127.0.0.1:8080 --auth none" + rest},
		{"tcp-password", base(func(c *Config) { c.Auth = "password" }), "/opt/cs/code-server --bind-addr 127.0.0.1:8080 --auth password" + rest},
		{"socket-password-no-proxy", base(func(c *Config) {
			c.Auth, c.Socket, c.SocketMode, c.DisableProxy = "password", "/w/code-server.sock", "600", true
		}), "/opt/cs/code-server --socket /w/code-server.sock --socket-mode 600 --auth password --disable-proxy" + rest},
		{"socket-default-mode", base(func(c *Config) { c.Socket = "/w/cs.sock" }), "/opt/cs/code-server --socket /w/cs.sock --auth none" + rest},
	} {
		if got := ShellQuote(CodeServerArgs(tc.c)); got != tc.want {
			t.Errorf("%s:\n got  %s\n want %s", tc.name, got, tc.want)
		}
	}
}
