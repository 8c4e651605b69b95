package localshim

import (
	"encoding/json"
	"net/http"
	"sync"

	"github.com/moby/moby/api/types/container"
)

// removalWaits lets a client's wait for a container's removal end when
// the container's start was refused because functions could not reach
// its store (503). Docker removes an auto-remove container whose start
// failed, and `docker run --rm` waits for that removal before it reports
// the start's error; a start functions could not record cannot be
// followed by that removal either, so without this the CLI would wait
// for a removal that never comes (its wait rides out store outages).
type removalWaits struct {
	mu      sync.Mutex
	waiters map[string]map[chan string]struct{} // container ref -> waiters
}

// add registers a removal wait of container ref; the channel receives
// the start's error message. The returned func unregisters it.
func (rw *removalWaits) add(ref string) (<-chan string, func()) {
	ch := make(chan string, 1)
	rw.mu.Lock()
	defer rw.mu.Unlock()
	if rw.waiters == nil {
		rw.waiters = map[string]map[chan string]struct{}{}
	}
	if rw.waiters[ref] == nil {
		rw.waiters[ref] = map[chan string]struct{}{}
	}
	rw.waiters[ref][ch] = struct{}{}
	return ch, func() {
		rw.mu.Lock()
		defer rw.mu.Unlock()
		delete(rw.waiters[ref], ch)
		if len(rw.waiters[ref]) == 0 {
			delete(rw.waiters, ref)
		}
	}
}

// end tells the removal waits of container ref that its start failed
// with msg.
func (rw *removalWaits) end(ref, msg string) {
	rw.mu.Lock()
	defer rw.mu.Unlock()
	for ch := range rw.waiters[ref] {
		select {
		case ch <- msg:
		default:
		}
	}
}

// removalWaitEnd is the body that ends a removal wait whose container's
// start was refused: an error, since the container was not removed.
func removalWaitEnd(msg string) []byte {
	b, _ := json.Marshal(container.WaitResponse{
		StatusCode: 128,
		Error:      &container.WaitExitError{Message: "the container's start failed and it could not be removed: " + msg},
	})
	return append(b, '\n')
}

// startWatcher records the status and error message of a start's answer
// so the shim can end the container's removal waits after a 503.
type startWatcher struct {
	http.ResponseWriter
	status int
	body   []byte
}

func (sw *startWatcher) WriteHeader(code int) {
	if sw.status == 0 {
		sw.status = code
	}
	sw.ResponseWriter.WriteHeader(code)
}

func (sw *startWatcher) Write(p []byte) (int, error) {
	if sw.status == 0 {
		sw.status = http.StatusOK
	}
	if sw.status == http.StatusServiceUnavailable && len(sw.body) < 64<<10 {
		sw.body = append(sw.body, p...)
	}
	return sw.ResponseWriter.Write(p)
}

// Unwrap lets http.ResponseController reach the connection's writer.
func (sw *startWatcher) Unwrap() http.ResponseWriter { return sw.ResponseWriter }

// serveStart forwards a start (through serve) and, when it was refused
// with 503, ends the container's removal waits with its message.
func (s *Shim) serveStart(w http.ResponseWriter, r *http.Request, ref string, serve func(http.ResponseWriter, *http.Request)) {
	sw := &startWatcher{ResponseWriter: w}
	serve(sw, r)
	if sw.status != http.StatusServiceUnavailable {
		return
	}
	var m struct{ Message string }
	if json.Unmarshal(sw.body, &m) != nil || m.Message == "" {
		m.Message = http.StatusText(sw.status)
	}
	s.removalWaits.end(ref, m.Message)
}
