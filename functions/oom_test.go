package functions

import (
	"context"
	"encoding/json"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/sockerless/sockerless/providers"
	"github.com/sockerless/sockerless/relay/ticket"
	"github.com/sockerless/sockerless/statestore/memory"
)

// actionsOf lists container id's event actions in order.
func actionsOf(t *testing.T, a *API, id string) []string {
	t.Helper()
	evs, err := a.st.Events(context.Background(), "", time.Time{}, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range evs {
		if e.Message.Actor.ID == id {
			got = append(got, string(e.Message.Action))
		}
	}
	return got
}

// checkOOMExit checks that container id ended as Docker shows an OOM kill:
// exited with code, State.OOMKilled, and an `oom` event before the `die`.
func checkOOMExit(t *testing.T, a *API, id string, code int) {
	t.Helper()
	c, err := a.st.ContainerByID(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	if c.State.Running || c.State.ExitCode != code || !c.State.OOMKilled || c.State.Error != "" {
		t.Fatalf("state %+v; want exited %d with OOMKilled", c.State, code)
	}
	acts := strings.Join(actionsOf(t, a, id), " ")
	if !strings.Contains(acts, "oom die") {
		t.Fatalf("events %q; want an oom right before the die", acts)
	}
	_, body := do(a, "GET", "/containers/"+id+"/json", "")
	var info struct{ State struct{ OOMKilled bool } }
	if err := json.Unmarshal([]byte(body), &info); err != nil || !info.State.OOMKilled {
		t.Fatalf("inspect State.OOMKilled = %v (%v); want true", info.State.OOMKilled, err)
	}
}

// TestAgentReportsOOMKill: an agent's exit report saying the container's
// cgroup killed for memory gives State.OOMKilled and an `oom` event; one
// without it (an older agent) gives neither.
func TestAgentReportsOOMKill(t *testing.T) {
	a, _, _ := sweepAPI(t, memory.New())
	post := func(id, body string) {
		rec := httptest.NewRecorder()
		req := httptest.NewRequest("POST", "/_sockerless/agent/"+id+"/exit", strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+ticket.AgentToken([]byte("test-secret"), id))
		a.ServeHTTP(rec, req)
		if rec.Code != 204 {
			t.Fatalf("exit report: %d %s", rec.Code, rec.Body)
		}
	}
	hog := runContainer(t, a, "hog", `{}`)
	post(hog, `{"exitCode":137,"oomKilled":true}`)
	checkOOMExit(t, a, hog, 137)

	plain := runContainer(t, a, "plain", `{}`)
	post(plain, `{"exitCode":137}`)
	if c, _ := a.st.ContainerByID(context.Background(), plain); c.State.OOMKilled || c.State.ExitCode != 137 {
		t.Fatalf("plain kill: %+v; want 137 without OOMKilled", c.State)
	}
	if acts := actionsOf(t, a, plain); strings.Contains(strings.Join(acts, " "), "oom") {
		t.Fatalf("plain kill events %v include an oom", acts)
	}
}

// gonePlatform is a provider whose workloads are all gone, and whose
// platform keeps how each ended (as ECS's DescribeTasks does).
type gonePlatform struct {
	providers.Provider
	exits map[string]providers.Exit
}

func (g gonePlatform) Exists(context.Context, string) (bool, error) { return false, nil }

func (g gonePlatform) ExitOf(_ context.Context, id string) (providers.Exit, bool, error) {
	e, ok := g.exits[id]
	return e, ok, nil
}

// TestSweepTakesThePlatformsExit: a running container whose workload is
// gone without an exit report is recorded by the sweep with the exit the
// provider's platform kept (code, OOM kill), not 255; the platform's exit
// of an earlier run is not taken for this one.
func TestSweepTakesThePlatformsExit(t *testing.T) {
	ctx := context.Background()
	store := memory.New()
	a, p, _ := sweepAPI(t, store)
	oom := runContainer(t, a, "oom", `{}`)
	coded := runContainer(t, a, "coded", `{}`)
	stale := runContainer(t, a, "stale", `{}`)
	unknown := runContainer(t, a, "unknown", `{}`)
	c, _ := a.st.ContainerByID(ctx, stale)
	g := gonePlatform{Provider: p, exits: map[string]providers.Exit{
		oom:   {Code: 137, OOMKilled: true, Reason: "OutOfMemoryError: Container killed due to memory usage"},
		coded: {Code: 3, At: time.Now()},
		stale: {Code: 9, At: c.State.StartedAt.Add(-time.Minute)},
	}}
	// The sweep runs on another instance, over the same store, whose
	// provider sees the platform's exits.
	other, err := New(ctx, Config{Store: store, Secret: []byte("test-secret"), RelayURL: "inproc:",
		NewProvider: func(providers.Reporter) (providers.Provider, error) { return g, nil }})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(other.Close)
	rep, err := other.Sweep(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Reconciled) != 4 || len(rep.Failed) != 0 {
		t.Fatalf("sweep = %+v; want all four reconciled", rep)
	}
	checkOOMExit(t, a, oom, 137)
	for id, want := range map[string]int{coded: 3, stale: 255, unknown: 255} {
		c, _ := a.st.ContainerByID(ctx, id)
		if c.State.Running || c.State.ExitCode != want || c.State.OOMKilled {
			t.Errorf("%s: %+v; want exited %d", id, c.State, want)
		}
	}
}
