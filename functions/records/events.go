package records

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/moby/moby/api/types/events"
	"github.com/sockerless/sockerless/statestore"
)

// Event appends a Docker event to the log on its own. Attributes are
// copied. An event that reports a record change goes with the write
// instead (NewEvent).
func (st *Store) Event(ctx context.Context, typ events.Type, action events.Action, id string, attrs map[string]string) error {
	e, err := st.NewEvent(typ, action, id, attrs)
	if err != nil {
		return err
	}
	_, err = st.s.AppendEvent(ctx, e)
	return err
}

// NewEvent builds a Docker event, timed now, to append with a store write
// (CreateContainer, UpdateContainerFrom, DeleteContainer).
func (st *Store) NewEvent(typ events.Type, action events.Action, id string, attrs map[string]string) (statestore.Event, error) {
	now := st.now()
	msg := events.Message{
		Type:     typ,
		Action:   action,
		Actor:    events.Actor{ID: id, Attributes: attrs},
		Scope:    "local",
		Time:     now.Unix(),
		TimeNano: now.UnixNano(),
	}
	data, err := json.Marshal(msg)
	if err != nil {
		return statestore.Event{}, fmt.Errorf("encode event: %w", err)
	}
	return statestore.Event{Time: now, Data: data, Expires: now.Add(st.EventTTL)}, nil
}

// EventEntry is a decoded event with its cursor.
type EventEntry struct {
	Cursor  string
	Message events.Message
}

// Events returns events after cursor within [since, until].
func (st *Store) Events(ctx context.Context, after string, since, until time.Time) ([]EventEntry, error) {
	evs, err := st.s.Events(ctx, statestore.EventQuery{After: after, Since: since, Until: until})
	if err != nil {
		return nil, err
	}
	out := make([]EventEntry, 0, len(evs))
	for _, e := range evs {
		var m events.Message
		if err := json.Unmarshal(e.Data, &m); err != nil {
			continue
		}
		out = append(out, EventEntry{Cursor: e.Cursor, Message: m})
	}
	return out, nil
}
