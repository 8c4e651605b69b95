package relay

import (
	"context"
	"io"
	"testing"
	"time"

	"github.com/sockerless/sockerless/agent"
	"github.com/sockerless/sockerless/internal/errdefs"
	"github.com/sockerless/sockerless/relay/frame"
	"github.com/sockerless/sockerless/relay/ticket"
)

type echoWorkload struct{ name string }

func (e echoWorkload) Exec(ctx context.Context, g ticket.Grant, p ticket.Process, s agent.Stdio) (int, error) {
	io.WriteString(s.Stdout, e.name+":")
	if s.Stdin != nil {
		io.Copy(s.Stdout, s.Stdin)
	}
	return 7, nil
}

func (e echoWorkload) Attach(ctx context.Context, g ticket.Grant, s agent.Stdio) (int, error) {
	s.Ready()
	return 0, nil
}

func serveWith(w agent.Workload) SessionServer {
	return func(ctx context.Context, g ticket.Grant, conn io.ReadWriteCloser) {
		agent.ServeSession(ctx, conn, g, w, nil)
	}
}

func TestHubPairsByContainer(t *testing.T) {
	secret := []byte("k")
	h := NewHub(secret)
	h.Register("A", serveWith(echoWorkload{"A"}))
	h.Register("B", serveWith(echoWorkload{"B"}))
	exp := time.Now().Add(time.Minute).Unix()
	tok, _ := ticket.Sign(secret, ticket.Grant{Container: "B", Session: "s1", Kind: ticket.KindExec, Expires: exp,
		Process: &ticket.Process{Cmd: []string{"cat"}, Stdin: true}})
	conn, err := h.Dial(t.Context(), "", tok)
	if err != nil {
		t.Fatal(err)
	}
	frame.Write(conn, frame.Stdin, []byte("hi"))
	frame.Write(conn, frame.CloseStdin, nil)
	var out string
	for {
		f, err := frame.Read(conn)
		if err != nil {
			t.Fatalf("Read() error = %v before exit", err)
		}
		if f.Type == frame.Exit {
			if string(f.Payload) != "7" {
				t.Errorf("exit = %s, want 7", f.Payload)
			}
			break
		}
		out += string(f.Payload)
	}
	if out != "B:hi" {
		t.Errorf("output = %q, want B:hi", out)
	}
	if _, err := h.Dial(t.Context(), "", tok); errdefs.HTTPStatus(err) != 403 {
		t.Errorf("Dial(replayed ticket) error = %v, want forbidden", err)
	}
	forged, _ := ticket.Sign([]byte("other"), ticket.Grant{Container: "A", Session: "s2", Expires: exp})
	if _, err := h.Dial(t.Context(), "", forged); errdefs.HTTPStatus(err) != 403 {
		t.Errorf("Dial(forged) error = %v, want forbidden", err)
	}
}

func TestHubWaitsForAgent(t *testing.T) {
	secret := []byte("k")
	h := NewHub(secret)
	tok, _ := ticket.Sign(secret, ticket.Grant{Container: "late", Session: "s", Kind: ticket.KindAttach, Expires: time.Now().Add(time.Minute).Unix()})
	go func() {
		time.Sleep(30 * time.Millisecond)
		h.Register("late", serveWith(echoWorkload{"late"}))
	}()
	conn, err := h.Dial(t.Context(), "", tok)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []frame.Type{frame.Ready, frame.Exit} {
		f, err := frame.Read(conn)
		if err != nil || f.Type != want {
			t.Fatalf("frame = %v, %v; want %v", f.Type, err, want)
		}
	}
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Millisecond)
	defer cancel()
	tok2, _ := ticket.Sign(secret, ticket.Grant{Container: "never", Session: "s3", Expires: time.Now().Add(time.Minute).Unix()})
	if _, err := h.Dial(ctx, "", tok2); !errdefs.IsUnavailable(err) {
		t.Errorf("Dial(no agent) error = %v, want unavailable", err)
	}
}
