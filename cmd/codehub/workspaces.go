package main

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"k8s.io/apimachinery/pkg/util/duration"

	"github.com/codehub-dev/codehub/internal/apiclient"
	"github.com/codehub-dev/codehub/internal/identity"
)

func newWorkspaces() *cobra.Command {
	c := &apiclient.Client{}
	cmd := &cobra.Command{
		Use:               "workspaces",
		Aliases:           []string{"workspace", "ws"},
		Short:             "List, get, start, stop and delete workspaces through a gateway's API (personal API token)",
		PersistentPreRunE: func(cmd *cobra.Command, _ []string) error { return apiAuth(cmd, c) },
	}
	apiFlags(cmd, c)
	// each adds -o and --name to sub and prints what run returns, or names the workspace
	// in the error.
	each := func(sub *cobra.Command, run func(cmd *cobra.Command, user, name string) (apiclient.Workspace, error)) *cobra.Command {
		var out output
		var name string
		out.register(sub)
		nameFlag(sub, &name)
		sub.Args = cobra.ExactArgs(1)
		sub.RunE = func(cmd *cobra.Command, args []string) error {
			if err := checkName(name); err != nil {
				return err
			}
			w, err := run(cmd, args[0], name)
			if err != nil {
				return fmt.Errorf("%s %s: %w", sub.Name(), refString(args[0], name), err)
			}
			if w.Notice != "" {
				fmt.Fprintln(cmd.ErrOrStderr(), w.Notice)
			}
			return out.print(cmd.OutOrStdout(), w, workspaceHeader, workspaceRows(time.Now(), w))
		}
		return sub
	}

	var listOut output
	list := &cobra.Command{
		Use: "list", Short: "List workspaces (admins see everyone's)", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ws, err := c.List(cmd.Context())
			if err != nil {
				return err
			}
			return listOut.print(cmd.OutOrStdout(), map[string]any{"workspaces": ws}, workspaceHeader, workspaceRows(time.Now(), ws...))
		},
	}
	listOut.register(list)

	var profile string
	start := each(&cobra.Command{Use: "start USER [--name NAME]", Short: "Start a workspace, optionally with another profile (codehub profiles list); --name creates your named workspace on its first start"},
		func(cmd *cobra.Command, user, name string) (apiclient.Workspace, error) {
			return c.Start(cmd.Context(), user, name, profile)
		})
	start.Flags().StringVar(&profile, "profile", "", "profile to run with from this start on (default: the one it has, or your default)")

	cmd.AddCommand(list,
		each(&cobra.Command{Use: "get USER [--name NAME]", Short: "Show one workspace"},
			func(cmd *cobra.Command, user, name string) (apiclient.Workspace, error) {
				return c.Get(cmd.Context(), user, name)
			}),
		start,
		each(&cobra.Command{Use: "stop USER [--name NAME]", Short: "Stop a workspace (its files stay)"},
			func(cmd *cobra.Command, user, name string) (apiclient.Workspace, error) {
				return c.Stop(cmd.Context(), user, name)
			}),
		newWorkspaceDelete(c))
	return cmd
}

// newWorkspaceDelete deletes only with --yes, and prints what the gateway says happened to
// the files (local: removed; Kubernetes: depends on the home volume's reclaim policy).
func newWorkspaceDelete(c *apiclient.Client) *cobra.Command {
	var out output
	var yes bool
	var name string
	del := &cobra.Command{
		Use:   "delete USER [--name NAME] --yes",
		Short: "Delete a workspace: it is stopped and removed; the answer says what happened to its files",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkName(name); err != nil {
				return err
			}
			user := args[0]
			if !yes {
				return fmt.Errorf("delete %s: this deletes the workspace; with the local backend its files too, on Kubernetes its home volume unless it is retained (docs/operator.md); pass --yes", refString(user, name))
			}
			d, err := c.Delete(cmd.Context(), user, name)
			if err != nil {
				return fmt.Errorf("delete %s: %w", refString(user, name), err)
			}
			if out.format != "" {
				return out.print(cmd.OutOrStdout(), d, nil, nil)
			}
			_, err = fmt.Fprintf(cmd.OutOrStdout(), "workspace %s of %s deleted. %s\n", orDefault(d.Workspace), d.User, d.Files)
			return err
		},
	}
	del.Flags().BoolVar(&yes, "yes", false, "really delete")
	nameFlag(del, &name)
	out.register(del)
	return del
}

var workspaceHeader = []string{"NAME", "USER", "PROFILE", "STATE", "LAST ACTIVITY", "AGE"}

func workspaceRows(now time.Time, ws ...apiclient.Workspace) [][]string {
	rows := make([][]string, 0, len(ws))
	for _, w := range ws {
		rows = append(rows, []string{orDefault(w.Workspace), w.User, orDash(w.Profile), w.State, since(now, w.LastActivity), since(now, w.Created)})
	}
	return rows
}

// nameFlag adds --name: which of the user's workspaces (default: her default workspace).
func nameFlag(cmd *cobra.Command, name *string) {
	cmd.Flags().StringVar(name, "name", "", "a named workspace of the user (default: the user's default workspace)")
}

// checkName refuses a bad --name before asking the gateway (which checks it again).
func checkName(name string) error {
	if name == "" {
		return nil
	}
	if err := identity.CheckWorkspaceName(name); err != nil {
		return fmt.Errorf("--name: %w", err)
	}
	return nil
}

// refString names a workspace in messages: "alice" or "alice/dev".
func refString(user, name string) string {
	if name == "" {
		return user
	}
	return user + "/" + name
}

// orDefault is the NAME column: a named workspace's name, or "default".
func orDefault(name string) string {
	if name == "" {
		return identity.DefaultWorkspace
	}
	return name
}

// since is kubectl's AGE: 45s, 5m, 3h12m, 2d ("-" when unknown).
func since(now time.Time, t *time.Time) string {
	if t == nil || t.IsZero() {
		return "-"
	}
	return duration.HumanDuration(now.Sub(*t))
}

// apiFlags are the flags every API command has.
func apiFlags(cmd *cobra.Command, c *apiclient.Client) {
	cmd.PersistentFlags().StringVar(&c.Server, "server", envOr("CODEHUB_SERVER", "http://127.0.0.1:8080"), "gateway URL (env CODEHUB_SERVER)")
	cmd.PersistentFlags().String("token-file", "", "file with a personal API token (default: env CODEHUB_TOKEN)")
}

// apiAuth reads the token: --token-file, else CODEHUB_TOKEN.
func apiAuth(cmd *cobra.Command, c *apiclient.Client) error {
	c.Token = os.Getenv("CODEHUB_TOKEN")
	if f, _ := cmd.Flags().GetString("token-file"); f != "" {
		b, err := os.ReadFile(f)
		if err != nil {
			return fmt.Errorf("--token-file: %w", err)
		}
		c.Token = strings.TrimSpace(string(b))
	}
	if c.Token == "" {
		return errors.New("no API token: set CODEHUB_TOKEN or --token-file (create one at /_codehub/api/v1/tokens)")
	}
	return nil
}
