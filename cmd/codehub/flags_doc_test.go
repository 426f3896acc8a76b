package main

import (
	"os"
	"regexp"
	"slices"
	"sort"
	"testing"

	"github.com/spf13/pflag"
)

// TestServeFlagsDocumented keeps the docs true: every flag of `codehub serve` is in the
// flag table of docs/configuration.md (or, for the sign-in providers' flags, in
// docs/authentication.md), and every flag those tables name exists. `make lint` runs it.
func TestServeFlagsDocumented(t *testing.T) {
	var have []string
	newServe().Flags().VisitAll(func(f *pflag.Flag) { have = append(have, f.Name) })
	documented := map[string]bool{}
	cell := regexp.MustCompile("`--([a-z0-9-]+)`")
	for _, doc := range []string{"../../docs/configuration.md", "../../docs/authentication.md"} {
		b, err := os.ReadFile(doc)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range cell.FindAllSubmatch(b, -1) {
			documented[string(m[1])] = true
		}
	}
	var missing, unknown []string
	for _, f := range have {
		if !documented[f] {
			missing = append(missing, f)
		}
	}
	for f := range documented {
		if !slices.Contains(have, f) && !otherCommandFlag[f] {
			unknown = append(unknown, f)
		}
	}
	sort.Strings(unknown)
	if len(missing) > 0 {
		t.Errorf("flags of codehub serve missing from the docs: %v", missing)
	}
	if len(unknown) > 0 {
		t.Errorf("the docs name flags codehub serve does not have: %v", unknown)
	}
}

// otherCommandFlag are flags the docs name that belong to other commands.
var otherCommandFlag = map[string]bool{
	"password-stdin": true, "admin": true, "token-file": true, "server": true, "check": true,
	"yes": true, "profile": true, // codehub workspaces delete|start
	"extensions": true, // codehub-init's
}

// TestServeHelpDescribesBothBackends keeps `codehub serve --help` true: its description has
// a paragraph for each --backend value, and every flag it names exists.
func TestServeHelpDescribesBothBackends(t *testing.T) {
	cmd := newServe()
	for _, backend := range []string{"local", "kubernetes"} {
		if !regexp.MustCompile(`(?m)^  ` + backend + ` +\S`).MatchString(cmd.Long) {
			t.Errorf("serve --help has no paragraph for the %s backend:\n%s", backend, cmd.Long)
		}
	}
	for _, m := range regexp.MustCompile(`--([a-z0-9-]+)`).FindAllStringSubmatch(cmd.Long, -1) {
		if cmd.Flags().Lookup(m[1]) == nil {
			t.Errorf("serve --help names --%s, which serve does not have", m[1])
		}
	}
}
