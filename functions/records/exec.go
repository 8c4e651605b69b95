package records

import (
	"context"
	"time"

	"github.com/sockerless/sockerless/internal/errdefs"
)

// Exec is an exec instance's stored record. It is grouped by container so a
// container's execs list without a scan, and expires ExecTTL after it ends.
type Exec struct {
	ID           string    `json:"id"`
	ContainerID  string    `json:"containerId"`
	Created      time.Time `json:"created"`
	Cmd          []string  `json:"cmd"`
	Env          []string  `json:"env,omitempty"`
	WorkingDir   string    `json:"workdir,omitempty"`
	User         string    `json:"user,omitempty"`
	Privileged   bool      `json:"privileged,omitempty"`
	Tty          bool      `json:"tty,omitempty"`
	AttachStdin  bool      `json:"attachStdin,omitempty"`
	AttachStdout bool      `json:"attachStdout,omitempty"`
	AttachStderr bool      `json:"attachStderr,omitempty"`
	DetachKeys   string    `json:"detachKeys,omitempty"`
	ConsoleSize  *[2]uint  `json:"consoleSize,omitempty"`

	Running  bool      `json:"running"`
	Started  bool      `json:"started"`
	ExitCode *int      `json:"exitCode,omitempty"`
	Pid      int       `json:"pid"`
	Ended    time.Time `json:"ended,omitempty"`
	Expires  time.Time `json:"expires,omitempty"`
}

var execs = kind[Exec]{
	name:  KindExec,
	id:    func(e *Exec) string { return e.ID },
	group: func(e *Exec) string { return e.ContainerID },
	ttl:   func(e *Exec) time.Time { return e.Expires },
}

// ErrNoSuchExec is the error Docker gives for an unknown exec.
func ErrNoSuchExec(id string) error { return errdefs.NotFoundf("No such exec instance: %s", id) }

// CreateExec stores a new exec.
func (st *Store) CreateExec(ctx context.Context, e *Exec) error { return execs.create(ctx, st.s, e) }

// Exec returns exec id.
func (st *Store) Exec(ctx context.Context, id string) (*Exec, error) {
	e, _, err := execs.get(ctx, st.s, id)
	if errdefs.IsNotFound(err) {
		return nil, ErrNoSuchExec(id)
	}
	return e, err
}

// UpdateExec applies fn to exec id with optimistic concurrency. When fn
// marks the exec ended, the record's expiry is set from ExecTTL.
func (st *Store) UpdateExec(ctx context.Context, id string, fn func(*Exec) error) (*Exec, error) {
	e, err := execs.mutate(ctx, st.s, id, func(e *Exec) error {
		if err := fn(e); err != nil {
			return err
		}
		if e.ExitCode != nil && e.Expires.IsZero() {
			e.Expires = st.now().Add(st.ExecTTL)
		}
		return nil
	}, Change[Exec]{})
	if errdefs.IsNotFound(err) {
		return nil, ErrNoSuchExec(id)
	}
	return e, err
}

// ExecsOf lists the execs of a container.
func (st *Store) ExecsOf(ctx context.Context, containerID string) ([]*Exec, error) {
	return execs.list(ctx, st.s, containerID)
}

// DeleteExec removes exec id.
func (st *Store) DeleteExec(ctx context.Context, id string) error {
	return execs.delete(ctx, st.s, id, 0)
}
