// Package wsinit prepares a workspace before code-server starts: kubeconfig from the pod's
// ServiceAccount, conda config shared with Jupyter, VS Code default settings and the pinned
// builtin extensions. It runs on every start (pod or local backend), so every step is
// idempotent, merges with what the user wrote and never needs the network.
package wsinit

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// Config is the resolved command line of codehub-init.
type Config struct {
	ConfigFile string
	CodeServer string
	BindAddr   string
	// Socket, when set, makes code-server listen on this unix socket (created with
	// SocketMode) instead of BindAddr: no TCP listener at all.
	Socket     string
	SocketMode string
	// Auth is code-server's --auth: "none", or "password" with the credential in
	// $HASHED_PASSWORD (code-server then accepts exactly the session cookie holding it).
	Auth string
	// DisableProxy turns off code-server's /proxy/<port>/ and /absproxy/<port>/ routes.
	DisableProxy         bool
	Home                 string
	StateDir             string
	UserDataDir          string
	ExtensionsDir        string
	BuiltinExtensionsDir string
	Folder               string
	ServiceAccountDir    string
	CondaEnvsDirs        []string
	CondaBase            string
	// Extensions are ids (publisher.name, optionally @version) the workspace must have on
	// top of the builtin set: the Workspace's spec.extensions.
	Extensions            []string
	ReconnectionGraceTime time.Duration
	// CodehubExtension installs the codehub VS Code extension (compiled in) with the
	// builtin extensions.
	CodehubExtension bool
	DryRun           bool
	// ExtraArgs follow "--" and are passed to code-server before the folder.
	ExtraArgs []string
}

// Flag names are a contract with the gateway's local backend and the operator's Deployment.
const (
	flagConfig         = "config"
	flagCodeServer     = "code-server"
	flagBindAddr       = "bind-addr"
	flagSocket         = "socket"
	flagSocketMode     = "socket-mode"
	flagAuth           = "auth"
	flagDisableProxy   = "disable-proxy"
	flagHome           = "home"
	flagStateDir       = "state-dir"
	flagUserDataDir    = "user-data-dir"
	flagExtensionsDir  = "extensions-dir"
	flagBuiltinExt     = "builtin-extensions-dir"
	flagFolder         = "folder"
	flagSADir          = "serviceaccount-dir"
	flagCondaEnvsDirs  = "conda-envs-dirs"
	flagCondaBase      = "conda-base"
	flagExtensions     = "extensions"
	flagReconnectGrace = "reconnection-grace-time"
	flagDryRun         = "dry-run"
	flagCodehubExt     = "codehub-extension"
)

// Auth modes of code-server that codehub-init passes on.
const (
	AuthNone     = "none"
	AuthPassword = "password"
)

// EnvHashedPassword is where code-server reads its credential from with --auth password. It
// reads it once and deletes it from its own environment, so terminals and extension hosts
// do not inherit it.
const EnvHashedPassword = "HASHED_PASSWORD"

// ParseArgs parses the command line (without the program name). getenv supplies HOME and
// HASHED_PASSWORD, so tests do not depend on the process environment.
func ParseArgs(args []string, getenv func(string) string, stderr io.Writer) (*Config, error) {
	c := &Config{}
	fs := flag.NewFlagSet("codehub-init", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: codehub-init [flags] [-- extra code-server args]")
		fs.PrintDefaults()
	}
	var envsDirs, extensions string
	fs.StringVar(&c.ConfigFile, flagConfig, "", "JSON file whose keys are flag names; flags on the command line win")
	fs.StringVar(&c.CodeServer, flagCodeServer, "code-server", "code-server launcher (path or name on PATH)")
	fs.StringVar(&c.BindAddr, flagBindAddr, "0.0.0.0:8080", "address code-server listens on (not with --socket)")
	fs.StringVar(&c.Socket, flagSocket, "", "unix socket code-server listens on instead of --bind-addr (no TCP listener)")
	fs.StringVar(&c.SocketMode, flagSocketMode, "", "file mode of --socket, octal (e.g. 600)")
	fs.StringVar(&c.Auth, flagAuth, AuthNone, "code-server --auth: none, or password (the credential comes from $"+EnvHashedPassword+", which must be set)")
	fs.BoolVar(&c.DisableProxy, flagDisableProxy, false, "pass --disable-proxy: no /proxy/<port>/ or /absproxy/<port>/ routes in code-server")
	fs.StringVar(&c.Home, flagHome, "", "user's home directory (default $HOME)")
	fs.StringVar(&c.StateDir, flagStateDir, "", "non-FUSE directory for user data and extensions (default <home>/.local/share/codehub)")
	fs.StringVar(&c.UserDataDir, flagUserDataDir, "", "code-server --user-data-dir (default <state-dir>/user-data)")
	fs.StringVar(&c.ExtensionsDir, flagExtensionsDir, "", "code-server --extensions-dir (default <state-dir>/extensions)")
	fs.StringVar(&c.BuiltinExtensionsDir, flagBuiltinExt, "/opt/codehub/extensions", "directory of pinned *.vsix files to install")
	fs.StringVar(&c.Folder, flagFolder, "", "workspace folder to open (default <home>)")
	fs.StringVar(&c.ServiceAccountDir, flagSADir, "/var/run/secrets/kubernetes.io/serviceaccount", "ServiceAccount token dir; absent means no kubeconfig")
	fs.StringVar(&envsDirs, flagCondaEnvsDirs, "/User/.conda/envs", "comma-separated conda envs dirs shared with Jupyter")
	fs.StringVar(&extensions, flagExtensions, "", "comma-separated extension ids (publisher.name[@version]) to have installed besides the builtin set; ids not in the builtin dir come from the extension gallery")
	fs.StringVar(&c.CondaBase, flagCondaBase, "/opt/conda", "conda installation (base env) in the image")
	c.ReconnectionGraceTime = 30 * time.Second
	fs.Var((*secondsOrDuration)(&c.ReconnectionGraceTime), flagReconnectGrace, "how long code-server keeps a disconnected window's extension host: a duration (30s) or whole seconds (30), as code-server's flag")
	fs.BoolVar(&c.DryRun, flagDryRun, false, "prepare files and print the code-server command line instead of running it")
	fs.BoolVar(&c.CodehubExtension, flagCodehubExt, true, "install the codehub extension (status bar, idle warning with Keep running, Stop workspace, Sign out) with the builtin extensions")

	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	c.ExtraArgs = fs.Args()
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	if c.ConfigFile != "" {
		if err := applyConfigFile(fs, c.ConfigFile, set); err != nil {
			return nil, err
		}
	}
	if err := checkListenAndAuth(c, set, getenv); err != nil {
		return nil, err
	}

	if c.Home == "" {
		c.Home = getenv("HOME")
	}
	if c.Home == "" {
		return nil, errors.New("home: neither --home nor $HOME is set")
	}
	if c.StateDir == "" {
		c.StateDir = filepath.Join(c.Home, ".local", "share", "codehub")
	}
	if c.UserDataDir == "" {
		c.UserDataDir = filepath.Join(c.StateDir, "user-data")
	}
	if c.ExtensionsDir == "" {
		c.ExtensionsDir = filepath.Join(c.StateDir, "extensions")
	}
	if c.Folder == "" {
		c.Folder = c.Home
	}
	for _, d := range strings.Split(envsDirs, ",") {
		if d = strings.TrimSpace(d); d != "" {
			c.CondaEnvsDirs = append(c.CondaEnvsDirs, d)
		}
	}
	for _, e := range strings.Split(extensions, ",") {
		if e = strings.ToLower(strings.TrimSpace(e)); e == "" {
			continue
		}
		id, _, _ := strings.Cut(e, "@")
		if pub, name, ok := strings.Cut(id, "."); !ok || pub == "" || name == "" || strings.ContainsAny(e, " /\\") {
			return nil, fmt.Errorf("--%s: %q is not publisher.name[@version]", flagExtensions, e)
		}
		c.Extensions = append(c.Extensions, e)
	}
	if c.ReconnectionGraceTime < 0 {
		return nil, fmt.Errorf("--%s: must not be negative", flagReconnectGrace)
	}
	return c, nil
}

// checkListenAndAuth validates where code-server listens and how it authenticates. set
// holds the flags given explicitly (command line or config file).
func checkListenAndAuth(c *Config, set map[string]bool, getenv func(string) string) error {
	switch c.Auth {
	case AuthNone:
	case AuthPassword:
		if getenv(EnvHashedPassword) == "" {
			return fmt.Errorf("--%s %s: $%s is empty or unset; it must hold the workspace credential (the pod gets it from the workspace's Secret)", flagAuth, AuthPassword, EnvHashedPassword)
		}
	default:
		return fmt.Errorf("--%s: %q is neither %s nor %s", flagAuth, c.Auth, AuthNone, AuthPassword)
	}
	if c.Socket != "" && set[flagBindAddr] {
		return fmt.Errorf("--%s and --%s are mutually exclusive: code-server listens on one of them", flagSocket, flagBindAddr)
	}
	if c.SocketMode != "" {
		if c.Socket == "" {
			return fmt.Errorf("--%s needs --%s", flagSocketMode, flagSocket)
		}
		if len(c.SocketMode) < 3 || len(c.SocketMode) > 4 || strings.Trim(c.SocketMode, "01234567") != "" {
			return fmt.Errorf("--%s: %q is not an octal file mode such as 600", flagSocketMode, c.SocketMode)
		}
	}
	return nil
}

// applyConfigFile sets every flag named in the file that was not given on the command line,
// and records it in setOnCmdline (then: set explicitly anywhere).
func applyConfigFile(fs *flag.FlagSet, path string, setOnCmdline map[string]bool) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("config file %s: %w", path, err)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var m map[string]any
	if err := dec.Decode(&m); err != nil {
		return fmt.Errorf("config file %s: not a JSON object: %w", path, err)
	}
	for key, v := range m {
		f := fs.Lookup(key)
		if f == nil || key == flagConfig {
			return fmt.Errorf("config file %s: unknown key %q (keys are codehub-init flag names)", path, key)
		}
		if setOnCmdline[key] {
			continue
		}
		var s string
		switch v := v.(type) {
		case string:
			s = v
		case bool:
			s = strconv.FormatBool(v)
		case json.Number:
			s = v.String()
		case []any:
			parts := make([]string, 0, len(v))
			for _, e := range v {
				es, ok := e.(string)
				if !ok {
					return fmt.Errorf("config file %s: key %q: list items must be strings", path, key)
				}
				parts = append(parts, es)
			}
			s = strings.Join(parts, ",")
		default:
			return fmt.Errorf("config file %s: key %q: unsupported value %v", path, key, v)
		}
		if err := f.Value.Set(s); err != nil {
			return fmt.Errorf("config file %s: key %q: %w", path, key, err)
		}
		setOnCmdline[key] = true
	}
	return nil
}

// secondsOrDuration accepts "90s"/"2m" and, like code-server's own flag, a bare number of
// seconds ("90"), which is what the gateway's local backend passes.
type secondsOrDuration time.Duration

func (d *secondsOrDuration) String() string { return time.Duration(*d).String() }

func (d *secondsOrDuration) Set(s string) error {
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		*d = secondsOrDuration(time.Duration(n) * time.Second)
		return nil
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return fmt.Errorf("%q is neither a duration (30s) nor whole seconds (30)", s)
	}
	*d = secondsOrDuration(v)
	return nil
}
