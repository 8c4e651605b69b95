package functions

import (
	"github.com/moby/moby/api/types/events"
	"github.com/sockerless/sockerless/statestore"
)

// newEvent builds an event to append with the store write of the change
// it reports (one round trip for both); nil, with a warning, if it cannot
// be encoded.
func (a *API) NewEvent(typ events.Type, action events.Action, id string, attrs map[string]string) []statestore.Event {
	e, err := a.st.NewEvent(typ, action, id, attrs)
	if err != nil {
		a.log.Warn("event not recorded", "type", typ, "action", action, "id", id, "err", err)
		return nil
	}
	return []statestore.Event{e}
}
