package integration

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sockerless/sockerless/internal/embedded"
	"github.com/sockerless/sockerless/internal/fnserver"
	"github.com/sockerless/sockerless/internal/testutil/emulators"
	"github.com/sockerless/sockerless/statestore"
)

// faultStore runs a hook once, just before the first call that matches,
// so a test can take the store down in the middle of a Docker operation.
type faultStore struct {
	statestore.Store
	mu   sync.Mutex
	when func(op, kind string) bool
	hook func()
}

// arm sets the hook for the next call matching when.
func (f *faultStore) arm(when func(op, kind string) bool, hook func()) {
	f.mu.Lock()
	f.when, f.hook = when, hook
	f.mu.Unlock()
}

func (f *faultStore) fire(op, kind string) {
	f.mu.Lock()
	var hook func()
	if f.when != nil && f.when(op, kind) {
		hook, f.when, f.hook = f.hook, nil, nil
	}
	f.mu.Unlock()
	if hook != nil {
		hook()
	}
}

func (f *faultStore) Create(ctx context.Context, r statestore.Record, evs ...statestore.Event) (statestore.Record, error) {
	f.fire("Create", r.Kind)
	return f.Store.Create(ctx, r, evs...)
}

func (f *faultStore) Update(ctx context.Context, r statestore.Record, evs ...statestore.Event) (statestore.Record, error) {
	f.fire("Update", r.Kind)
	return f.Store.Update(ctx, r, evs...)
}

func (f *faultStore) AppendEvent(ctx context.Context, e statestore.Event) (statestore.Event, error) {
	f.fire("AppendEvent", "")
	return f.Store.AppendEvent(ctx, e)
}

func (f *faultStore) Delete(ctx context.Context, kind, id string, version int64, evs ...statestore.Event) error {
	f.fire("Delete", kind)
	return f.Store.Delete(ctx, kind, id, version, evs...)
}

// TestStoreFaultDynamoDB takes DynamoDB Local (on disk) down in the middle
// of Docker operations through the docker CLI: requests fail with a 503
// that says the state store is unreachable, nothing is half-written (a
// create that lost its store holds no name; a removal that lost it leaves
// the container whole) and service resumes when the store is back on the
// same port, with its data.
func TestStoreFaultDynamoDB(t *testing.T) {
	emu, err := emulators.DynamoDBAt(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(emu.Stop)
	store, err := fnserver.OpenStore(context.Background(), "dynamodb://fault?endpoint="+emu.Endpoint)
	if err != nil {
		t.Fatal(err)
	}
	fs := &faultStore{Store: store}
	s := startServer(t, embedded.Options{Synthetic: true, Store: fs})
	must := func(args ...string) string {
		t.Helper()
		out, code := s.docker(t, "", args...)
		if code != 0 {
			t.Fatalf("docker %v: exit %d\n%s", args, code, out)
		}
		return out
	}
	// fails runs a docker command that must fail because the store is
	// down, with the unreachable message (never "No such ...").
	fails := func(args ...string) {
		t.Helper()
		out, code := s.docker(t, "", args...)
		if code == 0 || !strings.Contains(out, statestore.Unreachable) || strings.Contains(out, "No such") {
			t.Fatalf("docker %v with the store down: exit %d, want a failure saying %q:\n%s", args, code, statestore.Unreachable, out)
		}
	}
	names := func() string {
		t.Helper()
		return strings.Join(strings.Fields(must("ps", "-a", "--format", "{{.Names}}")), " ")
	}
	restart := func() {
		t.Helper()
		if err := emu.Up(); err != nil {
			t.Fatal(err)
		}
	}

	must("pull", "alpine:3.20")
	must("create", "--name", "before", "alpine:3.20", "true")

	// 1. Down before a request: plain requests are 503s.
	emu.Down()
	fails("ps", "-a")
	fails("inspect", "before")
	fails("create", "--name", "during", "alpine:3.20", "true")
	hc := s.httpClient()
	resp, err := hc.Post("http://d/v1.50/containers/create?name=raw", "application/json", strings.NewReader(`{"Image":"alpine:3.20","Cmd":["true"]}`))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	var msg struct{ Message string }
	if resp.StatusCode != http.StatusServiceUnavailable || json.Unmarshal(body, &msg) != nil || !strings.Contains(msg.Message, statestore.Unreachable) {
		t.Fatalf("create with the store down: %d %s; want 503 with a message saying %q", resp.StatusCode, body, statestore.Unreachable)
	}
	restart()
	if got := names(); got != "before" {
		t.Fatalf("after restart, ps -a = %q; want only before (the data survived, nothing half-written)", got)
	}

	// 2. Down in the middle of a create: after the network address is
	// allocated, just before the container record (with its name) is
	// written.
	fs.arm(func(op, kind string) bool { return op == "Create" && kind == "container" }, emu.Down)
	fails("create", "--name", "during", "alpine:3.20", "true")
	restart()
	if got := names(); got != "before" {
		t.Fatalf("after a create lost its store, ps -a = %q; want only before", got)
	}
	must("create", "--name", "during", "alpine:3.20", "true") // the name is free
	if out := must("inspect", "--format", "{{.Name}} {{.State.Status}}", "during"); strings.TrimSpace(out) != "/during created" {
		t.Fatalf("inspect during = %q", out)
	}

	// 2b. Down just after the container record is written, at the next
	// write: whatever the CLI was told must be what the store holds.
	var created, downed atomic.Bool
	fs.arm(func(op, kind string) bool {
		if op == "Create" && kind == "container" {
			created.Store(true)
			return false
		}
		return created.Load()
	}, func() { downed.Store(true); emu.Down() })
	out, code := s.docker(t, "", "create", "--name", "during2", "alpine:3.20", "true")
	// The record and its events are one write, so a create may make no
	// further write for the hook to take the store down at.
	fs.arm(nil, nil)
	if downed.Load() {
		restart()
	}
	if !created.Load() {
		t.Fatal("the hook never saw the container record written")
	}
	if listed := strings.Contains(names(), "during2"); listed != (code == 0) {
		t.Fatalf("create told the CLI exit %d (%s) but after restart during2 listed = %v", code, strings.TrimSpace(out), listed)
	}
	if code == 0 {
		must("rm", "during2")
	}

	// 3. Down in the middle of a removal: the container stays whole and
	// can be removed once the store is back.
	fs.arm(func(op, kind string) bool { return op == "Delete" && kind == "container" }, emu.Down)
	fails("rm", "during")
	restart()
	if got := names(); got != "before during" && got != "during before" {
		t.Fatalf("after a removal lost its store, ps -a = %q; want before and during", got)
	}
	must("rm", "during")

	// 4. Down in the middle of `docker run --rm` (at its start): the run
	// fails with the message; afterwards every listing agrees and what is
	// left can be removed.
	fs.arm(func(op, kind string) bool { return op == "Update" && kind == "container" }, emu.Down)
	out, code = s.docker(t, "", "run", "--rm", "--name", "runner", "alpine:3.20", "true")
	if code == 0 {
		t.Fatalf("docker run with the store going down succeeded:\n%s", out)
	}
	restart()
	if got := names(); got != "before" && got != "before runner" && got != "runner before" {
		t.Fatalf("after run lost its store, ps -a = %q", got)
	}
	if strings.Contains(names(), "runner") {
		must("rm", "-f", "runner")
	}
	must("run", "--rm", "--name", "runner", "alpine:3.20", "true") // the name is usable

	// Service resumed: a full round of operations works.
	must("start", "before")
	must("rm", "-f", "before")
	deadline := time.Now().Add(10 * time.Second)
	for names() != "" {
		if time.Now().After(deadline) {
			t.Fatalf("containers left at the end: %q", names())
		}
		time.Sleep(100 * time.Millisecond)
	}
}
