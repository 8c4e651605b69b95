package functions

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sockerless/sockerless/functions/records"
	"github.com/sockerless/sockerless/internal/errdefs"
	"github.com/sockerless/sockerless/providers"
	"github.com/sockerless/sockerless/providers/synthetic"
	"github.com/sockerless/sockerless/relay"
	"github.com/sockerless/sockerless/statestore"
	"github.com/sockerless/sockerless/statestore/memory"
)

// failingStore fails the next calls that plan names ("Get container",
// "Update container"), once each, in order, as an unreachable store would.
type failingStore struct {
	statestore.Store
	mu   sync.Mutex
	plan []string
}

func (f *failingStore) fail(op, kind string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.plan) > 0 && f.plan[0] == op+" "+kind {
		f.plan = f.plan[1:]
		return errdefs.Unavailable(fmt.Errorf("%s %s: state store unreachable", op, kind))
	}
	return nil
}

func (f *failingStore) Get(ctx context.Context, kind, id string) (statestore.Record, error) {
	if err := f.fail("Get", kind); err != nil {
		return statestore.Record{}, err
	}
	return f.Store.Get(ctx, kind, id)
}

func (f *failingStore) Update(ctx context.Context, r statestore.Record, evs ...statestore.Event) (statestore.Record, error) {
	if err := f.fail("Update", r.Kind); err != nil {
		return statestore.Record{}, err
	}
	return f.Store.Update(ctx, r, evs...)
}

// sweepAPI is an API over store with a synthetic provider whose main
// processes run until the test ends them (an hour), and the reporter
// workloads get.
func sweepAPI(t *testing.T, store statestore.Store) (*API, providers.Provider, providers.Reporter) {
	t.Helper()
	return sweepAPIWith(t, store, func(p *synthetic.Provider) providers.Provider { return p })
}

// sweepAPIWith is sweepAPI with the synthetic provider passed through
// wrap (a test's provider around it).
func sweepAPIWith(t *testing.T, store statestore.Store, wrap func(*synthetic.Provider) providers.Provider) (*API, providers.Provider, providers.Reporter) {
	t.Helper()
	secret := []byte("test-secret")
	hub := relay.NewHub(secret)
	var rep providers.Reporter
	a, err := New(context.Background(), Config{
		Store: store, Secret: secret, RelayURL: "inproc:", Dialer: hub, PullTimeout: time.Second,
		NewProvider: func(r providers.Reporter) (providers.Provider, error) {
			rep = r
			return wrap(synthetic.New(synthetic.Options{Hub: hub, Reporter: r, RunTime: time.Hour})), nil
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(a.Close)
	if code, body := do(a, "POST", "/images/create?fromImage=alpine&tag=3.20", ""); code != 200 {
		t.Fatalf("pull: %d %s", code, body)
	}
	return a, a.provider, rep
}

func runContainer(t *testing.T, a *API, name, hostConfig string) string {
	t.Helper()
	code, body := do(a, "POST", "/containers/create?name="+name, `{"Image":"alpine:3.20","Cmd":["true"],"HostConfig":`+hostConfig+`}`)
	if code != 201 {
		t.Fatalf("create %s: %d %s", name, code, body)
	}
	var cr struct{ Id string }
	_ = json.Unmarshal([]byte(body), &cr)
	if code, body := do(a, "POST", "/containers/"+name+"/start", ""); code != 204 {
		t.Fatalf("start %s: %d %s", name, code, body)
	}
	return cr.Id
}

// TestSweepRestartPolicies: an exit records when the policy restarts the
// container, counts the restart and shows it restarting (as Docker does
// through the back-off); the sweep (not a goroutine of the exit report)
// restarts it once due, once however often it is called, and never when
// the policy says not to; stopping it during the back-off leaves it
// exited with its code (204, as Docker's stop of a restarting container).
func TestSweepRestartPolicies(t *testing.T) {
	tests := []struct {
		policy   string
		codes    []int // exit codes of successive runs
		restarts []bool
		stop     bool // docker stop after the first exit
	}{
		{`{"Name":"always"}`, []int{0, 1, 0}, []bool{true, true, true}, false},
		{`{"Name":"on-failure","MaximumRetryCount":3}`, []int{1, 1, 1, 1}, []bool{true, true, true, false}, false},
		{`{"Name":"on-failure"}`, []int{0}, []bool{false}, false},
		{`{"Name":"unless-stopped"}`, []int{2, 2}, []bool{true, true}, false},
		{`{"Name":"unless-stopped"}`, []int{2}, []bool{false}, true},
		{`{"Name":"no"}`, []int{1}, []bool{false}, false},
	}
	for i, tc := range tests {
		t.Run(fmt.Sprintf("%d-%s", i, tc.policy), func(t *testing.T) {
			a, _, rep := sweepAPI(t, memory.New())
			ctx := context.Background()
			id := runContainer(t, a, "rp", `{"RestartPolicy":`+tc.policy+`}`)
			for run, code := range tc.codes {
				// Reported as ending in an hour: no back-off is due before the
				// test makes it so.
				if err := rep.Exited(ctx, id, code, time.Now().Add(time.Hour)); err != nil {
					t.Fatal(err)
				}
				c, _ := a.st.ContainerByID(ctx, id)
				restarts := tc.restarts[run] || tc.stop
				wantCount, wantStatus := run, "exited"
				if restarts {
					wantCount, wantStatus = run+1, "restarting"
				}
				if c.RestartCount != wantCount || c.State.Status != wantStatus || c.State.Restarting != restarts || c.State.ExitCode != code {
					t.Fatalf("run %d exit %d: count %d, status %s, restarting %v, code %d; want %d, %s, %v, %d",
						run, code, c.RestartCount, c.State.Status, c.State.Restarting, c.State.ExitCode, wantCount, wantStatus, restarts, code)
				}
				if tc.stop {
					if code, body := do(a, "POST", "/containers/rp/stop", ""); code != 204 {
						t.Fatalf("stop of a restarting container: %d %s", code, body)
					}
					if code, body := do(a, "POST", "/containers/rp/stop", ""); code != 304 {
						t.Fatalf("stop of the stopped container: %d %s", code, body)
					}
					c, _ = a.st.ContainerByID(ctx, id)
					if c.State.Status != "exited" || c.State.Restarting || c.State.ExitCode != code || c.RestartCount != 1 {
						t.Fatalf("after a stop during the back-off: %+v, restart count %d; want exited %d, count 1", c.State, c.RestartCount, code)
					}
				}
				if got := !c.RestartAt.IsZero(); got != tc.restarts[run] {
					t.Fatalf("run %d exit %d: restart recorded = %v, want %v", run, code, got, tc.restarts[run])
				}
				// Not due yet: the sweep leaves it and says when.
				early, err := a.Sweep(ctx)
				if err != nil {
					t.Fatal(err)
				}
				if len(early.Restarted) != 0 || (tc.restarts[run] && !early.Next.Equal(c.RestartAt)) {
					t.Fatalf("run %d: early sweep = %+v, want nothing restarted, next %v", run, early, c.RestartAt)
				}
				// Due: make the record's time pass instead of waiting.
				if tc.restarts[run] {
					if _, err := a.st.UpdateContainer(ctx, id, func(c *records.Container) error {
						c.RestartAt = time.Now().Add(-time.Millisecond)
						return nil
					}); err != nil {
						t.Fatal(err)
					}
				}
				for round := 0; round < 2; round++ {
					got, err := a.Sweep(ctx)
					if err != nil {
						t.Fatal(err)
					}
					want := tc.restarts[run] && round == 0
					if (len(got.Restarted) == 1) != want {
						t.Fatalf("run %d sweep %d: restarted %v, want restart %v", run, round, got.Restarted, want)
					}
				}
				c, _ = a.st.ContainerByID(ctx, id)
				if c.State.Running != tc.restarts[run] || c.State.Restarting {
					t.Fatalf("run %d: running = %v, restarting %v after the sweep, want running %v", run, c.State.Running, c.State.Restarting, tc.restarts[run])
				}
				if !c.State.Running {
					break
				}
			}
		})
	}
}

// TestSweepReconcilesVanishedWorkloads: a running container whose
// workload is gone without an exit report (a restarted control plane)
// is recorded as exited 255 by the sweep, or at once by an exec that
// needs it, with a clear error; a late report of that run sets its real
// code; and a created container gets its workload back at start.
func TestSweepReconcilesVanishedWorkloads(t *testing.T) {
	ctx := context.Background()
	a, p, rep := sweepAPI(t, memory.New())
	id := runContainer(t, a, "gone", `{}`)
	id2 := runContainer(t, a, "gone2", `{}`)
	if code, body := do(a, "POST", "/containers/create?name=later", `{"Image":"alpine:3.20","Cmd":["true"]}`); code != 201 {
		t.Fatalf("create: %d %s", code, body)
	}
	later, _ := a.st.Container(ctx, "later")
	for _, x := range []string{id, id2, later.ID} {
		if err := p.Remove(ctx, x); err != nil {
			t.Fatal(err)
		}
	}

	// An exec finds out at once and answers clearly.
	code, body := do(a, "POST", "/containers/gone2/exec", `{"Cmd":["true"]}`)
	if code != 409 || !strings.Contains(body, "without reporting its exit") {
		t.Fatalf("exec in a vanished container: %d %s, want 409 naming why", code, body)
	}

	got, err := a.Sweep(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Reconciled) != 1 || got.Reconciled[0] != id {
		t.Fatalf("sweep reconciled %v, want [%s]", got.Reconciled, id)
	}
	for _, x := range []string{id, id2} {
		c, _ := a.st.ContainerByID(ctx, x)
		if c.State.Running || c.State.ExitCode != 255 || c.State.Status != "exited" {
			t.Fatalf("vanished %s: %+v, want exited 255", x, c.State)
		}
	}
	if again, _ := a.Sweep(ctx); len(again.Reconciled) != 0 {
		t.Fatalf("second sweep reconciled %v again", again.Reconciled)
	}
	c, _ := a.st.ContainerByID(ctx, id)
	if err := rep.Exited(ctx, id, 3, c.State.StartedAt.Add(time.Second)); err != nil {
		t.Fatal(err)
	}
	if c, _ = a.st.ContainerByID(ctx, id); c.State.ExitCode != 3 || c.State.Error != "" {
		t.Fatalf("late report: %+v, want exit 3", c.State)
	}
	if code, body := do(a, "POST", "/containers/later/start", ""); code != 204 {
		t.Fatalf("start of a created container whose workload was lost: %d %s", code, body)
	}
}

// TestExitReportFaults: the store fails the exit report's read, then its
// write; the report is not acknowledged (an error, never a silent
// success), the workload's reporter retries, and the container ends
// exited with its code, which a wait returns.
func TestExitReportFaults(t *testing.T) {
	ctx := context.Background()
	fs := &failingStore{Store: memory.New()}
	a, _, rep := sweepAPI(t, fs)
	id := runContainer(t, a, "ff", `{}`)
	c, _ := a.st.ContainerByID(ctx, id)
	at := c.State.StartedAt.Add(time.Second)

	// Directly: each failure is an error a retry can act on.
	fs.plan = []string{"Get container"}
	if err := a.Exited(ctx, id, 7, at); err == nil || errdefs.HTTPStatus(err) < 500 {
		t.Fatalf("Exited with a failed read = %v, want a 5xx error", err)
	}
	fs.plan = []string{"Update container"}
	if err := a.Exited(ctx, id, 7, at); err == nil || errdefs.HTTPStatus(err) < 500 {
		t.Fatalf("Exited with a failed write = %v, want a 5xx error", err)
	}
	if c, _ := a.st.ContainerByID(ctx, id); !c.State.Running {
		t.Fatal("a failed exit report changed the container")
	}

	// Through the workload's reporter: read fails, then write; it retries.
	fs.plan = []string{"Get container", "Get container", "Update container"}
	if err := rep.Exited(ctx, id, 7, at); err != nil {
		t.Fatalf("reporter gave up: %v", err)
	}
	if len(fs.plan) != 0 {
		t.Fatalf("faults left unused: %v", fs.plan)
	}
	c, _ = a.st.ContainerByID(ctx, id)
	if c.State.Running || c.State.ExitCode != 7 {
		t.Fatalf("after the retried report: %+v, want exited 7", c.State)
	}
	// A duplicate changes nothing.
	if err := rep.Exited(ctx, id, 9, at); err != nil {
		t.Fatal(err)
	}
	if c, _ = a.st.ContainerByID(ctx, id); c.State.ExitCode != 7 || c.ExitSeq != 1 {
		t.Fatalf("duplicate report: %+v seq %d, want exit 7 once", c.State, c.ExitSeq)
	}
	code, body := do(a, "POST", "/containers/ff/wait", "")
	if code != 200 || !strings.Contains(body, `"StatusCode":7`) {
		t.Fatalf("wait: %d %s", code, body)
	}

}

// unsureInspector is a provider whose Exists cannot say (a relay that is
// down answers so).
type unsureInspector struct{ providers.Provider }

func (unsureInspector) Exists(context.Context, string) (bool, error) {
	return true, errors.New("relay ws://127.0.0.1:1: connection refused")
}

// TestReconcileWhenProviderCannotSay: when the provider cannot tell
// whether a workload exists, a request that would reconcile (exec
// create, start) goes on as before instead of failing with the
// provider's error, and the container is left as it was.
func TestReconcileWhenProviderCannotSay(t *testing.T) {
	ctx := context.Background()
	secret := []byte("test-secret")
	hub := relay.NewHub(secret)
	a, err := New(ctx, Config{
		Store: memory.New(), Secret: secret, RelayURL: "inproc:", Dialer: hub, PullTimeout: time.Second,
		NewProvider: func(r providers.Reporter) (providers.Provider, error) {
			return unsureInspector{synthetic.New(synthetic.Options{Hub: hub, Reporter: r, RunTime: time.Hour})}, nil
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(a.Close)
	if code, body := do(a, "POST", "/images/create?fromImage=alpine&tag=3.20", ""); code != 200 {
		t.Fatalf("pull: %d %s", code, body)
	}
	id := runContainer(t, a, "unsure", `{}`)
	if code, body := do(a, "POST", "/containers/unsure/exec", `{"Cmd":["true"]}`); code != 201 {
		t.Fatalf("exec create while the provider cannot say: %d %s, want 201", code, body)
	}
	if c, _ := a.st.ContainerByID(ctx, id); !c.State.Running {
		t.Fatalf("container after the exec: %+v, want still running", c.State)
	}
	if code, body := do(a, "POST", "/containers/create?name=unsure2", `{"Image":"alpine:3.20","Cmd":["true"]}`); code != 201 {
		t.Fatalf("create: %d %s", code, body)
	}
	if code, body := do(a, "POST", "/containers/unsure2/start", ""); code != 204 {
		t.Fatalf("start while the provider cannot say: %d %s, want 204", code, body)
	}
}

// gatedProvider holds the next Exists call (the check a restart makes
// before it starts the workload) until the test lets it go, so a stop can
// come between the sweep's decision to restart and the restart itself.
type gatedProvider struct {
	*synthetic.Provider
	armed   chan struct{} // closed by the test to hold the next Exists
	reached chan struct{} // closed when Exists is held
	release chan struct{} // closed by the test to let it go on
	once    sync.Once
}

func (g *gatedProvider) Exists(ctx context.Context, id string) (bool, error) {
	select {
	case <-g.armed:
		g.once.Do(func() {
			close(g.reached)
			<-g.release
		})
	default:
	}
	return g.Provider.Exists(ctx, id)
}

// TestStopDuringPolicyRestart: a `docker stop` that comes while the
// restart policy is restarting a container (the sweep has decided to and
// not yet started it) leaves it stopped, as Docker's stop of a restarting
// container does: the restart does not undo the manual stop.
func TestStopDuringPolicyRestart(t *testing.T) {
	g := &gatedProvider{armed: make(chan struct{}), reached: make(chan struct{}), release: make(chan struct{})}
	a, _, rep := sweepAPIWith(t, memory.New(), func(p *synthetic.Provider) providers.Provider {
		g.Provider = p
		return g
	})
	ctx := context.Background()
	id := runContainer(t, a, "us", `{"RestartPolicy":{"Name":"unless-stopped"}}`)
	if err := rep.Exited(ctx, id, 2, time.Now()); err != nil {
		t.Fatal(err)
	}
	if _, err := a.st.UpdateContainer(ctx, id, func(c *records.Container) error {
		c.RestartAt = time.Now().Add(-time.Millisecond)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	close(g.armed)
	swept := make(chan SweepReport, 1)
	go func() {
		rep, err := a.Sweep(ctx)
		if err != nil {
			t.Error(err)
		}
		swept <- rep
	}()
	<-g.reached
	if code, body := do(a, "POST", "/containers/us/stop", ""); code != 204 {
		t.Fatalf("stop of a container about to be restarted: %d %s", code, body)
	}
	close(g.release)
	<-swept
	c, err := a.st.ContainerByID(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if c.State.Running || !c.ManualStop {
		t.Fatalf("after a stop during its restart: running %v, manual stop %v; want stopped", c.State.Running, c.ManualStop)
	}
	for range 2 {
		if rep, err := a.Sweep(ctx); err != nil || len(rep.Restarted) != 0 {
			t.Fatalf("a later sweep: %+v %v, want nothing restarted", rep, err)
		}
	}
}

// tidyingProvider is a provider that keeps resources for reuse and
// releases them when tidied (providers.Tidier), failing when told to.
type tidyingProvider struct {
	providers.Provider
	calls int
	err   error
}

func (p *tidyingProvider) Tidy(context.Context) ([]string, error) {
	p.calls++
	return []string{fmt.Sprintf("definition-%d", p.calls)}, p.err
}

// TestSweepTidies: every sweep asks a Tidier provider to release what no
// container uses, once, and reports what it released; a failure of the
// tidying is reported, not fatal to the sweep.
func TestSweepTidies(t *testing.T) {
	ctx := context.Background()
	var tp *tidyingProvider
	a, _, _ := sweepAPIWith(t, memory.New(), func(p *synthetic.Provider) providers.Provider {
		tp = &tidyingProvider{Provider: p}
		return tp
	})
	rep, err := a.Sweep(ctx)
	if err != nil || !slices.Equal(rep.Tidied, []string{"definition-1"}) || tp.calls != 1 || len(rep.Failed) != 0 {
		t.Fatalf("Sweep() = %+v, %v after %d Tidy calls; want definition-1 tidied by one call", rep, err, tp.calls)
	}
	tp.err = errors.New("ecs: list task definition families: throttled")
	rep, err = a.Sweep(ctx)
	if err != nil || rep.Failed["tidy:"+tp.Name()] != tp.err.Error() || !slices.Equal(rep.Tidied, []string{"definition-2"}) {
		t.Fatalf("Sweep() with a failing Tidy = %+v, %v; want the failure under tidy:%s and what was tidied before it", rep, err, tp.Name())
	}
}

// sweepingProvider runs a sweep from inside the workload's removal, the
// moment an auto-remove container's exit report has the workload removed.
type sweepingProvider struct {
	*synthetic.Provider
	a     *API
	swept SweepReport
	// sweeping is set by the first Remove; the sweep it runs may remove
	// the workload again, which must not sweep again.
	sweeping atomic.Bool
}

func (s *sweepingProvider) Remove(ctx context.Context, id string) error {
	err := s.Provider.Remove(ctx, id)
	if s.sweeping.CompareAndSwap(false, true) {
		s.swept, _ = s.a.Sweep(ctx)
	}
	return err
}

// TestAutoRemoveExitRacesNoSweep: a sweep that runs while an auto-remove
// container's exit report removes it never finds its record running with
// the workload gone, so it never records the container as vanished
// (exit 255) in place of its real exit code (`docker run --rm` saw 255
// once under load when the workload went before the record).
func TestAutoRemoveExitRacesNoSweep(t *testing.T) {
	ctx := context.Background()
	var sp *sweepingProvider
	a, _, rep := sweepAPIWith(t, memory.New(), func(p *synthetic.Provider) providers.Provider {
		sp = &sweepingProvider{Provider: p}
		return sp
	})
	sp.a = a
	id := runContainer(t, a, "rm", `{"AutoRemove":true}`)
	c, _ := a.st.ContainerByID(ctx, id)
	if err := rep.Exited(ctx, id, 3, c.State.StartedAt.Add(time.Second)); err != nil {
		t.Fatal(err)
	}
	if len(sp.swept.Reconciled) != 0 {
		t.Fatalf("the sweep during the removal reconciled %v as vanished", sp.swept.Reconciled)
	}
	if _, err := a.st.ContainerByID(ctx, id); err == nil {
		t.Fatal("the auto-remove container is still there")
	}
}

// TestRestartingContainer: through its restart back-off a container is
// what Docker shows (checked against dockerd 28.2.2): running and
// restarting in inspect, listed by `docker ps`, refused by exec, pause,
// top, attach and resize with Docker's words, kept by `docker rm` unless
// forced, left alone by start (304); a wait lasts until its next exit, and
// a kill cancels the restart (204), leaving it exited with its last code.
func TestRestartingContainer(t *testing.T) {
	a, _, rep := sweepAPI(t, memory.New())
	ctx := context.Background()
	id := runContainer(t, a, "rs", `{"RestartPolicy":{"Name":"always"}}`)
	// Reported as ending in an hour: the back-off lasts until the test
	// makes the restart due.
	if err := rep.Exited(ctx, id, 3, time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	restarting := "Container " + id + " is restarting, wait until the container is running"
	tests := []struct {
		method, path, body string
		code               int
		want               string // in the body
	}{
		{"GET", "/containers/rs/json", "", 200, `"Status":"restarting","Running":true,"Paused":false,"Restarting":true`},
		{"GET", "/containers/rs/json", "", 200, `"RestartCount":1`},
		{"GET", "/containers/json", "", 200, `"State":"restarting","Status":"Restarting (3)`},
		{"GET", "/containers/json?filters=" + url.QueryEscape(`{"status":["restarting"]}`), "", 200, `"Id":"` + id},
		{"POST", "/containers/rs/exec", `{"Cmd":["true"]}`, 409, restarting},
		{"POST", "/containers/rs/pause", "", 409, restarting},
		{"GET", "/containers/rs/top", "", 409, restarting},
		{"POST", "/containers/rs/resize?h=10&w=10", "", 409, restarting},
		{"POST", "/containers/rs/attach?stream=1&stdout=1", "", 409, "container rs is restarting, wait until the container is running"},
		{"DELETE", "/containers/rs", "", 409, `cannot remove container \"rs\": container is restarting: stop the container before removing or force remove`},
		{"POST", "/containers/rs/start", "", 304, ""},
		{"GET", "/containers/rs/json", "", 200, `"Status":"restarting"`},
	}
	for _, tc := range tests {
		code, body := do(a, tc.method, tc.path, tc.body)
		if code != tc.code || !strings.Contains(body, tc.want) {
			t.Fatalf("%s %s: %d %s, want %d with %q", tc.method, tc.path, code, body, tc.code, tc.want)
		}
	}

	// A wait lasts through the restart until the next exit.
	waited := make(chan string, 1)
	go func() {
		_, body := do(a, "POST", "/containers/rs/wait", "")
		waited <- body
	}()
	if _, err := a.st.UpdateContainer(ctx, id, func(c *records.Container) error {
		c.RestartAt = time.Now().Add(-time.Millisecond)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if got, err := a.Sweep(ctx); err != nil || len(got.Restarted) != 1 {
		t.Fatalf("sweep: %+v %v, want the restart", got, err)
	}
	select {
	case body := <-waited:
		t.Fatalf("the wait ended when the container restarted: %s", body)
	default:
	}
	if err := rep.Exited(ctx, id, 7, time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if body := <-waited; !strings.Contains(body, `"StatusCode":7`) {
		t.Fatalf("wait = %s, want the next exit's code 7", body)
	}

	// A kill cancels the restart.
	if code, body := do(a, "POST", "/containers/rs/kill", ""); code != 204 {
		t.Fatalf("kill of a restarting container: %d %s", code, body)
	}
	c, _ := a.st.ContainerByID(ctx, id)
	if c.State.Status != "exited" || c.State.Restarting || c.State.ExitCode != 7 || !c.RestartAt.IsZero() || c.RestartCount != 2 {
		t.Fatalf("after a kill during the back-off: %+v, restart at %v, count %d; want exited 7, no restart, count 2", c.State, c.RestartAt, c.RestartCount)
	}
	if code, body := do(a, "POST", "/containers/rs/kill", ""); code != 409 {
		t.Fatalf("kill of the exited container: %d %s", code, body)
	}
	// A start by the user begins the count again, as Docker's.
	if code, body := do(a, "POST", "/containers/rs/start", ""); code != 204 {
		t.Fatalf("start: %d %s", code, body)
	}
	if c, _ := a.st.ContainerByID(ctx, id); c.RestartCount != 0 || !c.State.Running {
		t.Fatalf("after a start: count %d, running %v; want 0, running", c.RestartCount, c.State.Running)
	}
}
