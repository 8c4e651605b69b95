package rootfs

import (
	"fmt"
	"io/fs"
	"os"
)

// OpenRoot opens the container directory name (links expanded inside the
// container, the final one too) as an os.Root of the mount holding it, so
// a caller that must stay inside one directory of the container (a carried
// bind's destination) gets the kernel's confinement for it.
func (f *FS) OpenRoot(name string) (*os.Root, error) {
	p, err := f.Resolve(Abs("/", name), true)
	if err != nil {
		return nil, pathErr("openroot", name, err)
	}
	m, rel, err := f.locate(p)
	if err != nil {
		return nil, pathErr("openroot", name, err)
	}
	if m.file != "" {
		return nil, pathErr("openroot", name, fmt.Errorf("%w: a file mount", fs.ErrInvalid))
	}
	r, err := m.root.OpenRoot(rel)
	if err != nil {
		return nil, pathErr("openroot", name, err)
	}
	return r, nil
}
