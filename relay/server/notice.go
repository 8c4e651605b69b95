package server

import (
	"errors"
	"net/http"
	"time"

	"github.com/gorilla/websocket"
	"github.com/sockerless/sockerless/relay/ticket"
)

// serveNotice takes a notice that a container changed (from the control
// plane, with the container's agent token) and passes it to the
// container's watchers.
func (s *Server) serveNotice(w http.ResponseWriter, r *http.Request) {
	container := r.URL.Query().Get("container")
	if container == "" || !ticket.VerifyAgentToken(s.opts.Secret, container, bearer(r)) {
		s.refuse(w, r, http.StatusUnauthorized, ReasonAgentToken, "invalid agent token for this container")
		return
	}
	s.mu.Lock()
	for ch := range s.watchers[container] {
		select {
		case ch <- struct{}{}:
		default: // one pending notice is as good as several
		}
	}
	s.mu.Unlock()
	if s.clustered(r) {
		s.broadcastNotice(r.Context(), container)
	}
	w.WriteHeader(http.StatusNoContent)
}

// serveWatch holds a shim's subscription to a container's notices (a
// watch ticket as bearer) and sends one text message per notice.
func (s *Server) serveWatch(w http.ResponseWriter, r *http.Request) {
	g, err := ticket.Verify(s.opts.Secret, bearer(r), s.opts.Now())
	switch {
	case errors.Is(err, ticket.ErrSignature):
		s.refuse(w, r, http.StatusForbidden, ReasonForged, "ticket signature is invalid")
		return
	case errors.Is(err, ticket.ErrExpired):
		s.refuse(w, r, http.StatusForbidden, ReasonExpired, "ticket has expired")
		return
	case err != nil || g.Kind != ticket.KindWatch:
		s.refuse(w, r, http.StatusForbidden, ReasonMalformed, "not a watch ticket")
		return
	}
	// Subscribed before the handshake is answered: a shim whose Watch has
	// returned hears every notice sent after it (one that comes before
	// the loop below runs waits in ch).
	ch := make(chan struct{}, 1)
	s.mu.Lock()
	subs := s.watchers[g.Container]
	if subs == nil {
		subs = map[chan struct{}]struct{}{}
		s.watchers[g.Container] = subs
	}
	subs[ch] = struct{}{}
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(subs, ch)
		if len(subs) == 0 && len(s.watchers[g.Container]) == 0 {
			delete(s.watchers, g.Container)
		}
		s.mu.Unlock()
	}()
	ws, err := s.up.Upgrade(w, r, nil)
	if err != nil {
		return
	}
	defer ws.Close()
	// The shim sends nothing; a read ends when it goes away.
	gone := make(chan struct{})
	go func() {
		defer close(gone)
		for {
			if _, _, err := ws.NextReader(); err != nil {
				return
			}
		}
	}()
	ping := time.NewTicker(s.opts.PingInterval)
	defer ping.Stop()
	for {
		select {
		case <-gone:
			return
		case <-ch:
			if err := ws.WriteMessage(websocket.TextMessage, []byte("changed")); err != nil {
				return
			}
		case <-ping.C:
			if ws.WriteControl(websocket.PingMessage, nil, time.Now().Add(5*time.Second)) != nil {
				return
			}
		}
	}
}
