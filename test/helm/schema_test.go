package helm

import (
	"regexp"
	"strings"
	"testing"
)

// TestValuesRejected: wrong types, unknown keys and inconsistent settings fail rendering
// with a message that names the offending value.
func TestValuesRejected(t *testing.T) {
	h := newHelm(t)
	cases := []struct {
		name string
		args []string
		want []string // regexps, all must match helm's stderr
	}{
		{"wrong type", []string{"--set-string", "gateway.replicas=two"}, []string{`at '/gateway/replicas': got string, want integer`}},
		{"wrong type bool", []string{"--set-string", "ingress.enabled=yes"}, []string{`at '/ingress/enabled': got string, want boolean`}},
		{"unknown key", []string{"--set", "gateway.replica=2"}, []string{`at '/gateway': additional properties 'replica' not allowed`}},
		{"unknown top-level key", []string{"--set", "domain=example.com"}, []string{`at '': additional properties 'domain' not allowed`}},
		{"unknown nested key", []string{"--set", "workspaceDefaults.storage.v3io.acessKey=x"}, []string{`at '/workspaceDefaults/storage/v3io': additional properties 'acessKey' not allowed`}},
		{"bad enum", []string{"--set", "auth.mode=kerberos"}, []string{`at '/auth/mode': value must be one of 'local', 'forward', 'oidc', 'header'`}},
		{"node port out of range", []string{"--set", "nodePort.enabled=true,nodePort.port=80"}, []string{`at '/nodePort/port'`, `minimum: got 80, want 30,000`}},
		{"no workspace at all", []string{"--set", "gateway.maxWorkspaces=0"}, []string{`at '/gateway/maxWorkspaces'`, `minimum: got 0, want 1`}},
		{"bad duration", []string{"--set", "workspaceDefaults.idleTimeout=soon"}, []string{`at '/workspaceDefaults/idleTimeout': 'soon' does not match pattern`}},
		{"forward without url", []string{"--set", "auth.mode=forward"}, []string{`auth\.forward\.url is required`}},
		{"oidc without client", []string{"--set", "auth.mode=oidc,auth.oidc.issuer=https://idp"}, []string{`auth\.oidc\.issuer, auth\.oidc\.clientID and auth\.oidc\.clientSecretName are required`}},
		{"v3io without secret", []string{"--set", "workspaceDefaults.storage.v3io.enabled=true"}, []string{`v3io\.secretName is required`}},
		{"local auth with replicas", []string{"--set", "gateway.replicas=2"}, []string{`auth\.mode=local keeps users in the gateway pod`}},
		{"tls without secret", []string{"--set", "global.domain=example.com,ingress.tls.enabled=true"}, []string{`ingress\.tls\.secretName is required`}},
		{"workspace origins without tls", []string{"--set", "global.domain=example.com,gateway.workspaceOrigins=true"}, []string{`gateway\.workspaceOrigins needs a host .* and HTTPS`}},
		{"workspace origins without host", []string{"--set", "gateway.workspaceOrigins=true,gateway.secureCookies=true"}, []string{`gateway\.workspaceOrigins needs a host`}},
		{"scraper ip block", []string{"--set", "metrics.scrapers[0].ipBlock.cidr=0.0.0.0/0"}, []string{`at '/metrics/scrapers/0': additional properties 'ipBlock' not allowed`}},
		{"scraper empty", []string{"--set-json", "metrics.scrapers=[{}]"}, []string{`at '/metrics/scrapers/0': minProperties`}},
		{"scraper selector typo", []string{"--set", "metrics.scrapers[0].podSelector.matchLabel.app=prometheus"}, []string{`at '/metrics/scrapers/0/podSelector': additional properties 'matchLabel' not allowed`}},
		{"scraper bad operator", []string{"--set-json", `metrics.scrapers=[{"podSelector":{"matchExpressions":[{"key":"app","operator":"Equals"}]}}]`}, []string{`at '/metrics/scrapers/0/podSelector/matchExpressions/0/operator': value must be one of`}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			args := append([]string{"template", release, chartPath, "--namespace", namespace}, c.args...)
			out, errOut, err := h.run(args...)
			if err == nil {
				t.Fatalf("helm %s succeeded, want an error; output:\n%.2000s", strings.Join(args, " "), out)
			}
			for _, w := range c.want {
				if !regexp.MustCompile(w).MatchString(errOut) {
					t.Errorf("helm's error does not match %q:\n%s", w, errOut)
				}
			}
			if strings.Contains(errOut, "panic") || len(errOut) > 4000 {
				t.Errorf("error is not readable:\n%s", errOut)
			}
			t.Logf("%s", strings.TrimSpace(errOut))
		})
	}
}
