package main

import (
	"fmt"
	"os"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/codehub-dev/codehub/internal/apiclient"
)

func newWorkspaces() *cobra.Command {
	c := &apiclient.Client{}
	cmd := &cobra.Command{
		Use:               "workspaces",
		Short:             "List, start and stop workspaces through a gateway's API (personal API token)",
		PersistentPreRunE: func(cmd *cobra.Command, _ []string) error { return apiAuth(cmd, c) },
	}
	apiFlags(cmd, c)
	print := func(cmd *cobra.Command, ws ...apiclient.Workspace) {
		tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "USER\tWORKSPACE\tSTATE\tLAST ACTIVITY")
		for _, w := range ws {
			last := "-"
			if w.LastActivity != nil {
				last = w.LastActivity.Format("2006-01-02 15:04:05")
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", w.User, w.Name, w.State, last)
		}
		tw.Flush()
	}
	cmd.AddCommand(&cobra.Command{
		Use: "list", Short: "List workspaces (admins see everyone's)", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ws, err := c.List(cmd.Context())
			if err != nil {
				return err
			}
			print(cmd, ws...)
			return nil
		},
	}, &cobra.Command{
		Use: "start USER", Short: "Start a workspace", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			w, err := c.Start(cmd.Context(), args[0])
			if err == nil {
				print(cmd, w)
			}
			return err
		},
	}, &cobra.Command{
		Use: "stop USER", Short: "Stop a workspace (its files stay)", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			w, err := c.Stop(cmd.Context(), args[0])
			if err == nil {
				print(cmd, w)
			}
			return err
		},
	})
	return cmd
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
	return nil
}
