package agent

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func TestHTTPReporterRetriesUntilAcknowledged(t *testing.T) {
	tests := []struct {
		name     string
		failures int // answered 503 (or a dropped connection) before success
		final    int
		wantErr  bool
		calls    int32
	}{
		{"acknowledged at once", 0, http.StatusNoContent, false, 1},
		{"retried through outages", 3, http.StatusNoContent, false, 4},
		{"refused token is final", 0, http.StatusUnauthorized, true, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var calls atomic.Int32
			var got ExitReport
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				n := calls.Add(1)
				if r.URL.Path != "/_sockerless/agent/C1/exit" || r.Header.Get("Authorization") != "Bearer tok" {
					t.Errorf("request %s with auth %q", r.URL.Path, r.Header.Get("Authorization"))
				}
				if int(n) <= tt.failures {
					if n%2 == 0 {
						hj, _, _ := w.(http.Hijacker).Hijack()
						hj.Close() // a dropped connection
						return
					}
					w.WriteHeader(http.StatusServiceUnavailable)
					return
				}
				json.NewDecoder(r.Body).Decode(&got)
				w.WriteHeader(tt.final)
			}))
			defer srv.Close()
			r := &HTTPReporter{BaseURL: srv.URL, Container: "C1", Token: "tok", MaxBackoff: 20 * time.Millisecond}
			err := r.ExecExited(t.Context(), "E1", 42, time.Unix(1, 0))
			if (err != nil) != tt.wantErr {
				t.Fatalf("ExecExited() error = %v, wantErr %v", err, tt.wantErr)
			}
			if calls.Load() != tt.calls {
				t.Errorf("calls = %d, want %d", calls.Load(), tt.calls)
			}
			if !tt.wantErr && (got.ExecID != "E1" || got.ExitCode != 42) {
				t.Errorf("report = %+v", got)
			}
		})
	}
}

// The wire shape must match functions.AgentReport's JSON.
func TestExitReportShape(t *testing.T) {
	b, _ := json.Marshal(ExitReport{ExecID: "e", ExitCode: 3, At: time.Unix(0, 0).UTC()})
	for _, k := range []string{`"execId":"e"`, `"exitCode":3`, `"at":"1970-01-01T00:00:00Z"`} {
		if !strings.Contains(string(b), k) {
			t.Errorf("%s lacks %s", b, k)
		}
	}
}
