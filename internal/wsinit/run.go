package wsinit

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// Prepare does every step before code-server starts. Steps that only add comfort
// (kubeconfig, conda, settings, extensions) report a failure as one warning line and the
// workspace still starts; only dirs code-server cannot run without are fatal.
func Prepare(ctx context.Context, c *Config, getenv func(string) string, log io.Writer) error {
	start := time.Now()
	logf := func(format string, args ...any) { fmt.Fprintf(log, "codehub-init: "+format+"\n", args...) }
	warn := func(err error) { logf("warning: %v", err) }

	for _, d := range []struct{ flag, dir string }{
		{flagStateDir, c.StateDir}, {flagUserDataDir, c.UserDataDir}, {flagExtensionsDir, c.ExtensionsDir},
	} {
		if err := os.MkdirAll(d.dir, 0o755); err != nil {
			return fmt.Errorf("--%s %s: cannot create: %w", d.flag, d.dir, unwrapPathErr(err))
		}
		if onFUSE(d.dir) {
			warn(fmt.Errorf("--%s %s is on a FUSE mount: VS Code renames directories there, which FUSE (v3io) does not support; use a local volume", d.flag, d.dir))
		}
	}

	homeOK := true
	if err := probeWritable(c.Home); err != nil {
		warn(fmt.Errorf("home %s (--home/$HOME): not writable, skipping kubeconfig and conda files: %v", c.Home, err))
		homeOK = false
	}

	if homeOK {
		switch r, path, err := WriteKubeconfig(c.Home, c.ServiceAccountDir, getenv); {
		case err != nil:
			warn(fmt.Errorf("kubeconfig: %w", err))
		case r == KubeconfigSkippedNoSA:
			logf("kubeconfig: skipped, no ServiceAccount dir %s (local backend)", c.ServiceAccountDir)
		default:
			logf("kubeconfig: %s %s", r, path)
		}

		envsDirs := CondaEnvsDirs(c.CondaEnvsDirs, c.CondaBase)
		if r, err := SyncConda(c.Home, envsDirs, c.CondaBase); err != nil {
			warn(fmt.Errorf("conda: %w", err))
		} else {
			logf("conda: .condarc %s, environments.txt %s, %d envs", r.Condarc, r.EnvironmentsTxt, len(r.Envs))
		}
	}

	if r, path, err := MergeSettings(c.UserDataDir, filepath.Join(c.StateDir, settingsStateFile), DefaultSettings(c.CondaBase)); err != nil {
		warn(err)
	} else {
		logf("settings: %s %s", r, path)
	}

	extStart := time.Now()
	var extra []string
	if c.CodehubExtension {
		if path, err := WriteCodehubExtension(filepath.Join(c.StateDir, "codehub-extension")); err != nil {
			warn(fmt.Errorf("codehub extension: %w", err))
		} else {
			extra = append(extra, path)
		}
	}
	if r, err := SyncExtensions(ctx, c.CodeServer, c.BuiltinExtensionsDir, c.ExtensionsDir, c.UserDataDir, c.StateDir, extra...); err != nil {
		warn(fmt.Errorf("extensions: %w", err))
	} else {
		msg := fmt.Sprintf("extensions: %d installed, %d current", len(r.Installed), r.Current)
		for _, e := range r.KeptUser {
			msg += ", kept user's " + e.String()
		}
		logf("%s (%s)", msg, time.Since(extStart).Round(time.Millisecond))
	}
	if len(c.Extensions) > 0 {
		missing, err := EnsureExtensions(ctx, c.CodeServer, c.ExtensionsDir, c.UserDataDir, c.Extensions)
		switch {
		case err != nil:
			warn(fmt.Errorf("extensions: %s not installed (%v); the workspace starts without them", strings.Join(missing, ", "), err))
		case len(missing) > 0:
			logf("extensions: installed %s from the gallery", strings.Join(missing, ", "))
		}
	}
	logf("prepared in %s", time.Since(start).Round(time.Millisecond))
	return nil
}

func probeWritable(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return unwrapPathErr(err)
	}
	f, err := os.CreateTemp(dir, ".codehub-init-probe-*")
	if err != nil {
		return unwrapPathErr(err)
	}
	f.Close()
	return os.Remove(f.Name())
}

func parentDir(p string) string { return filepath.Dir(p) }
