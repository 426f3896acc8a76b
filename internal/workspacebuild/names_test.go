package workspacebuild

import (
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/util/validation"

	codehubv1 "github.com/codehub-dev/codehub/api/v1alpha1"
)

func TestNamesDistinctAndValid(t *testing.T) {
	users := []string{"a-b", "a.b", "Alice", "alice", "1bob", "ünïcödé", strings.Repeat("very-long-user-name.", 20), "---"}
	seen := map[string]string{}
	for _, u := range users {
		ws := &codehubv1.Workspace{Spec: codehubv1.WorkspaceSpec{User: u}}
		for _, n := range []string{Base(ws), CredentialSecretName(ws), HomeClaimName(ws)} {
			if errs := validation.IsDNS1035Label(n); len(errs) > 0 {
				t.Errorf("user %q: name %q: %v", u, n, errs)
			}
		}
		if other, dup := seen[Base(ws)]; dup {
			t.Errorf("users %q and %q share name %q", u, other, Base(ws))
		}
		seen[Base(ws)] = u
	}
}
