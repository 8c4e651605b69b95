package memory

import (
	"context"
	"fmt"
	"os"
	"strings"

	"github.com/sockerless/sockerless/internal/errdefs"
)

// RemoveVolume implements providers.VolumeRemover: it deletes the named
// volume's folder and everything in it. A name that is not one folder
// under the volumes folder is refused (the control plane validates names;
// this keeps the removal inside even if it did not).
func (p *Provider) RemoveVolume(_ context.Context, name string) error {
	if name == "" || name == "." || name == ".." || strings.ContainsAny(name, `/\`) {
		return errdefs.InvalidParameterf("memory: invalid volume name %q", name)
	}
	if err := os.RemoveAll(p.volumeDir(name)); err != nil {
		return fmt.Errorf("memory: remove volume %s: %w", name, err)
	}
	return nil
}
