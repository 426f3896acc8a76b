package helm

import (
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/codehub-dev/codehub/internal/testkit"
)

// buildHelp builds a command of this module and returns its help text.
func buildHelp(t *testing.T, pkg string, helpArgs ...string) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), filepath.Base(pkg))
	testkit.GoBuild(t, bin, pkg)
	// Go's flag package exits 2 on -help, cobra 0: only the text matters.
	out, _ := exec.Command(bin, helpArgs...).CombinedOutput()
	return string(out)
}

var argFlag = regexp.MustCompile(`^--?([a-z0-9-]+)(=|$)`)

// containerArgs returns the flag names a rendered Deployment passes its container.
func containerArgs(t *testing.T, manifest, deployment string) []string {
	t.Helper()
	d := find(objects(t, manifest), "Deployment", deployment)
	if d == nil {
		t.Fatalf("no Deployment %s", deployment)
	}
	containers, _, _ := unstructuredSlice(d.Object, "spec", "template", "spec", "containers")
	var names []string
	for _, a := range containers[0].(map[string]any)["args"].([]any) {
		if m := argFlag.FindStringSubmatch(a.(string)); m != nil {
			names = append(names, m[1])
		}
	}
	return names
}

// TestFlagsExist: every flag the chart passes the gateway (`codehub serve`) and the operator
// exists in the commands as built from this tree, so a renamed flag fails here and not in
// a crash-looping pod. Renders every scenario plus one with every optional auth value set.
func TestFlagsExist(t *testing.T) {
	h := newHelm(t)
	gatewayHelp := buildHelp(t, "./cmd/codehub", "serve", "--help")
	operatorHelp := buildHelp(t, "./cmd/operator", "-help")

	all := append([]scenario{}, scenarios...)
	all = append(all,
		scenario{name: "forward-all", args: []string{"-f", "test/helm/testdata/v3io.yaml", "--set",
			"auth.forward.loginURL=https://l/?rd={url},auth.forward.cookies[0]=session,auth.forward.headers[0]=Authorization," +
				"auth.forward.userHeader=X-Remote-User,auth.forward.uidHeader=X-Unix-Uid,auth.forward.gidHeader=X-Unix-Gid," +
				"auth.forward.groupsHeader=X-User-Group-Ids,auth.forward.sessionKeyHeader=X-V3io-Session-Key," +
				"auth.forward.cacheTTL=30s,auth.forward.timeout=5s,auth.adminUsers[0]=admin,metrics.enabled=false"}},
		scenario{name: "oidc-all", args: []string{"-f", "test/helm/testdata/ingress-tls.yaml", "--set",
			"auth.oidc.redirectURL=https://v/cb,auth.oidc.scopes[0]=groups,auth.oidc.allowedUsers[0]=a,auth.oidc.allowedGroups[0]=g," +
				"auth.oidc.userClaim=u,auth.oidc.groupsClaim=g,auth.oidc.uidClaim=uid,auth.oidc.gidClaim=gid"}},
		scenario{name: "header-all", args: []string{"-f", "test/helm/testdata/nodeport.yaml", "--set",
			"auth.header.groupsName=X-Groups,auth.forward.loginURL=https://login"}},
	)
	has := func(help, f string) bool {
		return regexp.MustCompile(`(?m)^\s+(-\w, )?--?` + regexp.QuoteMeta(f) + `([ \t]|$)`).MatchString(help)
	}
	if !has(gatewayHelp, "listen") || has(gatewayHelp, "no-such-flag") || !has(operatorHelp, "watch-namespaces") {
		t.Fatalf("cannot read the commands' flags from their help:\n%s\n%s", gatewayHelp, operatorHelp)
	}
	seen := map[string]bool{}
	for _, s := range all {
		manifest := h.template(t, s)
		for _, c := range []struct{ deployment, help string }{
			{release + "-codehub-gateway", gatewayHelp},
			{release + "-codehub-operator", operatorHelp},
		} {
			for _, f := range containerArgs(t, manifest, c.deployment) {
				seen[f] = true
				if !has(c.help, f) {
					t.Errorf("%s: %s is passed --%s, which its command does not have", s.name, c.deployment, f)
				}
			}
		}
	}
	t.Logf("%d distinct flags checked", len(seen))
	if len(seen) < 40 {
		t.Errorf("only %d distinct flags checked: %v", len(seen), strings.Join(keys(seen), " "))
	}
}

func keys(m map[string]bool) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}
