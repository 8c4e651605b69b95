package core

import (
	"context"
	"net/http"
	"strconv"
	"time"

	"github.com/sockerless/sockerless/functions/records"
	"github.com/sockerless/sockerless/internal/controlapi"
	"github.com/sockerless/sockerless/relay/ticket"
	"github.com/sockerless/sockerless/statestore"
)

// EventsWatchKind is the kind a statestore.Watcher wakes events
// followers on.
const EventsWatchKind = statestore.KindEvents

// MaxAnswerBytes bounds the body of one bounded answer (1 MiB), well under
// Lambda's 6 MB response limit even when base64-encoded: a bounded poll
// answers as soon as it holds this much, and says to continue.
const MaxAnswerBytes = 1 << 20

// LongPollSpec describes one long wait (wait, logs?follow, events,
// stats?stream) as a sequence of non-blocking steps.
type LongPollSpec struct {
	ContentType string
	// watchKind/watchID name the record whose change should wake the
	// waiter early, when the store supports statestore.Watcher.
	WatchKind, WatchID string
	// watchFor, when set, names the record to watch from the current
	// cursor instead of watchID (a wait learns its container's id in its
	// first step).
	WatchFor func(cursor string) string
	// interval is how often to step when nothing wakes the waiter
	// (default 100 ms). It is used only where waiting costs no store
	// reads (the store is a statestore.Watcher) or the steps are paced
	// (paced); otherwise each bounded poll is one step and the shim waits
	// between polls (controlapi.HeaderBackoff).
	Interval time.Duration
	// paced marks steps that produce output at their own pace (stats, one
	// sample a second) rather than poll for a change.
	Paced bool
	// maxBackoff is the longest the shim should wait between polls that
	// found nothing (default 15 s): a wait is told of its container's
	// exit by a notice, logs and events have none and poll more often.
	MaxBackoff time.Duration
	// step returns the output since cursor, the next cursor, and whether
	// the answer is complete. An error before any output is the answer.
	Step func(ctx context.Context, cursor string) (chunk []byte, next string, done bool, err error)
}

// PollWindow is how long a bounded poll may take: what the shim asked
// for in controlapi.HeaderPoll (milliseconds), at most the configured
// window.
func (a *Backend) PollWindow(r *http.Request) time.Duration {
	ms, err := strconv.Atoi(r.Header.Get(controlapi.HeaderPoll))
	if err != nil || ms < 0 {
		ms = 0
	}
	return min(time.Duration(ms)*time.Millisecond, a.cfg.PollWindow)
}

// WatchTicket signs a watch ticket for container id (empty when this
// deployment sends no notices).
func (a *Backend) WatchTicket(id string) string {
	if a.cfg.Notifier == nil {
		return ""
	}
	tok, err := ticket.Sign(a.cfg.Secret, ticket.Grant{Container: id, Kind: ticket.KindWatch, Session: NewID()[:32],
		Issued: a.st.Now().UnixNano(), Expires: a.st.Now().Add(a.cfg.TicketTTL).Unix()})
	if err != nil {
		return ""
	}
	return tok
}

// Notify tells the shims waiting on container id that it changed (best
// effort: a lost notice costs a waiter its back-off polling).
func (a *Backend) Notify(ctx context.Context, id string) {
	if a.cfg.Notifier == nil {
		return
	}
	if err := a.cfg.Notifier.Notify(ctx, id); err != nil {
		a.log.Debug("notice not sent", "container", id, "err", err)
	}
}

// LongPoll serves spec. A request from a shim carrying
// controlapi.HeaderPoll gets one bounded answer: everything produced
// within the window, with controlapi.HeaderContinue and a cursor when the
// answer is not final. Any other request is streamed until done, with
// every chunk flushed as it comes, so direct clients see Docker's
// behaviour.
func (a *Backend) LongPoll(w http.ResponseWriter, r *http.Request, spec LongPollSpec) error {
	ctx := r.Context()
	cursor := r.Header.Get(controlapi.HeaderCursor)
	if spec.Interval <= 0 {
		spec.Interval = 100 * time.Millisecond
	}
	bounded := r.Header.Get(controlapi.HeaderPoll) != ""
	var deadline time.Time
	if bounded {
		deadline = time.Now().Add(a.PollWindow(r))
	}
	_, watcher := a.st.Raw().(statestore.Watcher)
	// Without change notification, waiting here would mean polling the
	// store: answer after one step and let the shim wait (on a notice, or
	// on its back-off schedule) between polls instead.
	oneStep := bounded && (!watcher || a.cfg.AnswerPollsAtOnce) && !spec.Paced
	// Paced output (a sample a second) is never held for either: the shim
	// is told when to ask again.
	pacedAtOnce := bounded && spec.Paced && a.cfg.AnswerPollsAtOnce
	if spec.MaxBackoff <= 0 {
		spec.MaxBackoff = 15 * time.Second
	}

	watching := func() string {
		if spec.WatchFor != nil {
			return spec.WatchFor(cursor)
		}
		return spec.WatchID
	}
	var buf []byte
	started := false
	rc := http.NewResponseController(w)
	begin := func(done bool, next string) {
		if started {
			return
		}
		started = true
		w.Header().Set("Content-Type", spec.ContentType)
		if bounded && !done {
			w.Header().Set(controlapi.HeaderContinue, next)
			if pacedAtOnce {
				w.Header().Set(controlapi.HeaderPollAfter, strconv.FormatInt(spec.Interval.Milliseconds(), 10))
			}
			if oneStep && len(buf) == 0 {
				w.Header().Set(controlapi.HeaderBackoff, strconv.FormatInt(spec.MaxBackoff.Milliseconds(), 10))
			}
			if id := watching(); id != "" && spec.WatchKind == records.KindContainer {
				if tok := a.WatchTicket(id); tok != "" {
					w.Header().Set(controlapi.HeaderWatch, a.cfg.RelayURL+" "+tok)
				}
			}
		}
		w.WriteHeader(http.StatusOK)
	}
	for {
		var wake <-chan struct{}
		watched := watching()
		if wt, ok := a.st.Raw().(statestore.Watcher); ok && spec.WatchKind != "" {
			// Subscribe before stepping so a change between the step and
			// the wait is not missed.
			wake = wt.Changed(spec.WatchKind, watched)
		}
		chunk, next, done, err := spec.Step(ctx, cursor)
		if err != nil {
			if !started && len(buf) == 0 {
				return err
			}
			a.log.Warn("long wait ended by error", "path", r.URL.Path, "err", err)
			done = true
		}
		cursor = next
		if bounded {
			buf = append(buf, chunk...)
			if done || oneStep || pacedAtOnce || len(buf) >= MaxAnswerBytes || !time.Now().Before(deadline) {
				begin(done, cursor)
				_, err := w.Write(buf)
				return err
			}
		} else {
			begin(done, cursor)
			if len(chunk) > 0 {
				if _, err := w.Write(chunk); err != nil {
					return nil // the client went away
				}
			}
			_ = rc.Flush()
			if done {
				return nil
			}
		}
		if (len(chunk) > 0 && !done) || watching() != watched {
			// More may be ready at once (a log read in pages), or the
			// step learned which record to watch: subscribe to it first.
			continue
		}
		if bounded && len(buf) > 0 {
			// Nothing more is ready: answer with what there is, as the
			// design says, rather than holding output (an event, a log
			// line) until the window ends.
			begin(false, cursor)
			_, err := w.Write(buf)
			return err
		}
		timer := time.NewTimer(spec.Interval)
		var until <-chan time.Time
		if bounded {
			until = time.After(time.Until(deadline))
		}
		select {
		case <-ctx.Done():
			timer.Stop()
			return nil
		case <-wake:
		case <-timer.C:
		case <-until:
		}
		timer.Stop()
	}
}
