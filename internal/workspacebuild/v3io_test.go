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
