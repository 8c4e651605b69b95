package records

import (
	"context"
	"time"

	"github.com/sockerless/sockerless/internal/errdefs"
)

// Volume is a named volume's stored record; its id is its name.
type Volume struct {
	Name       string            `json:"name"`
	Driver     string            `json:"driver"`
	Mountpoint string            `json:"mountpoint"`
	CreatedAt  time.Time         `json:"createdAt"`
	Labels     map[string]string `json:"labels,omitempty"`
	Options    map[string]string `json:"options,omitempty"`
	Scope      string            `json:"scope"`
	// Anonymous marks volumes created for a container's unnamed mount, which
	// docker rm -v removes.
	Anonymous bool `json:"anonymous,omitempty"`
}

var volumes = kind[Volume]{
	name: KindVolume,
	id:   func(v *Volume) string { return v.Name },
}

// ErrNoSuchVolume is the error Docker gives for an unknown volume.
func ErrNoSuchVolume(name string) error {
	return errdefs.NotFoundf("get %s: no such volume", name)
}

// CreateVolume stores a new volume; an existing name is a conflict.
func (st *Store) CreateVolume(ctx context.Context, v *Volume) error {
	return volumes.create(ctx, st.s, v)
}

// Volume returns the volume named name.
func (st *Store) Volume(ctx context.Context, name string) (*Volume, error) {
	v, _, err := volumes.get(ctx, st.s, name)
	if errdefs.IsNotFound(err) {
		return nil, ErrNoSuchVolume(name)
	}
	return v, err
}

// UpdateVolume applies fn to the volume named name.
func (st *Store) UpdateVolume(ctx context.Context, name string, fn func(*Volume) error) error {
	_, err := volumes.mutate(ctx, st.s, name, fn, Change[Volume]{})
	if errdefs.IsNotFound(err) {
		return ErrNoSuchVolume(name)
	}
	return err
}

// DeleteVolume removes the volume named name.
func (st *Store) DeleteVolume(ctx context.Context, name string) error {
	err := volumes.delete(ctx, st.s, name, 0)
	if errdefs.IsNotFound(err) {
		return ErrNoSuchVolume(name)
	}
	return err
}

// Volumes lists every volume.
func (st *Store) Volumes(ctx context.Context) ([]*Volume, error) { return volumes.list(ctx, st.s, "") }
