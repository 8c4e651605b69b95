package memory

import (
	"context"
	"errors"
	"io/fs"
	"os"

	"github.com/sockerless/sockerless/internal/errdefs"
)

// CarryRoot implements agent.Carrier: a carried bind's destination inside
// the container, opened as an os.Root of the mount holding it, so the
// runner host's delta lands in the container and nowhere else.
func (w *workload) CarryRoot(ctx context.Context, dir string) (*os.Root, error) {
	r, err := w.fs.OpenRoot(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, errdefs.NotFoundf("carry: %s does not exist in the container", dir)
	}
	return r, err
}
