package helm

import (
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/codehub-dev/codehub/internal/testkit"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/golden from the current chart")

// TestLint: `helm lint` and `helm lint --strict` are clean for every scenario.
func TestLint(t *testing.T) {
	h := newHelm(t)
	for _, s := range scenarios {
		for _, strict := range []bool{false, true} {
			args := append([]string{"lint", chartPath, "--namespace", namespace}, s.args...)
			if strict {
				args = append(args, "--strict")
			}
			out, errOut, err := h.run(args...)
			if err != nil {
				t.Errorf("%s: helm %s: %v\n%s%s", s.name, strings.Join(args, " "), err, out, errOut)
				continue
			}
			// Lint prints "[WARNING]"/"[ERROR]" lines even when it passes without --strict.
			for _, bad := range []string{"[WARNING]", "[ERROR]"} {
				if strings.Contains(out+errOut, bad) {
					t.Errorf("%s: helm %s reported %s:\n%s%s", s.name, strings.Join(args, " "), bad, out, errOut)
				}
			}
		}
	}
}

// TestPackage: the packaged chart (what a registry serves) renders exactly like the
// directory; .Files must not depend on anything outside the chart.
func TestPackage(t *testing.T) {
	h := newHelm(t)
	dir := t.TempDir()
	h.must(t, "package", chartPath, "--destination", dir)
	tgz, err := filepath.Glob(filepath.Join(dir, "codehub-*.tgz"))
	if err != nil || len(tgz) != 1 {
		t.Fatalf("helm package wrote %v (%v)", tgz, err)
	}
	for _, s := range scenarios {
		fromDir := normalize(h.template(t, s))
		args := append([]string{"template", release, tgz[0], "--namespace", namespace}, s.args...)
		if fromTgz := normalize(h.must(t, args...)); fromTgz != fromDir {
			t.Errorf("%s: the packaged chart renders differently:\n%s", s.name, lineDiff(fromDir, fromTgz))
		}
	}
}

// TestTemplateGolden compares `helm template` of each scenario with testdata/golden/<name>.yaml
// (go test ./test/helm -run TestTemplateGolden -update rewrites them).
func TestTemplateGolden(t *testing.T) {
	h := newHelm(t)
	for _, s := range scenarios {
		t.Run(s.name, func(t *testing.T) {
			got := normalize(h.template(t, s))
			path := filepath.Join("testdata", "golden", s.name+".yaml")
			if *update {
				if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run with -update to create it)", err)
			}
			if got != string(want) {
				t.Errorf("helm template differs from %s (run with -update if the change is intended):\n%s", path, lineDiff(string(want), got))
			}
		})
	}
}

// normalize makes a rendering comparable: the generated session key is masked, and the
// CRD's 1900-line spec (a copy of config/crd/bases, compared with it by TestRenderedObjects
// and scripts/check-chart-crd.sh) is replaced by a marker, so an API change does not
// rewrite every golden file.
func normalize(manifest string) string {
	manifest = sessionKey.ReplaceAllString(manifest, "${1}<generated>")
	docs := strings.Split(manifest, "\n---\n")
	for i, d := range docs {
		if strings.Contains(d, "\nkind: CustomResourceDefinition\n") {
			if j := strings.Index(d, "\nspec:\n"); j >= 0 {
				docs[i] = d[:j] + "\nspec: <config/crd/bases/codehub.io_workspaces.yaml>\n"
			}
		}
	}
	return strings.Join(docs, "\n---\n")
}

// lineDiff shows the first differing lines with some context.
func lineDiff(want, got string) string {
	w, g := strings.Split(want, "\n"), strings.Split(got, "\n")
	for i := 0; i < len(w) || i < len(g); i++ {
		var wl, gl string
		if i < len(w) {
			wl = w[i]
		}
		if i < len(g) {
			gl = g[i]
		}
		if wl != gl {
			var b strings.Builder
			for j := max(0, i-3); j < i; j++ {
				b.WriteString("  " + w[j] + "\n")
			}
			for j := i; j < min(i+5, len(w)); j++ {
				b.WriteString("- " + w[j] + "\n")
			}
			for j := i; j < min(i+5, len(g)); j++ {
				b.WriteString("+ " + g[j] + "\n")
			}
			return b.String()
		}
	}
	return ""
}

// TestRenderedObjects checks properties the issue names on the rendered objects, so a
// golden-file update cannot silently drop them.
func TestRenderedObjects(t *testing.T) {
	h := newHelm(t)
	def := objects(t, h.template(t, scenarios[0]))

	crd := find(def, "CustomResourceDefinition", "workspaces.codehub.io")
	if crd == nil {
		t.Fatal("no Workspace CRD rendered")
	}
	if crd.GetAnnotations()["helm.sh/resource-policy"] != "keep" {
		t.Errorf("the CRD must be rendered with helm.sh/resource-policy: keep; got %v", crd.GetAnnotations())
	}
	generated, err := os.ReadFile(filepath.Join(testkit.RepoRoot(t), "config", "crd", "bases", "codehub.io_workspaces.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if want := objects(t, string(generated)); len(want) != 1 || !reflect.DeepEqual(want[0].Object["spec"], crd.Object["spec"]) {
		t.Error("the chart's CRD differs from config/crd/bases/codehub.io_workspaces.yaml: run scripts/check-chart-crd.sh --fix")
	}
	if find(objects(t, h.template(t, scenarios[0], "--set", "crds.enabled=false")), "CustomResourceDefinition", "") != nil {
		t.Error("crds.enabled=false still renders the CRD")
	}
	if a := find(objects(t, h.template(t, scenarios[0], "--set", "crds.keep=false")), "CustomResourceDefinition", "").GetAnnotations(); a["helm.sh/resource-policy"] != "" {
		t.Errorf("crds.keep=false still keeps the CRD: %v", a)
	}
	for _, o := range def {
		l := o.GetLabels()
		for _, k := range []string{"helm.sh/chart", "app.kubernetes.io/name", "app.kubernetes.io/instance", "app.kubernetes.io/version", "app.kubernetes.io/managed-by"} {
			if l[k] == "" {
				t.Errorf("%s %s has no %s label", o.GetKind(), o.GetName(), k)
			}
		}
	}
	if find(def, "Ingress", "") != nil {
		t.Error("no global.domain: the default values must not render an Ingress")
	}
	if find(def, "ClusterRole", "") != nil || find(def, "ClusterRoleBinding", "") != nil {
		t.Error("the default install must not grant cluster-wide rights (operator.clusterWide is off)")
	}
	if np := find(def, "NetworkPolicy", release+"-codehub-workspaces"); np == nil {
		t.Error("no NetworkPolicy for workspace pods")
	} else {
		from, _, _ := unstructuredSlice(np.Object, "spec", "ingress")
		if len(from) != 1 || !strings.Contains(toYAML(t, from), "component: gateway") {
			t.Errorf("workspace pods must admit only the gateway pods; got %s", toYAML(t, from))
		}
	}
	gwRole := find(def, "Role", release+"-codehub-gateway")
	if gwRole == nil {
		t.Fatal("no gateway Role")
	}
	// Delete only on Workspaces themselves (codehub workspaces delete): never on their
	// status, Secrets or anything else.
	if got := toYAML(t, gwRole.Object["rules"]); strings.Count(got, "apiGroups") != 3 || !strings.Contains(got, "codehub.io") || strings.Count(got, "delete") != 1 ||
		!strings.Contains(got, "resources:\n  - workspaces\n  verbs:\n  - get\n  - list\n  - watch\n  - create\n  - update\n  - patch\n  - delete\n") ||
		!strings.Contains(got, "- apiGroups:\n  - \"\"\n  resources:\n  - secrets\n  verbs:\n  - get\n") {
		t.Errorf("the gateway may only read and write Workspaces (delete only Workspaces) and get Secrets (the workspaces' credentials):\n%s", got)
	}
	checkMetricsPolicies(t, def, nil)

	tls := objects(t, h.template(t, scenarios[3]))
	ing := find(tls, "Ingress", "")
	if ing == nil {
		t.Fatal("ingress-tls: no Ingress")
	}
	a := ing.GetAnnotations()
	for _, k := range []string{"nginx.ingress.kubernetes.io/proxy-read-timeout", "nginx.ingress.kubernetes.io/proxy-send-timeout"} {
		if a[k] != "3600" {
			t.Errorf("Ingress annotation %s = %q, want 3600 (WebSocket-friendly)", k, a[k])
		}
	}
	if a["cert-manager.io/cluster-issuer"] != "letsencrypt" {
		t.Errorf("ingress.extraAnnotations not merged: %v", a)
	}
	if y := toYAML(t, ing.Object["spec"]); !strings.Contains(y, "vscode.iguazio.example.com") || !strings.Contains(y, "secretName: vscode-tls") || !strings.Contains(y, "ingressClassName: nginx") {
		t.Errorf("Ingress spec lacks host, TLS or class:\n%s", y)
	}
	gw := toYAML(t, find(tls, "Deployment", release+"-codehub-gateway").Object)
	for _, flag := range []string{"--auth=oidc", "--oidc-issuer=https://keycloak.iguazio.example.com/realms/platform", "--oidc-client-id=codehub", "--oidc-client-secret-file=/etc/codehub/oidc/client-secret", "--secure-cookies=true", "--public-url=https://vscode.iguazio.example.com"} {
		if !strings.Contains(gw, flag) {
			t.Errorf("ingress-tls gateway lacks %s", flag)
		}
	}
	if find(tls, "ServiceMonitor", "") == nil {
		t.Error("metrics.serviceMonitor.enabled renders no ServiceMonitor")
	}

	np := objects(t, h.template(t, scenarios[4]))
	svc := find(np, "Service", release+"-codehub-gateway-nodeport")
	if svc == nil || !strings.Contains(toYAML(t, svc.Object["spec"]), "nodePort: 30073") {
		t.Errorf("nodeport: no NodePort Service on 30073: %v", svc)
	}
	if find(np, "ClusterRole", "") == nil {
		t.Error("operator.clusterWide renders no ClusterRole")
	}
	op := toYAML(t, find(np, "Deployment", release+"-codehub-operator").Object)
	if strings.Contains(op, "--watch-namespaces") {
		t.Error("a cluster-wide operator must not get --watch-namespaces")
	}

	// Scheduling, environment, pull secrets and RBAC/ServiceAccount switches reach the objects.
	knobs := objects(t, h.template(t, scenarios[0],
		"--set", "rbac.create=false,gateway.serviceAccount.create=false,gateway.serviceAccount.name=platform-sa",
		"--set", "gateway.nodeSelector.role=apps,gateway.tolerations[0].key=dedicated,gateway.tolerations[0].operator=Exists",
		"--set", "gateway.extraEnv[0].name=HTTPS_PROXY,gateway.extraEnv[0].value=http://proxy:3128",
		"--set", "operator.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms[0].matchExpressions[0].key=role",
		"--set", "operator.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms[0].matchExpressions[0].operator=Exists",
		"--set", "imagePullSecrets[0]=registry,operator.imagePullSecrets[0]=operator-registry",
		"--set", "gateway.image.repository=registry.example.com/codehub-gateway,gateway.image.tag=1.2.3,gateway.image.pullPolicy=Always",
	))
	for _, kind := range []string{"Role", "RoleBinding", "ClusterRole", "ClusterRoleBinding"} {
		if o := find(knobs, kind, ""); o != nil {
			t.Errorf("rbac.create=false still renders %s %s", kind, o.GetName())
		}
	}
	if o := find(knobs, "ServiceAccount", release+"-codehub-gateway"); o != nil {
		t.Error("gateway.serviceAccount.create=false still renders the gateway ServiceAccount")
	}
	gwSpec := toYAML(t, find(knobs, "Deployment", release+"-codehub-gateway").Object["spec"])
	for _, want := range []string{"serviceAccountName: platform-sa", "role: apps", "key: dedicated", "name: HTTPS_PROXY", "- name: registry", "image: registry.example.com/codehub-gateway:1.2.3", "imagePullPolicy: Always"} {
		if !strings.Contains(gwSpec, want) {
			t.Errorf("gateway Deployment lacks %q", want)
		}
	}
	opSpec := toYAML(t, find(knobs, "Deployment", release+"-codehub-operator").Object["spec"])
	for _, want := range []string{"nodeAffinity", "- name: registry", "- name: operator-registry", "image: codehub-operator:0.1.0"} {
		if !strings.Contains(opSpec, want) {
			t.Errorf("operator Deployment lacks %q", want)
		}
	}

	origins := objects(t, h.template(t, scenarios[5]))
	const originsHost = "vscode.iguazio.example.com"
	for _, d := range []string{release + "-codehub-gateway", release + "-codehub-operator"} {
		if y := toYAML(t, find(origins, "Deployment", d).Object); !strings.Contains(y, "--workspace-origins="+originsHost+"\n") {
			t.Errorf("workspace-origins: %s lacks --workspace-origins=%s", d, originsHost)
		}
	}
	if y := toYAML(t, find(origins, "Ingress", "").Object["spec"]); strings.Count(y, "'*."+originsHost+"'") != 2 || strings.Count(y, "host: ") != 2 {
		t.Errorf("workspace-origins: the Ingress must serve and cover (TLS) *.%s too:\n%s", originsHost, y)
	}
	for _, o := range def {
		if y := toYAML(t, o.Object); strings.Contains(y, "--workspace-origins") {
			t.Errorf("default: %s %s passes --workspace-origins", o.GetKind(), o.GetName())
		}
	}
	checkMetricsPolicies(t, origins, []string{"kubernetes.io/metadata.name: monitoring", "app.kubernetes.io/name: prometheus"})

	v3 := objects(t, h.template(t, scenarios[2]))
	cm := find(v3, "ConfigMap", release+"-codehub-workspace-defaults")
	if d := toYAML(t, cm.Object["data"]); !strings.Contains(d, "v3io-access-key") || !strings.Contains(d, "container: users") || !strings.Contains(d, "/v3io/users/shared/conda/envs") {
		t.Errorf("v3io: workspace defaults lack the v3io mount or conda dirs:\n%s", d)
	}
}

// checkMetricsPolicies: the gateway's and operator's own policies never open the metrics
// ports; with scrapers (want: text each peer must contain) one policy per component admits
// exactly them to exactly its metrics port, and without scrapers there is none.
func checkMetricsPolicies(t *testing.T, objs []*unstructured.Unstructured, want []string) {
	t.Helper()
	for c, port := range map[string]string{"gateway": "9090", "operator": "8080"} {
		own := find(objs, "NetworkPolicy", release+"-codehub-"+c)
		if own == nil {
			t.Fatalf("no %s NetworkPolicy", c)
		}
		if y := toYAML(t, own.Object["spec"]); strings.Contains(y, "port: "+port+"\n") {
			t.Errorf("the %s's own NetworkPolicy admits its metrics port %s from anywhere:\n%s", c, port, y)
		}
		mp := find(objs, "NetworkPolicy", release+"-codehub-"+c+"-metrics")
		if want == nil {
			if mp != nil {
				t.Errorf("no metrics.scrapers, yet a %s metrics NetworkPolicy admits someone:\n%s", c, toYAML(t, mp.Object["spec"]))
			}
			continue
		}
		if mp == nil {
			t.Fatalf("metrics.scrapers set: no %s metrics NetworkPolicy", c)
		}
		rules, _, _ := unstructuredSlice(mp.Object, "spec", "ingress")
		y := toYAML(t, rules)
		if len(rules) != 1 || strings.Count(y, "port: ") != 1 || !strings.Contains(y, "port: "+port+"\n") || strings.Count(y, "namespaceSelector") != 1 {
			t.Errorf("%s metrics NetworkPolicy: want one rule, the scraper peer, port %s only:\n%s", c, port, y)
		}
		for _, w := range want {
			if !strings.Contains(y, w) {
				t.Errorf("%s metrics NetworkPolicy lacks %q:\n%s", c, w, y)
			}
		}
	}
}
