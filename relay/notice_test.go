package relay

import (
	"context"
	"testing"
	"time"

	"github.com/sockerless/sockerless/internal/errdefs"
	"github.com/sockerless/sockerless/relay/ticket"
)

func watchToken(t *testing.T, secret []byte, container, kind string) string {
	t.Helper()
	tok, err := ticket.Sign(secret, ticket.Grant{Container: container, Session: "s-" + container + kind, Kind: kind, Expires: time.Now().Add(time.Minute).Unix()})
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// TestHubNotices: a watch ticket subscribes to its own container's
// notices only, until its context ends; it opens no session, and no other
// kind of ticket watches.
func TestHubNotices(t *testing.T) {
	secret := []byte("k")
	h := NewHub(secret)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	a, err := h.Watch(ctx, "inproc:", watchToken(t, secret, "A", ticket.KindWatch))
	if err != nil {
		t.Fatal(err)
	}
	b, err := h.Watch(ctx, "inproc:", watchToken(t, secret, "B", ticket.KindWatch))
	if err != nil {
		t.Fatal(err)
	}
	_ = h.Notify(ctx, "A")
	_ = h.Notify(ctx, "A") // a second pending notice is folded into the first
	select {
	case <-a:
	default:
		t.Fatal("A's watcher got no notice")
	}
	select {
	case <-a:
		t.Fatal("two notices pending for one watcher")
	case <-b:
		t.Fatal("B's watcher got A's notice")
	default:
	}

	if _, err := h.Watch(ctx, "inproc:", watchToken(t, secret, "A", ticket.KindExec)); errdefs.HTTPStatus(err) != 403 {
		t.Errorf("Watch with an exec ticket = %v, want Forbidden", err)
	}
	if _, err := h.Watch(ctx, "inproc:", watchToken(t, []byte("other"), "A", ticket.KindWatch)); errdefs.HTTPStatus(err) != 403 {
		t.Errorf("Watch with a forged ticket = %v, want Forbidden", err)
	}
	if _, err := h.Dial(ctx, "inproc:", watchToken(t, secret, "A", ticket.KindWatch)); errdefs.HTTPStatus(err) != 403 {
		t.Errorf("Dial with a watch ticket = %v, want Forbidden", err)
	}

	cancel()
	for deadline := time.Now().Add(time.Minute); ; { // a hang guard
		h.mu.Lock()
		n := len(h.notices)
		h.mu.Unlock()
		if n == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d containers still watched after the watchers' context ended", n)
		}
		time.Sleep(time.Millisecond)
	}
}
