package local

import (
	"context"
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/codehub-dev/codehub/internal/backend"
	"github.com/codehub-dev/codehub/internal/identity"
)

// TestNamedWorkspaceRecords: a named workspace has its own directory, runs as its owner's
// uid (from her default workspace's record when the caller brings no ids: an API start),
// is listed with its name, and its directory is never taken over by another user or another
// of her workspaces.
func TestNamedWorkspaceRecords(t *testing.T) {
	needRoot(t)
	b, _ := newTestBackend(t, nil)
	erin := identity.Identity{User: "erin", UID: ptr(3101), GID: ptr(3102)}
	def, ml := backend.Default("erin"), backend.Ref{User: "erin", Name: "ml"}
	for _, ref := range []backend.Ref{def, ml} {
		os.MkdirAll(b.dirOf(ref.FullName()), 0o700)
	}
	if _, err := b.credentialFor(erin, "", b.dirOf(def.FullName())); err != nil {
		t.Fatal(err)
	}
	cred, err := b.credentialFor(identity.Identity{User: "erin"}, "ml", b.dirOf(ml.FullName()))
	if err != nil || cred == nil || cred.Uid != 3101 || cred.Gid != 3102 {
		t.Fatalf("erin/ml started without ids: %+v %v, want her default workspace's 3101:3102", cred, err)
	}
	for _, c := range []struct {
		id    identity.Identity
		named string
		want  string
	}{
		{identity.Identity{User: "mallory", UID: ptr(3201)}, "ml", `belongs to "erin"`},
		{erin, "", `workspace "ml", not ""`},
		{erin, "gpu", `workspace "ml", not "gpu"`},
	} {
		if _, err := b.credentialFor(c.id, c.named, b.dirOf(ml.FullName())); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s/%s on erin/ml's directory: %v, want %q", c.id.User, c.named, err, c.want)
		}
	}
	if err := b.SetProfile(context.Background(), backend.Ref{User: "erin", Name: "gpu"}, "default"); err != nil {
		t.Fatal(err)
	}
	list, err := b.List(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, w := range list {
		got[w.Ref().String()] = w.Name
	}
	for _, ref := range []backend.Ref{def, ml, {User: "erin", Name: "gpu"}} {
		if got[ref.String()] != ref.FullName() {
			t.Errorf("list: %s is %q, want %q (all: %v)", ref, got[ref.String()], ref.FullName(), got)
		}
	}
	if w, err := b.Get(context.Background(), ml); err != nil || w.Named != "ml" || w.User != "erin" {
		t.Errorf("Get erin/ml: %+v %v", w, err)
	}
	if _, err := b.Get(context.Background(), backend.Ref{User: "erin", Name: "nope"}); !errors.Is(err, backend.ErrNotFound) {
		t.Errorf("Get erin/nope: %v", err)
	}
}
