package agent

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sockerless/sockerless/providers"
)

type results struct {
	mu  sync.Mutex
	got []providers.HealthResult
}

func (r *results) add(res providers.HealthResult) {
	r.mu.Lock()
	r.got = append(r.got, res)
	r.mu.Unlock()
}

func (r *results) wait(t *testing.T, n int) []providers.HealthResult {
	t.Helper()
	deadline := time.Now().Add(time.Minute) // a hang guard
	for time.Now().Before(deadline) {
		r.mu.Lock()
		if len(r.got) >= n {
			out := append([]providers.HealthResult(nil), r.got...)
			r.mu.Unlock()
			return out
		}
		r.mu.Unlock()
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("fewer than %d health results", n)
	return nil
}

func TestHealthchecks(t *testing.T) {
	tests := []struct {
		name     string
		test     []string
		timeout  time.Duration
		wantCode int
		wantOut  string
	}{
		// Timeouts other than the timeout case's are hang guards only.
		{"cmd-shell ok", []string{"CMD-SHELL", "echo fine"}, time.Minute, 0, "fine\n"},
		{"cmd fails", []string{"CMD", "sh", "-c", "echo bad >&2; exit 3"}, time.Minute, 3, "bad\n"},
		{"timeout", []string{"CMD", "sleep", "10"}, 100 * time.Millisecond, -1, "Health check exceeded timeout (100ms)"},
		{"not found", []string{"CMD", "no-such-probe"}, time.Minute, 127, "executable file not found"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			var r results
			hp := HealthProbe{Healthcheck: providers.Healthcheck{Test: tt.test, Interval: 20 * time.Millisecond, Timeout: tt.timeout}}
			go RunHealthchecks(ctx, hp, r.add)
			res := r.wait(t, 1)[0]
			if res.ExitCode != tt.wantCode || !strings.Contains(res.Output, tt.wantOut) || res.End.Before(res.Start) {
				t.Errorf("result = %+v, want code %d output %q", res, tt.wantCode, tt.wantOut)
			}
		})
	}
}

// TestHealthStartPeriod: failures of probes that began inside the start
// period are not reported (even when they end after it: this failed
// under load while the decision was taken at the probe's end); successes
// are, and failures after it are.
func TestHealthStartPeriod(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	dir := t.TempDir()
	var r results
	hp := HealthProbe{Healthcheck: providers.Healthcheck{Test: []string{"CMD-SHELL", "test -f " + dir + "/ok"}, Interval: 50 * time.Millisecond, StartPeriod: 400 * time.Millisecond, StartInterval: 20 * time.Millisecond}}
	start := time.Now()
	go RunHealthchecks(ctx, hp, r.add)
	first := r.wait(t, 1)[0]
	if first.ExitCode == 0 || first.Start.Sub(start) < 400*time.Millisecond {
		t.Errorf("first reported result %+v at %s: a failure inside the start period was reported", first, first.Start.Sub(start))
	}
	if HealthArgv([]string{"NONE"}) != nil || HealthArgv(nil) != nil {
		t.Error("NONE or empty test must mean no probe")
	}
}
