package functions

import (
	"context"
	"encoding/json"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/sockerless/sockerless/functions/records"
	"github.com/sockerless/sockerless/providers"
	"github.com/sockerless/sockerless/providers/synthetic"
	"github.com/sockerless/sockerless/relay"
	"github.com/sockerless/sockerless/statestore/memory"
)

// watchRecorder is a memory store that records what long waits watch.
type watchRecorder struct {
	*memory.Store
	mu      sync.Mutex
	watched map[string]bool
}

func (w *watchRecorder) Changed(kind, id string) <-chan struct{} {
	w.mu.Lock()
	w.watched[kind+"/"+id] = true
	w.mu.Unlock()
	return w.Store.Changed(kind, id)
}

// TestWaitWatchesItsContainer: a wait by name learns its container's id
// in its first step and then sleeps on that record's changes (so an exit
// wakes it at once), not on a key nothing ever changes.
func TestWaitWatchesItsContainer(t *testing.T) {
	store := &watchRecorder{Store: memory.New(), watched: map[string]bool{}}
	secret := []byte("test-secret")
	hub := relay.NewHub(secret)
	a, err := New(context.Background(), Config{
		Store: store, Secret: secret, RelayURL: "inproc:", Dialer: hub, PullTimeout: time.Second,
		NewProvider: func(r providers.Reporter) (providers.Provider, error) {
			return synthetic.New(synthetic.Options{Hub: hub, Reporter: r}), nil
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	if code, body := do(a, "POST", "/images/create?fromImage=alpine&tag=3.20", ""); code != 200 {
		t.Fatalf("pull: %d %s", code, body)
	}
	code, body := do(a, "POST", "/containers/create?name=waited", `{"Image":"alpine:3.20","Cmd":["true"]}`)
	if code != http.StatusCreated {
		t.Fatalf("create: %d %s", code, body)
	}
	var cr struct{ Id string }
	_ = json.Unmarshal([]byte(body), &cr)
	done := make(chan string, 1)
	go func() {
		_, out := do(a, "POST", "/containers/waited/wait?condition=next-exit", "")
		done <- out
	}()
	// Start once the wait has subscribed to something.
	for {
		store.mu.Lock()
		n := len(store.watched)
		store.mu.Unlock()
		if n > 0 {
			break
		}
		time.Sleep(time.Millisecond)
	}
	if code, body := do(a, "POST", "/containers/waited/start", ""); code != http.StatusNoContent {
		t.Fatalf("start: %d %s", code, body)
	}
	if out := <-done; out == "" {
		t.Fatal("wait answered nothing")
	}
	store.mu.Lock()
	defer store.mu.Unlock()
	if !store.watched[records.KindContainer+"/"+cr.Id] {
		t.Fatalf("the wait watched %v, not container %s", store.watched, cr.Id)
	}
}
