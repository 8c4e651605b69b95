package cloudagent

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"time"

	"github.com/google/uuid"
	"github.com/sockerless/sockerless/internal/errdefs"
	"github.com/sockerless/sockerless/relay/frame"
	"github.com/sockerless/sockerless/relay/ticket"
	"github.com/sockerless/sockerless/relay/wsclient"
)

// Dialer opens a shim-side stream on the relay (wsclient.Dialer).
type Dialer interface {
	Dial(ctx context.Context, relayURL, token string) (io.ReadWriteCloser, error)
}

// Link reaches workloads' agents through the relay. The zero value is
// not usable; all fields are required.
type Link struct {
	Dialer   Dialer
	RelayURL string
	Secret   []byte
}

func (l Link) dial(ctx context.Context, g ticket.Grant) (io.ReadWriteCloser, error) {
	g.Session = uuid.NewString()
	g.Issued = time.Now().UnixNano()
	g.Expires = time.Now().Add(5 * time.Minute).Unix()
	tok, err := ticket.Sign(l.Secret, g)
	if err != nil {
		return nil, err
	}
	return l.Dialer.Dial(ctx, l.RelayURL, tok)
}

// WaitAgent returns once the agent of container id serves sessions: it
// stats "/" through the relay, which holds the stream until the agent is
// connected. ctx bounds the wait.
//
// # Errors
//
// Unavailable when no agent answered before ctx ended or the relay
// refused.
func (l Link) WaitAgent(ctx context.Context, id string) error {
	conn, err := l.dial(ctx, ticket.Grant{Container: id, Kind: ticket.KindArchive, Archive: &ticket.Archive{Op: ticket.ArchiveStat, Path: "/"}})
	if err != nil {
		return errdefs.Unavailable(fmt.Errorf("agent of %s: %w", id, err))
	}
	defer conn.Close()
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()
	fr := frame.Reader{R: conn}
	for {
		f, err := fr.Next()
		if err != nil {
			return errdefs.Unavailable(fmt.Errorf("agent of %s: %w", id, err))
		}
		switch f.Type {
		case frame.ResultType:
			var r frame.Result
			if err := json.Unmarshal(f.Payload, &r); err != nil {
				return errdefs.Unavailable(fmt.Errorf("agent of %s: bad answer: %w", id, err))
			}
			return nil // any answer means the agent is serving
		case frame.Error:
			return errdefs.Unavailable(fmt.Errorf("agent of %s: %s", id, f.Payload))
		}
	}
}

// Connected reports at once whether the agent of container id is
// connected to the relay (the relay's presence answer), where WaitAgent
// would wait for it: a provider asking whether a workload still runs need
// not spend a probe's timeout on one that never started.
//
// # Errors
//
// Unavailable when the relay cannot be asked (callers fall back to
// WaitAgent with a bound).
func (l Link) Connected(ctx context.Context, id string) (bool, error) {
	p, err := wsclient.AgentPresence(ctx, nil, l.RelayURL, id, ticket.AgentToken(l.Secret, id))
	if err != nil {
		return false, errdefs.Unavailable(fmt.Errorf("agent of %s: presence: %w", id, err))
	}
	return p.Connected, nil
}

// Signal delivers signal n to container id's main process (or to a
// keep-alive agent) as the Signal frame of an attach session. It returns
// once the agent has the session.
//
// # Errors
//
// Unavailable when the agent cannot be reached.
func (l Link) Signal(ctx context.Context, id string, n int) error {
	conn, err := l.dial(ctx, ticket.Grant{Container: id, Kind: ticket.KindAttach})
	if err != nil {
		return errdefs.Unavailable(fmt.Errorf("signal %d to %s: %w", n, id, err))
	}
	defer conn.Close()
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()
	if err := frame.Write(conn, frame.Signal, []byte(strconv.Itoa(n))); err != nil {
		return errdefs.Unavailable(fmt.Errorf("signal %d to %s: %w", n, id, err))
	}
	fr := frame.Reader{R: conn}
	for {
		f, err := fr.Next()
		if err != nil {
			// The session ended: the process exited, possibly from this
			// very signal.
			return nil
		}
		switch f.Type {
		case frame.Ready, frame.Exit:
			return nil
		case frame.Error:
			return errdefs.Unavailable(fmt.Errorf("signal %d to %s: %s", n, id, f.Payload))
		}
	}
}
