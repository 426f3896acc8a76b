package workspacebuild

import (
	"testing"

	"sigs.k8s.io/yaml"
)

// The platform's Jupyter pods carry exactly this volume; the FUSE driver rejects others.
const platformV3IO = `flexVolume:
  driver: v3io/fuse
  options:
    dirsToCreate: '[{"name":"users//alice","permissions":488}]'
  secretRef:
    name: alice-v3io-fuse
name: v3io
`

func TestV3IOFlexVolume(t *testing.T) {
	got, err := yaml.Marshal(V3IOVolume("v3io", v3ioSpec()))
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != platformV3IO {
		t.Fatalf("v3io volume:\n%s\nwant:\n%s", got, platformV3IO)
	}
	ws := cases["v3io-mount"]
	_, mounts := volumes(ws)
	var paths []string
	for _, m := range mounts {
		if m.Name == "mount-v3io" {
			paths = append(paths, m.MountPath+"="+m.SubPath)
		}
	}
	if len(paths) != 2 || paths[0] != "/v3io=" || paths[1] != "/User=users/alice" {
		t.Fatalf("v3io mounts = %v, want [/v3io= /User=users/alice]", paths)
	}
}

// The kubelet applies fsGroup to flexVolumes too: with it, a driver that does not opt out has
// every file of the v3io mount re-grouped at each pod start (seen on the test node). A v3io
// home therefore gets no fsGroup (nothing of it needs one), and every fsGroup comes with
// OnRootMismatch, so a volume whose root already has the group is not walked again.
func TestFSGroupAndFUSE(t *testing.T) {
	o := DefaultOptions()
	for name, want := range map[string]bool{"v3io-home": false, "v3io-mount": true, "default": true, "existing-claim-csi": true} {
		sc := PodTemplate(cases[name], o, "").Spec.SecurityContext
		if got := sc.FSGroup != nil; got != want {
			t.Errorf("%s: fsGroup set = %v, want %v", name, got, want)
		}
		if sc.FSGroup != nil && (sc.FSGroupChangePolicy == nil || *sc.FSGroupChangePolicy != "OnRootMismatch") {
			t.Errorf("%s: fsGroup without fsGroupChangePolicy OnRootMismatch: %v", name, sc.FSGroupChangePolicy)
		}
	}
}
