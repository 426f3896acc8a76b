package main

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/codehub-dev/codehub/internal/apiclient"
)

func newProfiles() *cobra.Command {
	c := &apiclient.Client{}
	var out output
	cmd := &cobra.Command{
		Use:               "profiles",
		Short:             "The workspace profiles you may use (through a gateway's API, personal API token)",
		PersistentPreRunE: func(cmd *cobra.Command, _ []string) error { return apiAuth(cmd, c) },
	}
	apiFlags(cmd, c)
	list := &cobra.Command{
		Use: "list", Short: "List profiles (the default first)", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ps, err := c.Profiles(cmd.Context())
			if err != nil {
				return err
			}
			var rows [][]string
			for _, p := range ps {
				name := p.Name
				if p.Default {
					name += " (default)"
				}
				rows = append(rows, []string{name, orDash(p.CPU.Limit), orDash(p.Memory.Limit), fmt.Sprint(p.GPUs), orDash(p.IdleTimeout),
					orDash(strings.Join(p.Ignored, ",")), orDash(p.Description)})
			}
			// IGNORED: the fields this gateway's backend does not apply (local: image, CPU,
			// memory, GPUs, placement).
			return out.print(cmd.OutOrStdout(), map[string]any{"profiles": ps}, []string{"NAME", "CPU", "MEMORY", "GPUS", "IDLE TIMEOUT", "IGNORED", "DESCRIPTION"}, rows)
		},
	}
	out.register(list)
	cmd.AddCommand(list)
	return cmd
}

func orDash(s string) string {
	if strings.TrimSpace(s) == "" {
		return "-"
	}
	return s
}
