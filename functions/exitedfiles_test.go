package functions

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/sockerless/sockerless/internal/controlapi"
	"github.com/sockerless/sockerless/providers"
	"github.com/sockerless/sockerless/providers/synthetic"
	"github.com/sockerless/sockerless/relay"
	"github.com/sockerless/sockerless/relay/ticket"
	"github.com/sockerless/sockerless/statestore/memory"
)

// holdingProvider is a relay provider (no Archiver) whose workloads serve
// their files for hold after their exit (providers.ExitedFiles).
type holdingProvider struct {
	providers.Provider
	hold time.Duration
}

func (p holdingProvider) ExitedFilesFor() time.Duration { return p.hold }

// TestArchiveOfExitedContainer: docker cp out of an exited container of a
// provider whose workloads keep their files is ticketed to the relay name
// of the exited container's files while they are kept, and answered 501
// with the reason after; a copy into it stays 501 (the shim stages it for
// the next start, which runs a new workload).
func TestArchiveOfExitedContainer(t *testing.T) {
	secret := []byte("test-secret")
	for _, tc := range []struct {
		name   string
		hold   time.Duration
		method string
		want   int
	}{
		{"read while kept", time.Hour, http.MethodGet, 200},
		{"read once gone", time.Nanosecond, http.MethodGet, 501},
		{"not kept at all", 0, http.MethodGet, 501},
		{"write", time.Hour, http.MethodPut, 501},
	} {
		t.Run(tc.name, func(t *testing.T) {
			hub := relay.NewHub(secret)
			a, err := New(context.Background(), Config{
				Store: memory.New(), Secret: secret, RelayURL: "inproc:", Dialer: hub, PullTimeout: time.Second,
				NewProvider: func(r providers.Reporter) (providers.Provider, error) {
					return holdingProvider{bareProvider{synthetic.New(synthetic.Options{Hub: hub, Reporter: r, RunTime: time.Millisecond})}, tc.hold}, nil
				},
			})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(a.Close)
			if code, body := do(a, "POST", "/images/create?fromImage=alpine&tag=3.20", ""); code != 200 {
				t.Fatalf("pull: %d %s", code, body)
			}
			if code, body := do(a, "POST", "/containers/create?name=c1", `{"Image":"alpine:3.20","Cmd":["true"]}`); code != 201 {
				t.Fatalf("create: %d %s", code, body)
			}
			if code, body := do(a, "POST", "/containers/c1/start", ""); code != 204 {
				t.Fatalf("start: %d %s", code, body)
			}
			if code, body := do(a, "POST", "/containers/c1/wait", ""); code != 200 {
				t.Fatalf("wait: %d %s", code, body)
			}
			_, inspect := do(a, "GET", "/containers/c1/json", "")
			var c struct{ ID string }
			if err := json.Unmarshal([]byte(inspect), &c); err != nil {
				t.Fatal(err)
			}
			rec := httptest.NewRecorder()
			req := httptest.NewRequest(tc.method, "/containers/c1/archive?path=/etc/hostname", strings.NewReader(""))
			req.Header.Set(controlapi.HeaderShim, "1")
			a.ServeHTTP(rec, req)
			if rec.Code != tc.want {
				t.Fatalf("%s archive: %d %s, want %d", tc.method, rec.Code, rec.Body, tc.want)
			}
			if tc.want != 200 {
				if !strings.Contains(rec.Body.String(), "is not supported by the") {
					t.Errorf("%s archive: %s, want the reason", tc.method, rec.Body)
				}
				return
			}
			var st controlapi.StreamTicket
			if err := json.NewDecoder(rec.Body).Decode(&st); err != nil {
				t.Fatal(err)
			}
			g, err := ticket.Verify(secret, st.Token, time.Now())
			if err != nil || g.Container != ticket.ExitedContainer(c.ID) || g.Kind != ticket.KindArchive || g.Archive == nil || g.Archive.Path != "/etc/hostname" {
				t.Errorf("ticket grant = %+v, %v; want an archive of /etc/hostname for %s", g, err, ticket.ExitedContainer(c.ID))
			}
		})
	}
}
