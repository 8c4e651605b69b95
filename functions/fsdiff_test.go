package functions

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/sockerless/sockerless/providers"
	"github.com/sockerless/sockerless/providers/synthetic"
	"github.com/sockerless/sockerless/relay"
	"github.com/sockerless/sockerless/statestore/memory"
)

// bareProvider hides every optional ability of the provider it wraps.
type bareProvider struct{ providers.Provider }

// TestDiffExportNeedArchiver: a provider without providers.Archiver
// answers docker diff and docker export with 501 and a reason.
func TestDiffExportNeedArchiver(t *testing.T) {
	secret := []byte("test-secret")
	hub := relay.NewHub(secret)
	a, err := New(context.Background(), Config{
		Store: memory.New(), Secret: secret, RelayURL: "inproc:", Dialer: hub, PullTimeout: time.Second,
		NewProvider: func(r providers.Reporter) (providers.Provider, error) {
			return bareProvider{synthetic.New(synthetic.Options{Hub: hub, Reporter: r})}, nil
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	if code, body := do(a, "POST", "/images/create?fromImage=alpine&tag=3.20", ""); code != 200 {
		t.Fatalf("pull: %d %s", code, body)
	}
	if code, body := do(a, "POST", "/containers/create?name=c1", `{"Image":"alpine:3.20","Cmd":["true"]}`); code != 201 {
		t.Fatalf("create: %d %s", code, body)
	}
	for _, p := range []string{"/containers/c1/changes", "/containers/c1/export"} {
		code, body := do(a, "GET", p, "")
		if code != 501 || !strings.Contains(body, "is not supported by the") {
			t.Errorf("GET %s: %d %s, want 501 with a reason", p, code, body)
		}
	}
	if code, _ := do(a, "GET", "/containers/nosuch/changes", ""); code != 404 {
		t.Errorf("changes of a missing container: %d, want 404", code)
	}
}
