package wsinit

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
)

// writeFileAtomic replaces path so a crash never leaves a half-written file. The home
// directory may be on v3io FUSE; if rename fails there the file is written in place.
func writeFileAtomic(path string, data []byte, perm os.FileMode) error {
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".codehub-*")
	if err != nil {
		return unwrapPathErr(err)
	}
	tmpName := tmp.Name()
	_, werr := tmp.Write(data)
	cerr := tmp.Close()
	if werr == nil && cerr == nil {
		if err := os.Chmod(tmpName, perm); err == nil {
			if err := os.Rename(tmpName, path); err == nil {
				return nil
			}
		}
	}
	_ = os.Remove(tmpName)
	if err := os.WriteFile(path, data, perm); err != nil {
		return unwrapPathErr(err)
	}
	return unwrapPathErr(os.Chmod(path, perm))
}

// unwrapPathErr drops the *PathError wrapper: messages already name the file once, and
// "open /x/y: permission denied" after "kubeconfig /x/y:" would name it twice.
func unwrapPathErr(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}
