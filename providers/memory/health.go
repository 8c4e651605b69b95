package memory

import (
	"context"
	"fmt"
	"time"

	"github.com/sockerless/sockerless/providers"
	"github.com/sockerless/sockerless/providers/memory/sandbox"
)

// Docker's health-check defaults (moby daemon/health.go).
const (
	defaultHealthInterval      = 30 * time.Second
	defaultHealthTimeout       = 30 * time.Second
	defaultHealthStartInterval = 5 * time.Second
)

// healthInterval is how long to wait before the next probe, as moby's
// monitor decides it: StartInterval while inside the start period and no
// probe has passed yet, Interval otherwise.
func healthInterval(hc providers.Healthcheck, sinceStart time.Duration, passed bool) time.Duration {
	if !passed && sinceStart < hc.StartPeriod {
		if hc.StartInterval > 0 {
			return hc.StartInterval
		}
		return defaultHealthStartInterval
	}
	if hc.Interval > 0 {
		return hc.Interval
	}
	return defaultHealthInterval
}

// runProbe runs one probe bounded by the timeout. A probe that runs out
// of time exits -1 with Docker's message followed by what it wrote
// ("Health check exceeded timeout (50ms): <output>").
func (w *workload) runProbe(argv []string, hc providers.Healthcheck) providers.HealthResult {
	timeout := hc.Timeout
	if timeout <= 0 {
		timeout = defaultHealthTimeout
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	var out limitedBuffer
	start := time.Now()
	code, err := w.ctr.Run(ctx, sandbox.Process{Argv: argv, Env: w.spec.Env, Dir: w.spec.WorkingDir, Stdout: &out, Stderr: &out})
	if ctx.Err() != nil {
		msg := fmt.Sprintf("Health check exceeded timeout (%v)", timeout)
		if o := out.String(); o != "" {
			msg += ": " + o
		}
		return providers.HealthResult{Start: start, End: time.Now(), ExitCode: -1, Output: msg}
	}
	if err != nil {
		code = 1
		out.WriteString(err.Error())
	}
	return providers.HealthResult{Start: start, End: time.Now(), ExitCode: code, Output: out.String()}
}
