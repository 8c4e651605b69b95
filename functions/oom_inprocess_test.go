package functions

import (
	"context"
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/sockerless/sockerless/providers"
	"github.com/sockerless/sockerless/providers/synthetic"
	"github.com/sockerless/sockerless/relay"
	"github.com/sockerless/sockerless/statestore/memory"
)

// TestInProcessReporterPassesOOM: the Reporter an in-process provider is
// given (the API behind its retrying wrapper) is a providers.OOMReporter,
// and an OOM kill reported through it, followed by the exit, shows in
// inspect as OOMKilled with exit code 137 (the memory provider's report
// was lost when the wrapper hid API.OOMKilled).
func TestInProcessReporterPassesOOM(t *testing.T) {
	secret := []byte("test-secret")
	hub := relay.NewHub(secret)
	var rep providers.Reporter
	a, err := New(context.Background(), Config{
		Store: memory.New(), Secret: secret, RelayURL: "inproc:", Dialer: hub, PullTimeout: time.Second,
		NewProvider: func(r providers.Reporter) (providers.Provider, error) {
			rep = r
			return synthetic.New(synthetic.Options{Hub: hub, Reporter: r, RunTime: time.Hour}), nil
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	oom, ok := rep.(providers.OOMReporter)
	if !ok {
		t.Fatalf("the provider's reporter %T is not a providers.OOMReporter", rep)
	}
	if code, body := do(a, "POST", "/images/create?fromImage=alpine&tag=3.20", ""); code != 200 {
		t.Fatalf("pull: %d %s", code, body)
	}
	code, body := do(a, "POST", "/containers/create?name=hog", `{"Image":"alpine:3.20","Cmd":["hog"]}`)
	if code != http.StatusCreated {
		t.Fatalf("create: %d %s", code, body)
	}
	var cr struct{ Id string }
	_ = json.Unmarshal([]byte(body), &cr)
	if code, body := do(a, "POST", "/containers/hog/start", ""); code != http.StatusNoContent {
		t.Fatalf("start: %d %s", code, body)
	}
	ctx := context.Background()
	if err := oom.OOMKilled(ctx, cr.Id, time.Now()); err != nil {
		t.Fatal(err)
	}
	if err := rep.Exited(ctx, cr.Id, 137, time.Now()); err != nil {
		t.Fatal(err)
	}
	code, body = do(a, "GET", "/containers/hog/json", "")
	if code != http.StatusOK {
		t.Fatalf("inspect: %d %s", code, body)
	}
	var in struct {
		State struct {
			Running   bool
			OOMKilled bool
			ExitCode  int
		}
	}
	if err := json.Unmarshal([]byte(body), &in); err != nil {
		t.Fatal(err)
	}
	if in.State.Running || !in.State.OOMKilled || in.State.ExitCode != 137 {
		t.Fatalf("state %+v, want not running, OOMKilled, exit 137", in.State)
	}
}
