package workspacebuild

import (
	"reflect"
	"slices"
	"testing"
)

// TestOwnedKindsAreWhatIsBuilt: OwnedKinds, which the controller watches and caches, names
// exactly the kinds Objects and CredentialSecret build across the golden cases (a kind
// built but not listed would go unwatched; one listed but never built, watched for nothing).
func TestOwnedKindsAreWhatIsBuilt(t *testing.T) {
	var listed []string
	for _, obj := range OwnedKinds() {
		k := reflect.TypeOf(obj).Elem().String()
		if slices.Contains(listed, k) {
			t.Errorf("OwnedKinds lists %s twice", k)
		}
		listed = append(listed, k)
	}
	var built []string
	add := func(obj any) {
		if k := reflect.TypeOf(obj).Elem().String(); !slices.Contains(built, k) {
			built = append(built, k)
		}
	}
	for _, ws := range cases {
		for _, obj := range Objects(ws, DefaultOptions(), "cred") {
			add(obj)
		}
		add(CredentialSecret(ws, "cred"))
	}
	slices.Sort(listed)
	slices.Sort(built)
	if !slices.Equal(listed, built) {
		t.Errorf("OwnedKinds = %v, built = %v", listed, built)
	}
}
