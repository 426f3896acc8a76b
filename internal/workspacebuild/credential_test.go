package workspacebuild

import (
	"encoding/base64"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/yaml"

	codehubv1 "github.com/codehub-dev/codehub/api/v1alpha1"
)

// TestCredentialOnlyInSecret: the credential (plain or base64) appears in no built object
// but its Secret; the pod gets it by secretKeyRef, and a HASHED_PASSWORD in spec.env cannot
// replace it.
func TestCredentialOnlyInSecret(t *testing.T) {
	ws := workspace("alice", func(ws *codehubv1.Workspace) {
		ws.Spec.Env = []corev1.EnvVar{{Name: EnvCredential, Value: "chosen-by-the-spec"}, {Name: "KEEP", Value: "1"}}
	})
	forms := []string{testCredential, base64.StdEncoding.EncodeToString([]byte(testCredential))}
	for _, obj := range Objects(ws, DefaultOptions(), testCredential) {
		b, err := yaml.Marshal(obj)
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range forms {
			if strings.Contains(string(b), f) {
				t.Errorf("%T %s contains the credential", obj, obj.GetName())
			}
		}
	}
	sec := CredentialSecret(ws, testCredential)
	if string(sec.Data[CredentialKey]) != testCredential || sec.Name != Base(ws)+"-auth" || len(sec.OwnerReferences) != 1 || sec.OwnerReferences[0].UID != ws.UID {
		t.Fatalf("secret = %+v", sec)
	}

	env := Deployment(ws, DefaultOptions(), testCredential).Spec.Template.Spec.Containers[0].Env
	var names []string
	for _, e := range env {
		names = append(names, e.Name)
		if e.Name == EnvCredential {
			if e.Value != "" || e.ValueFrom == nil || e.ValueFrom.SecretKeyRef == nil ||
				e.ValueFrom.SecretKeyRef.Name != CredentialSecretName(ws) || e.ValueFrom.SecretKeyRef.Key != CredentialKey {
				t.Errorf("%s = %+v, want only a secretKeyRef to %s/%s", EnvCredential, e, CredentialSecretName(ws), CredentialKey)
			}
		}
	}
	if strings.Join(names, ",") != "HOME,CODEHUB_USER,KEEP,"+EnvCredential {
		t.Errorf("env names = %v: the spec's %s must be dropped, the rest kept", names, EnvCredential)
	}
}

// TestCredentialChangeRollsPod: another credential is another pod template (a running
// container's env never changes), the same one the same template.
func TestCredentialChangeRollsPod(t *testing.T) {
	ws := workspace("alice", nil)
	tmpl := func(cred string) *appsv1.Deployment { return Deployment(ws, DefaultOptions(), cred) }
	a, b := tmpl(testCredential), tmpl(strings.Repeat("ab", 32))
	ha, hb := a.Spec.Template.Annotations[AnnotationCredentialHash], b.Spec.Template.Annotations[AnnotationCredentialHash]
	if ha == "" || ha == hb {
		t.Fatalf("credential hashes %q and %q: want distinct, non-empty", ha, hb)
	}
	if again := tmpl(testCredential).Spec.Template.Annotations[AnnotationCredentialHash]; again != ha {
		t.Fatalf("same credential, hash %q then %q", ha, again)
	}
	if !ValidCredential(testCredential) || ValidCredential(testCredential[:63]) || ValidCredential(strings.Repeat("zz", 32)) || ValidCredential("") {
		t.Fatal("ValidCredential accepts what it should not, or refuses a credential")
	}
}

// TestPortProxyURI: with the operator's --workspace-origins the pod's VSCODE_PROXY_URI is the
// gateway's per-port origin of this workspace (and the spec cannot replace it); without it,
// there is none.
func TestPortProxyURI(t *testing.T) {
	ws := workspace("Bob.Smith@corp", func(ws *codehubv1.Workspace) {
		ws.Spec.Env = []corev1.EnvVar{{Name: EnvProxyURI, Value: "//evil.example/{{port}}"}}
	})
	envOf := func(o Options) map[string][]string {
		m := map[string][]string{}
		for _, e := range PodTemplate(ws, o, testCredential).Spec.Containers[0].Env {
			m[e.Name] = append(m[e.Name], e.Value)
		}
		return m
	}
	o := DefaultOptions()
	o.WorkspaceOrigins = "vscode.example.com"
	// The gateway's name for the workspace, identity.WorkspaceName("Bob.Smith@corp").
	const want = "//p{{port}}--bob-smith-corp-9c720709f7.vscode.example.com/"
	if got := envOf(o)[EnvProxyURI]; len(got) != 1 || got[0] != want {
		t.Fatalf("VSCODE_PROXY_URI = %q, want [%q]", got, want)
	}
	// Without the option the operator sets none; the spec's own stays the user's business.
	if got := envOf(DefaultOptions())[EnvProxyURI]; len(got) != 1 || got[0] != "//evil.example/{{port}}" {
		t.Fatalf("without --workspace-origins: VSCODE_PROXY_URI = %q, want only the spec's", got)
	}
	ws.Spec.Env = nil
	if got, ok := envOf(DefaultOptions())[EnvProxyURI]; ok {
		t.Fatalf("without --workspace-origins: VSCODE_PROXY_URI = %q, want unset", got)
	}
}
