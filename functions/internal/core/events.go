package core

import (
	"context"
	"fmt"
	"time"

	"github.com/moby/moby/api/types/events"
	"github.com/sockerless/sockerless/internal/errdefs"
	"github.com/sockerless/sockerless/statestore"
)

// NewEvent builds an event to append with the store write of the change
// it reports (one round trip for both); nil, with a warning, if it cannot
// be encoded.
func (a *Backend) NewEvent(typ events.Type, action events.Action, id string, attrs map[string]string) []statestore.Event {
	e, err := a.st.NewEvent(typ, action, id, attrs)
	if err != nil {
		a.log.Warn("event not recorded", "type", typ, "action", action, "id", id, "err", err)
		return nil
	}
	return []statestore.Event{e}
}

// ParseTime reads Docker's since/until forms: Unix seconds with optional
// fraction, RFC 3339, or a Go duration relative to now ("10m").
func ParseTime(s string, now time.Time) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	var sec, nsec int64
	if n, err := fmt.Sscanf(s, "%d.%d", &sec, &nsec); err == nil && n == 2 {
		return time.Unix(sec, nsec), nil
	}
	if _, err := fmt.Sscanf(s, "%d", &sec); err == nil && fmt.Sprint(sec) == s {
		return time.Unix(sec, 0), nil
	}
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t, nil
	}
	if d, err := time.ParseDuration(s); err == nil {
		return now.Add(-d), nil
	}
	return time.Time{}, errdefs.InvalidParameterf("invalid time %q: use Unix seconds, RFC 3339 or a duration", s)
}

// Event records a Docker event; failures are logged, not returned: the
// action already happened.
func (a *Backend) Event(ctx context.Context, typ events.Type, action events.Action, id string, attrs map[string]string) {
	if err := a.st.Event(ctx, typ, action, id, attrs); err != nil {
		a.log.Warn("event not recorded", "type", typ, "action", action, "id", id, "err", err)
	}
}
