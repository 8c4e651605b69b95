package memory

import (
	"context"

	"github.com/sockerless/sockerless/internal/errdefs"
)

// Pause implements providers.Pauser: the container's processes stop at
// their next step (see sandbox.Container.Pause) until Unpause.
func (p *Provider) Pause(ctx context.Context, id string) error {
	w, err := p.get(id)
	if err != nil {
		return err
	}
	r, err := p.current(id)
	if err != nil {
		return err
	}
	if r == nil || isClosed(r.done) {
		return errdefs.Conflictf("container %s is not running", id)
	}
	w.ctr.Pause()
	return nil
}

// Unpause implements providers.Pauser.
func (p *Provider) Unpause(ctx context.Context, id string) error {
	w, err := p.get(id)
	if err != nil {
		return err
	}
	w.ctr.Resume()
	return nil
}

// resume lets a paused container's processes go on, as Docker resumes a
// paused container it signals (a stop or kill must reach them).
func (p *Provider) resume(id string) {
	if w, err := p.get(id); err == nil {
		w.ctr.Resume()
	}
}
