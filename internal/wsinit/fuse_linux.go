package wsinit

import "syscall"

const fuseSuperMagic = 0x65735546

// onFUSE reports whether dir (or its nearest existing parent) is on a FUSE mount such as
// v3io, where directory renames fail and break VS Code's extension and storage handling.
func onFUSE(dir string) bool {
	var st syscall.Statfs_t
	for {
		if err := syscall.Statfs(dir, &st); err == nil {
			return st.Type == fuseSuperMagic
		}
		parent := parentDir(dir)
		if parent == dir {
			return false
		}
		dir = parent
	}
}
