package localshim_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sockerless/sockerless/internal/controlapi"
)

// TestRemovalWaitEndsWhenStartRefused: `docker run --rm` waits for the
// container's removal before it reports a failed start. When functions
// refuses the start for want of its store (503), it cannot remove the
// container either, and the wait's polls are refused too (which a wait
// rides out): the shim ends the removal wait with an error naming the
// start's failure. A wait for another condition keeps waiting and gets
// the real answer once the store is back.
func TestRemovalWaitEndsWhenStartRefused(t *testing.T) {
	for _, tc := range []struct {
		condition string
		wantErr   bool
	}{
		{"removed", true},
		{"not-running", false},
	} {
		t.Run(tc.condition, func(t *testing.T) {
			var startRefused atomic.Bool
			f := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				switch {
				case strings.HasSuffix(r.URL.Path, "/containers/c1/start"):
					startRefused.Store(true)
					w.Header().Set("Content-Type", "application/json")
					w.WriteHeader(http.StatusServiceUnavailable)
					_, _ = io.WriteString(w, `{"message":"state store unreachable: connection refused"}`)
				case strings.HasSuffix(r.URL.Path, "/containers/c1/wait") && r.Header.Get(controlapi.HeaderCursor) == "":
					w.Header().Set("Content-Type", "application/json")
					w.Header().Set(controlapi.HeaderContinue, "cur")
					w.WriteHeader(http.StatusOK)
				case strings.HasSuffix(r.URL.Path, "/containers/c1/wait") && !startRefused.Load():
					w.Header().Set("Content-Type", "application/json")
					w.Header().Set(controlapi.HeaderContinue, "cur")
					w.Header().Set(controlapi.HeaderBackoff, "100")
					w.WriteHeader(http.StatusOK)
				case strings.HasSuffix(r.URL.Path, "/containers/c1/wait") && tc.condition == "removed":
					w.WriteHeader(http.StatusServiceUnavailable)
					_, _ = io.WriteString(w, `{"message":"state store unreachable"}`)
				case strings.HasSuffix(r.URL.Path, "/containers/c1/wait"):
					// The store is back for a wait that outlives the start.
					_, _ = io.WriteString(w, `{"StatusCode":0}`+"\n")
				default:
					http.NotFound(w, r)
				}
			})
			fh := httptest.NewServer(f)
			defer fh.Close()
			shim := startShim(t, http.DefaultTransport, fh.URL)
			client := &http.Client{Timeout: 30 * time.Second} // a hang guard
			resp, err := client.Post(shim+"/v1.50/containers/c1/wait?condition="+tc.condition, "", nil)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("wait: %s", resp.Status)
			}
			sr, err := client.Post(shim+"/v1.50/containers/c1/start", "", nil)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(sr.Body)
			sr.Body.Close()
			if sr.StatusCode != http.StatusServiceUnavailable || !strings.Contains(string(body), "state store unreachable") {
				t.Fatalf("start: %d %s, want functions' 503 passed on", sr.StatusCode, body)
			}
			var got struct {
				StatusCode int
				Error      *struct{ Message string }
			}
			if err := json.NewDecoder(resp.Body).Decode(&got); err != nil {
				t.Fatalf("wait body: %v", err)
			}
			if tc.wantErr {
				if got.Error == nil || !strings.Contains(got.Error.Message, "could not be removed") || !strings.Contains(got.Error.Message, "state store unreachable: connection refused") {
					t.Fatalf("removal wait = %+v, want an error naming the refused start", got)
				}
				return
			}
			if got.Error != nil || got.StatusCode != 0 {
				t.Fatalf("%s wait = %+v, want the real answer", tc.condition, got)
			}
		})
	}
}
