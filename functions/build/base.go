package build

import (
	"context"

	"github.com/sockerless/sockerless/functions/internal/core"
	"github.com/sockerless/sockerless/functions/records"
)

// offlineImage is what docker pull records for familiar when the
// registry is unreachable (pullErr): the image already known under that
// name, else a placeholder (config only; the provider's default
// filesystem stands for its layers). docker build's FROM uses it too,
// so a build behaves as a pull would.
func (a *Router) offlineImage(ctx context.Context, familiar string, pullErr error) (*records.Image, error) {
	if img, err := a.st.Image(ctx, familiar); err == nil {
		return img, nil
	}
	a.log.Warn("registry unreachable, storing a placeholder image", "ref", familiar, "err", pullErr)
	return core.PlaceholderImage(familiar, a.st.Now()), nil
}
