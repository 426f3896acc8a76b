package testnode

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// VolumePluginDir is the kubelet's (and kube-controller-manager's) flexVolume plugin
// directory: the driver vendor/name is the executable <dir>/<vendor>~<name>/<name>.
func VolumePluginDir() string { return volumePluginDir }

// V3IOStandIn configures the v3io flexVolume stand-in (internal/testnode/v3iofuse): Root holds
// one directory per data container, Users maps access keys to platform users.
type V3IOStandIn struct {
	Root  string              `json:"root"`
	Users map[string]V3IOUser `json:"users"`
}

// V3IOUser is a platform user the stand-in knows by access key.
type V3IOUser struct {
	Name string `json:"name"`
	UID  int    `json:"uid"`
	GID  int    `json:"gid"`
}

// V3IODriverDir is where the v3io/fuse driver lives; calls.log there lists the kubelet's calls
// (without option values), daemons/ the FUSE daemons' logs.
func V3IODriverDir() string { return filepath.Join(volumePluginDir, "v3io~fuse") }

// InstallV3IOStandIn builds internal/testnode/v3iofuse (static, CGO_ENABLED=0) and installs
// it as the flexVolume driver v3io/fuse, the name the chart renders. The kubelet finds it by
// probing the plugin directory (no restart); its daemons are the node's processes (teardown
// kills them and unmounts what they served).
func (n *Node) InstallV3IOStandIn(ctx context.Context, cfg V3IOStandIn) error {
	if n.opts.RepoRoot == "" {
		return fmt.Errorf("Options.RepoRoot is empty (needed to build internal/testnode/v3iofuse)")
	}
	dir := V3IODriverDir()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	b, err := json.MarshalIndent(cfg, "", "  ")
	if err != nil {
		return err
	}
	// The configuration goes first: the kubelet calls init as soon as the executable appears.
	if err := os.WriteFile(filepath.Join(dir, "standin.json"), b, 0o600); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	tmp := filepath.Join(StateDir, "v3iofuse.tmp")
	cmd := exec.CommandContext(ctx, "go", "build", "-trimpath", "-ldflags", "-s -w", "-o", tmp, "./internal/testnode/v3iofuse")
	cmd.Dir = n.opts.RepoRoot
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("go build v3iofuse: %v: %s", err, strings.TrimSpace(string(out)))
	}
	return os.Rename(tmp, filepath.Join(dir, "fuse"))
}
