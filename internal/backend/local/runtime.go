package local

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
)

// In uid mode every workspace runs as a unix user that owns nothing but its own files, so
// what it executes (code-server and its Node, codehub-init) and reads (builtin extensions)
// must be reachable by "others". The usual install lives under the gateway's home
// (~/.cache/codehub, inside a 0700 /root): those trees are staged into the state dir's
// runtime/ directory, root-owned and read-only to workspaces, with hard links where the
// file system allows (instant, no space) and copies otherwise.

// reachableByOthers reports whether a uid that owns nothing can open path: every ancestor
// directory searchable (o+x) and the file itself readable (o+r), plus o+x when exec is set.
func reachableByOthers(path string, exec bool) bool {
	abs, err := filepath.Abs(path)
	if err != nil {
		return false
	}
	st, err := os.Stat(abs)
	if err != nil {
		return false
	}
	want := fs.FileMode(0o004)
	if st.IsDir() || exec {
		want |= 0o001
	}
	if st.Mode().Perm()&want != want {
		return false
	}
	for d := filepath.Dir(abs); ; d = filepath.Dir(d) {
		if dst, err := os.Stat(d); err != nil || dst.Mode().Perm()&0o001 == 0 {
			return false
		}
		if d == "/" {
			return true
		}
	}
}

// notTraversable returns the first directory on the way to dir that others cannot
// search, or "" when a workspace uid can reach dir.
func notTraversable(dir string) string {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return dir
	}
	for d := abs; ; d = filepath.Dir(d) {
		if st, err := os.Stat(d); err != nil || st.Mode().Perm()&0o001 == 0 {
			return d
		}
		if d == "/" {
			return ""
		}
	}
}

// stageTree makes the tree at src reachable by every uid under runtime/<name>-<hash of
// src>, unless it already is, and returns where it now lives. The staged copy is built
// fresh beside the old one and swapped in, so a gateway restart after an upgrade of src
// never runs a half-linked tree.
func stageTree(runtime, name, src string) (string, error) {
	if reachableByOthers(src, true) && treeReachable(src) {
		return src, nil
	}
	sum := sha256.Sum256([]byte(src))
	dst := filepath.Join(runtime, name+"-"+hex.EncodeToString(sum[:6]))
	tmp := dst + ".staging"
	if err := os.RemoveAll(tmp); err != nil {
		return "", err
	}
	if err := os.MkdirAll(runtime, 0o755); err != nil {
		return "", err
	}
	if err := os.Chmod(runtime, 0o755); err != nil {
		return "", err
	}
	if rel, err := filepath.Rel(src, runtime); err == nil && !strings.HasPrefix(rel, "..") {
		return "", fmt.Errorf("cannot stage %s: it contains the runtime dir %s", src, runtime)
	}
	if err := linkTree(src, tmp); err != nil {
		os.RemoveAll(tmp)
		return "", fmt.Errorf("stage %s for workspace users: %w", src, err)
	}
	if err := os.RemoveAll(dst); err != nil {
		return "", err
	}
	if err := os.Rename(tmp, dst); err != nil {
		return "", err
	}
	return dst, nil
}

// stageFile is stageTree for one executable.
func stageFile(runtime, src string) (string, error) {
	if reachableByOthers(src, true) {
		return src, nil
	}
	if err := os.MkdirAll(runtime, 0o755); err != nil {
		return "", err
	}
	dst := filepath.Join(runtime, filepath.Base(src))
	if err := copyFile(src, dst+".staging", 0o755); err != nil {
		return "", err
	}
	return dst, os.Rename(dst+".staging", dst)
}

// treeReachable reports whether every file under root is readable and every directory
// searchable by others (a tree extracted with umask 077 is not).
func treeReachable(root string) bool {
	ok := true
	_ = filepath.WalkDir(root, func(_ string, d fs.DirEntry, err error) error {
		if err != nil {
			ok = false
			return fs.SkipAll
		}
		if d.Type()&fs.ModeSymlink != 0 {
			return nil
		}
		info, err := d.Info()
		if err != nil {
			ok = false
			return fs.SkipAll
		}
		want := fs.FileMode(0o004)
		if d.IsDir() {
			want = 0o005
		}
		if info.Mode().Perm()&want != want {
			ok = false
			return fs.SkipAll
		}
		return nil
	})
	return ok
}

// linkTree recreates src at dst: directories 0755, symlinks as they are, files hard-linked
// when others can already read them (a link shares the inode and its mode), copied with
// o+r (and o+x where the owner may execute) otherwise or across file systems.
func linkTree(src, dst string) error {
	return filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		target := filepath.Join(dst, rel)
		info, err := d.Info()
		if err != nil {
			return err
		}
		switch {
		case d.IsDir():
			return os.MkdirAll(target, 0o755)
		case d.Type()&fs.ModeSymlink != 0:
			link, err := os.Readlink(p)
			if err != nil {
				return err
			}
			return os.Symlink(link, target)
		case !info.Mode().IsRegular():
			return nil // sockets, fifos: nothing a workspace runs
		}
		perm := info.Mode().Perm()
		if perm&0o004 != 0 && (perm&0o100 == 0 || perm&0o001 != 0) {
			if err := os.Link(p, target); err == nil {
				return nil
			} else if !errors.Is(err, syscall.EXDEV) && !errors.Is(err, syscall.EPERM) {
				return err
			}
		}
		mode := perm | 0o044
		if perm&0o100 != 0 {
			mode |= 0o011
		}
		return copyFile(p, target, mode)
	})
}

func copyFile(src, dst string, mode fs.FileMode) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, mode)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	if err := out.Close(); err != nil {
		return err
	}
	return os.Chmod(dst, mode)
}
