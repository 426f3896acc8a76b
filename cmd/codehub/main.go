// Command codehub is the gateway (`codehub serve`) and its admin CLI (`codehub users`).
package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/codehub-dev/codehub/internal/serve"
	"github.com/codehub-dev/codehub/internal/users"
)

var version = "dev"

func main() {
	if err := newRoot().Execute(); err != nil {
		fmt.Fprintln(os.Stderr, "codehub:", err)
		os.Exit(1)
	}
}

// defaultStateDir is CODEHUB_STATE_DIR, else /var/lib/codehub as root (every workspace
// then runs as its own unix uid and must reach its directory; a home such as /root is
// 0700), else ~/.local/share/codehub.
func defaultStateDir() string {
	if d := os.Getenv("CODEHUB_STATE_DIR"); d != "" {
		return d
	}
	if os.Geteuid() == 0 {
		return "/var/lib/codehub"
	}
	home, _ := os.UserHomeDir()
	return filepath.Join(home, ".local", "share", "codehub")
}

func envDuration(name string, def time.Duration) time.Duration {
	if v := os.Getenv(name); v != "" {
		if d, err := time.ParseDuration(v); err == nil {
			return d
		}
	}
	return def
}

func newRoot() *cobra.Command {
	root := &cobra.Command{
		Use:           "codehub",
		Short:         "VS Code in the browser (code-server) as a service, one workspace per user",
		SilenceUsage:  true,
		SilenceErrors: true,
		Version:       version,
	}
	root.AddCommand(newServe(), newUsers(), newWorkspaces(), newProfiles())
	return root
}

// serveLong is `codehub serve --help`'s description: what the gateway does with each of
// the two backends, and which flags belong to which.
const serveLong = `Run the gateway: people sign in (local users, or --auth forward, header or oidc), and each
one's requests go to their own workspace, which the gateway starts on the first visit.

Where workspaces run (--backend):

  local       code-server processes on this machine, one per user, with files under
              <state-dir>/workspaces. As root each runs under its own unix uid; otherwise the
              gateway serves one person (or, with --shared-unix-user, a trusted team). The
              gateway starts and stops them itself: --idle-timeout, --max-run-time and
              --busy-cpu decide when an unused one stops. Flags marked "local backend" apply.

  kubernetes  one Workspace resource per user in --namespace (the cluster from in-cluster
              config or KUBECONFIG); the codehub operator turns it into a pod, a home volume
              and a Service. The gateway creates Workspaces (defaults from
              --workspace-defaults), starts and stops them through spec.running, and proxies to
              their Services; the operator alone stops idle ones, from spec.idleTimeout and
              spec.maxRunTime. Flags marked "kubernetes backend" apply.

Flags marked with an auth mode (forward, header, oidc) apply to that --auth only.`

func newServe() *cobra.Command {
	o := serve.Options{}
	var logLevel, oidcSecretFile string
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run the gateway: sign-in, per-user routing and proxying to workspaces (local processes or Kubernetes Workspaces)",
		Long:  serveLong,
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var lvl slog.Level
			if err := lvl.UnmarshalText([]byte(logLevel)); err != nil {
				return fmt.Errorf("--log-level: %w", err)
			}
			if (o.TLSCert == "") != (o.TLSKey == "") {
				return errors.New("--tls-cert and --tls-key go together")
			}
			if o.IdleTimeout < 0 || o.MaxRunTime < 0 || o.SessionTTL <= 0 {
				return errors.New("--idle-timeout and --max-run-time must be >= 0 and --session-ttl > 0")
			}
			o.IdleTimeoutSet = cmd.Flags().Changed("idle-timeout") || os.Getenv("CODEHUB_IDLE_TIMEOUT") != ""
			if oidcSecretFile != "" {
				secret, err := os.ReadFile(oidcSecretFile)
				if err != nil {
					return fmt.Errorf("--oidc-client-secret-file: %w", err)
				}
				o.OIDC.ClientSecret = strings.TrimSpace(string(secret))
			}
			o.Header.LoginURL = o.Forward.LoginURL
			o.Forward.PublicURL, o.Header.PublicURL = o.PublicURL, o.PublicURL
			if o.Init == "none" {
				o.Init = ""
			}
			o.Logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: lvl}))
			o.Stdout = cmd.OutOrStdout()
			return serve.Run(context.Background(), o)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.Listen, "listen", envOr("CODEHUB_LISTEN", "127.0.0.1:8080"), "address the gateway listens on (env CODEHUB_LISTEN)")
	f.StringVar(&o.MetricsListen, "metrics-listen", envOr("CODEHUB_METRICS_LISTEN", "127.0.0.1:9090"), "address for Prometheus /metrics; empty disables (env CODEHUB_METRICS_LISTEN)")
	f.StringVar(&o.StateDir, "state-dir", defaultStateDir(), "directory for users, keys and workspaces (env CODEHUB_STATE_DIR)")
	f.StringVar(&o.CodeServer, "code-server", envOr("CODEHUB_CODE_SERVER", "code-server"), "local backend: code-server launcher to run (env CODEHUB_CODE_SERVER)")
	f.StringVar(&o.Init, "init", envOr("CODEHUB_INIT", siblingInit()), "local backend: codehub-init binary that prepares each start (env CODEHUB_INIT; default: codehub-init next to this binary); \"none\" runs code-server directly")
	f.StringVar(&o.Profiles, "profiles", os.Getenv("CODEHUB_PROFILES"), "YAML file of workspace profiles users choose from (image, CPU/memory, GPUs, placement, idle timeout, extensions, env, groups); empty = one built-in default")
	f.StringVar(&o.CodeServerAssets, "code-server-assets", os.Getenv("CODEHUB_CODE_SERVER_ASSETS"), "a code-server tree (or its lib/vscode) whose static files the gateway serves to every user, compressed once (default with the local backend: the --code-server tree; \"none\" = off)")
	f.StringVar(&o.BuiltinExtensions, "builtin-extensions-dir", os.Getenv("CODEHUB_BUILTIN_EXTENSIONS"), "local backend: pinned extensions codehub-init syncs into each workspace")
	f.DurationVar(&o.IdleTimeout, "idle-timeout", envDuration("CODEHUB_IDLE_TIMEOUT", time.Hour), "local backend: stop a workspace after this long without activity (a person working in it, a start, busy CPU, \"Keep running\"); 0 = never. Kubernetes: the operator stops from spec.idleTimeout")
	f.DurationVar(&o.MaxRunTime, "max-run-time", envDuration("CODEHUB_MAX_RUN_TIME", 0), "local backend: stop a workspace after this long running, even when busy; 0 = never")
	f.Float64Var(&o.BusyCPU, "busy-cpu", 0, "local backend: CPU use (cores) of a workspace's processes that counts as activity (default 0.25; negative: CPU never counts)")
	f.DurationVar(&o.SessionTTL, "session-ttl", 12*time.Hour, "how long a sign-in lasts")
	f.StringVar(&o.SessionKeyFile, "session-key-file", os.Getenv("CODEHUB_SESSION_KEY_FILE"), "hex AES-256 key for session cookies (default <state-dir>/session.key, created if missing)")
	f.DurationVar(&o.ReconnectionGrace, "reconnection-grace-time", 5*time.Minute, "local backend: how long code-server keeps a closed tab's session")
	f.DurationVar(&o.StopGrace, "stop-grace", 10*time.Second, "local backend: time between SIGTERM and SIGKILL when stopping a workspace")
	f.DurationVar(&o.ShutdownTimeout, "shutdown-timeout", 30*time.Second, "bound on draining at SIGTERM")
	f.StringVar(&o.TLSCert, "tls-cert", "", "serve HTTPS with this certificate (PEM)")
	f.StringVar(&o.TLSKey, "tls-key", "", "private key for --tls-cert (PEM)")
	f.BoolVar(&o.Secure, "secure-cookies", false, "mark cookies Secure (with the __Host- prefix) when TLS terminates in front of the gateway")
	f.StringVar(&o.PublicURL, "public-url", os.Getenv("CODEHUB_PUBLIC_URL"), "URL users open, shown at start-up")
	f.StringVar(&o.Backend, "backend", envOr("CODEHUB_BACKEND", "local"), "where workspaces run: local (code-server processes here) or kubernetes (Workspace resources)")
	f.StringVar(&o.KubernetesConfig, "workspace-defaults", os.Getenv("CODEHUB_WORKSPACE_DEFAULTS"), "kubernetes backend: YAML file with namespace, Workspace spec defaults and activityInterval")
	f.StringVar(&o.Namespace, "namespace", os.Getenv("CODEHUB_NAMESPACE"), "kubernetes backend: namespace of the Workspaces (default: the file's, else the gateway's own)")
	f.IntVar(&o.MaxWorkspaces, "max-workspaces", 3, "how many workspaces a user may have, the default one included (named workspaces: each its own home); 1 = the default one only")
	f.StringVar(&o.WorkspaceOrigins, "workspace-origins", os.Getenv("CODEHUB_WORKSPACE_ORIGINS"), "serve each workspace on its own host <workspace>.<this host> (needs wildcard DNS and TLS); empty = one host")
	f.BoolVar(&o.SharedUnixUser, "shared-unix-user", false, "local backend without root: let several users share this unix user. Only for a trusted team: everyone can act as everyone (read each other's files, reach each other's workspaces). Without it, a gateway that is not root serves one person; as root every workspace gets its own unix uid")
	f.StringSliceVar(&o.TrustedProxies, "trusted-proxies", nil, "CIDRs of reverse proxies (an ingress) whose X-Forwarded-For names the client, for sign-in throttling; other peers are the client")
	f.StringSliceVar(&o.AdminUsers, "admin-users", nil, "users with admin rights in the API (besides the users file's admins)")
	f.StringSliceVar(&o.AdminGroups, "admin-groups", nil, "groups whose members have admin rights in the API")
	f.StringVar(&o.Auth, "auth", envOr("CODEHUB_AUTH", "local"), "how users are identified besides local users: local, forward (platform session verification), header (trusted proxy) or oidc")
	f.StringVar(&o.Forward.URL, "forward-url", os.Getenv("CODEHUB_FORWARD_URL"), "forward auth: verification endpoint (ingress-nginx auth-url), e.g. https://dashboard.<domain>/api/data_sessions/verifications/app_service")
	f.StringVar(&o.Forward.Method, "forward-method", "POST", "forward auth: method of the verification request")
	f.StringSliceVar(&o.Forward.Cookies, "forward-cookies", nil, "forward auth: only these cookies are sent to the verifier (and they are removed before code-server); empty = every cookie but codehub's own")
	f.StringSliceVar(&o.Forward.Headers, "forward-headers", nil, "forward auth: credential headers sent to the verifier (default Authorization)")
	f.StringVar(&o.Forward.UserHeader, "forward-user-header", "", "forward auth: response header with the user name (default X-Remote-User)")
	f.StringVar(&o.Forward.UIDHeader, "forward-uid-header", "", "forward auth: response header with the unix uid (default X-Unix-Uid)")
	f.StringVar(&o.Forward.GIDHeader, "forward-gid-header", "", "forward auth: response header with the unix gid")
	f.StringVar(&o.Forward.GroupsHeader, "forward-groups-header", "", "forward auth: response header with comma-separated groups (default X-User-Group-Ids)")
	f.StringVar(&o.Forward.LoginURL, "forward-login-url", os.Getenv("CODEHUB_FORWARD_LOGIN_URL"), "forward/header auth: the platform's login page; {url} is replaced by the URL to return to")
	f.DurationVar(&o.Forward.Cache.TTL, "auth-cache-ttl", 30*time.Second, "forward auth: how long a verified platform session is reused (revocation takes effect within it)")
	f.StringVar(&o.Header.Name, "header-name", "X-Remote-User", "header auth: identity header set by the trusted proxy")
	f.StringVar(&o.Header.GroupsName, "header-groups-name", "", "header auth: groups header set by the trusted proxy")
	f.StringSliceVar(&o.Header.TrustedCIDRs, "header-trusted-cidrs", nil, "header auth: direct peers (proxies) whose identity header is believed")
	f.StringVar(&o.OIDC.Issuer, "oidc-issuer", os.Getenv("CODEHUB_OIDC_ISSUER"), "oidc: issuer URL")
	f.StringVar(&o.OIDC.ClientID, "oidc-client-id", os.Getenv("CODEHUB_OIDC_CLIENT_ID"), "oidc: client id")
	f.StringVar(&oidcSecretFile, "oidc-client-secret-file", os.Getenv("CODEHUB_OIDC_CLIENT_SECRET_FILE"), "oidc: file holding the client secret")
	f.StringVar(&o.OIDC.RedirectURL, "oidc-redirect-url", os.Getenv("CODEHUB_OIDC_REDIRECT_URL"), "oidc: callback URL registered at the provider (path /_codehub/oidc/callback)")
	f.StringVar(&o.OIDC.UserClaim, "oidc-user-claim", "", "oidc: claim with the user name (default preferred_username)")
	f.StringVar(&o.OIDC.GroupsClaim, "oidc-groups-claim", "", "oidc: claim with the groups (default groups)")
	f.StringSliceVar(&o.OIDC.Scopes, "oidc-scopes", nil, "oidc: scopes to request besides openid (default profile,email; add groups where the provider needs it)")
	f.StringVar(&o.OIDC.UIDClaim, "oidc-uid-claim", "", "oidc: claim with the unix uid the workspace runs as")
	f.StringVar(&o.OIDC.GIDClaim, "oidc-gid-claim", "", "oidc: claim with the unix gid")
	f.StringVar(&o.Forward.SessionKeyHeader, "forward-session-key-header", "", "forward auth: verifier response header with the platform's data access key (Iguazio: X-V3io-Session-Key); never logged")
	f.DurationVar(&o.Forward.Timeout, "forward-timeout", 5*time.Second, "forward auth: bound on one verification")
	f.StringSliceVar(&o.OIDC.AllowedUsers, "oidc-allowed-users", nil, "oidc: only these users may sign in")
	f.StringSliceVar(&o.OIDC.AllowedGroups, "oidc-allowed-groups", nil, "oidc: only members of these groups may sign in")
	f.StringVar(&logLevel, "log-level", "info", "debug, info, warn or error")
	return cmd
}

// siblingInit finds codehub-init installed next to the codehub binary (bin/ after
// `make run`, the same directory in the image).
func siblingInit() string {
	exe, err := os.Executable()
	if err != nil {
		return ""
	}
	p := filepath.Join(filepath.Dir(exe), "codehub-init")
	if st, err := os.Stat(p); err == nil && st.Mode()&0o111 != 0 {
		return p
	}
	return ""
}

func envOr(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}

func newUsers() *cobra.Command {
	var stateDir string
	cmd := &cobra.Command{Use: "users", Short: "Manage local users (the users file in the state dir)"}
	cmd.PersistentFlags().StringVar(&stateDir, "state-dir", defaultStateDir(), "gateway state directory (env CODEHUB_STATE_DIR)")
	// The state dir is found as `codehub serve` finds it (flag, CODEHUB_STATE_DIR, the
	// default). A dir no gateway has used is refused unless named explicitly, so a user is
	// never saved where the running gateway does not look.
	open := func(cmd *cobra.Command) (*users.Store, error) {
		if _, err := os.Stat(stateDir); err != nil {
			explicit := cmd.Flags().Changed("state-dir") || os.Getenv("CODEHUB_STATE_DIR") != ""
			if !explicit {
				return nil, fmt.Errorf("no codehub state dir at %s: pass the gateway's --state-dir (or set CODEHUB_STATE_DIR)", stateDir)
			}
			if err := os.MkdirAll(stateDir, 0o700); err != nil {
				return nil, fmt.Errorf("state dir: %w", err)
			}
		}
		return users.Open(filepath.Join(stateDir, "users.json"))
	}
	var admin, fromStdin bool
	add := &cobra.Command{
		Use:   "add NAME",
		Short: "Create a user or set a new password (read from stdin with --password-stdin)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if !fromStdin {
				return errors.New("pass the password on stdin with --password-stdin (never on the command line)")
			}
			pw, err := readPassword(cmd.InOrStdin())
			if err != nil {
				return err
			}
			s, err := open(cmd)
			if err != nil {
				return err
			}
			if err := s.Set(args[0], pw, admin); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "user %q saved in %s (a running gateway sees it within a second; the user's older sessions and tokens end)\n", args[0], filepath.Join(stateDir, "users.json"))
			return nil
		},
	}
	add.Flags().BoolVar(&admin, "admin", false, "make the user an admin")
	add.Flags().BoolVar(&fromStdin, "password-stdin", false, "read the password from stdin")
	var usersOut output
	list := &cobra.Command{
		Use: "list", Short: "List users", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			s, err := open(cmd)
			if err != nil {
				return err
			}
			all, err := s.List()
			if err != nil {
				return err
			}
			type userJSON struct { // never the password hash
				Name    string    `json:"name"`
				Admin   bool      `json:"admin"`
				Created time.Time `json:"created"`
			}
			list, rows := []userJSON{}, [][]string{}
			for _, u := range all {
				role := "user"
				if u.Admin {
					role = "admin"
				}
				list = append(list, userJSON{u.Name, u.Admin, u.Created})
				rows = append(rows, []string{u.Name, role, u.Created.Format(time.RFC3339)})
			}
			return usersOut.print(cmd.OutOrStdout(), map[string]any{"users": list}, []string{"NAME", "ROLE", "CREATED"}, rows)
		},
	}
	usersOut.register(list)
	del := &cobra.Command{
		Use: "delete NAME", Short: "Delete a user (their workspace files stay)", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			s, err := open(cmd)
			if err != nil {
				return err
			}
			if err := s.Delete(args[0]); err != nil {
				return fmt.Errorf("delete %q in %s: %w", args[0], filepath.Join(stateDir, "users.json"), err)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "user %q deleted from %s (a running gateway signs them out and stops their workspace; files stay)\n", args[0], filepath.Join(stateDir, "users.json"))
			return nil
		},
	}
	cmd.AddCommand(add, list, del)
	return cmd
}

func readPassword(r io.Reader) (string, error) {
	line, err := bufio.NewReader(io.LimitReader(r, 1024)).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return "", fmt.Errorf("read password: %w", err)
	}
	pw := strings.TrimRight(line, "\r\n")
	if pw == "" {
		return "", errors.New("empty password on stdin")
	}
	return pw, nil
}
