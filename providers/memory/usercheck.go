package memory

import (
	"context"
	"strings"

	"github.com/sockerless/sockerless/internal/errdefs"
)

// CheckUser implements providers.UserChecker against the container's own
// /etc/passwd.
func (p *Provider) CheckUser(ctx context.Context, id, user string) error {
	w, err := p.get(id)
	if err != nil {
		return err
	}
	name, _, _ := strings.Cut(user, ":")
	if name == "" {
		return nil
	}
	if _, _, err := lookupUser(w.fs, name); err != nil {
		return errdefs.InvalidParameter(err)
	}
	return nil
}
