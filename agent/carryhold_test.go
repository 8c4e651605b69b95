package agent

import (
	"context"
	"testing"
	"time"

	"github.com/sockerless/sockerless/relay/ticket"
)

// TestCarryHold: the hold ends once a push to every listed directory has
// been served; pulls, other sessions and other directories do not end
// it; with nothing listed it never holds.
func TestCarryHold(t *testing.T) {
	if !NewCarryHold(ticket.CarryPush, []string{""}).Wait(context.Background(), time.Minute) {
		t.Fatal("an empty hold held")
	}
	h := NewCarryHold(ticket.CarryPush, []string{"/__w", "/github/workspace"})
	for _, g := range []ticket.Grant{
		{Kind: ticket.KindCarry, Carry: &ticket.Carry{Op: ticket.CarryPull, Dir: "/__w"}},
		{Kind: ticket.KindCarry, Carry: &ticket.Carry{Op: ticket.CarryPush, Dir: "/elsewhere"}},
		{Kind: ticket.KindExec},
		{Kind: ticket.KindCarry, Carry: &ticket.Carry{Op: ticket.CarryPush, Dir: "/__w"}},
	} {
		h.Served(g)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if h.Wait(ctx, time.Minute) {
		t.Fatal("released before /github/workspace arrived")
	}
	if m := h.Missing(); len(m) != 1 || m[0] != "/github/workspace" {
		t.Fatalf("missing %v", m)
	}
	h.Served(ticket.Grant{Kind: ticket.KindCarry, Carry: &ticket.Carry{Op: ticket.CarryPush, Dir: "/github/workspace"}})
	h.Served(ticket.Grant{Kind: ticket.KindCarry, Carry: &ticket.Carry{Op: ticket.CarryPush, Dir: "/github/workspace"}})
	if !h.Wait(context.Background(), time.Minute) {
		t.Fatal("still held")
	}
}
