package core

import (
	"encoding/json"
	"net/http"
	"strconv"

	"github.com/sockerless/sockerless/internal/controlapi"
	"github.com/sockerless/sockerless/internal/errdefs"
	"github.com/sockerless/sockerless/providers"
	"github.com/sockerless/sockerless/relay/ticket"
)

// ErrNeedsShim answers a hijack request that did not come through a shim:
// a serverless function cannot hold the upgraded connection.
var ErrNeedsShim = errdefs.InvalidParameterf("attach and interactive exec need the sockerless shim: point DOCKER_HOST at `sockerless`, not at the functions endpoint")

// IssueTicket signs g and answers it as a StreamTicket.
func (a *Backend) IssueTicket(w http.ResponseWriter, g ticket.Grant, tty bool, id string) error {
	st, err := a.Ticket(g, tty, id)
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", controlapi.MediaTicket)
	w.WriteHeader(http.StatusOK)
	return json.NewEncoder(w).Encode(st)
}

// Ticket signs g as a fresh session of the relay (the session id, issue
// and expiry times are set here) and returns it as IssueTicket answers it.
func (a *Backend) Ticket(g ticket.Grant, tty bool, id string) (controlapi.StreamTicket, error) {
	g.Session = NewID()[:32]
	now := a.st.Now()
	g.Issued = now.UnixNano()
	g.Expires = now.Add(a.cfg.TicketTTL).Unix()
	tok, err := ticket.Sign(a.cfg.Secret, g)
	if err != nil {
		return controlapi.StreamTicket{}, err
	}
	st := controlapi.StreamTicket{RelayURL: a.cfg.RelayURL, Token: tok, Tty: tty, Kind: g.Kind, ID: id}
	if ea, ok := providers.As[providers.EarlyAttacher](a.provider); ok && g.Kind == ticket.KindAttach {
		st.WaitReady = ea.AttachesBeforeStart()
	}
	return st, nil
}

// ResizeParams reads a resize's h and w query parameters.
func ResizeParams(r *http.Request) (uint, uint, error) {
	h, err := strconv.ParseUint(r.URL.Query().Get("h"), 10, 16)
	if err != nil {
		return 0, 0, errdefs.InvalidParameterf("invalid resize height %q", r.URL.Query().Get("h"))
	}
	wd, err := strconv.ParseUint(r.URL.Query().Get("w"), 10, 16)
	if err != nil {
		return 0, 0, errdefs.InvalidParameterf("invalid resize width %q", r.URL.Query().Get("w"))
	}
	return uint(h), uint(wd), nil
}
