package agent

import (
	"context"
	"fmt"
	"time"

	"github.com/sockerless/sockerless/providers"
	"github.com/sockerless/sockerless/relay/ticket"
)

// Docker's health-check defaults.
const (
	DefaultHealthInterval = 30 * time.Second
	DefaultHealthTimeout  = 30 * time.Second
	// DefaultHealthStartInterval is the probe interval during the start
	// period.
	DefaultHealthStartInterval = 5 * time.Second
	// HealthOutputLimit is how much of a probe's output is kept (4 KiB).
	HealthOutputLimit = 4096
)

// HealthProbe is a container's health check as the agent runs it.
type HealthProbe struct {
	// Healthcheck's StartInterval is the probe interval during
	// StartPeriod (default DefaultHealthStartInterval, never longer than
	// Interval).
	providers.Healthcheck
	// Env, WorkingDir and User are the container's: probes run as the
	// main process would.
	Env        []string
	WorkingDir string
	User       string
}

// HealthArgv turns a healthcheck test into a command line: ["CMD", args...]
// runs args, ["CMD-SHELL", cmd] runs cmd with /bin/sh -c. Anything else
// ("NONE", empty) means no probe.
func HealthArgv(test []string) []string {
	switch {
	case len(test) > 1 && test[0] == "CMD":
		return test[1:]
	case len(test) > 1 && test[0] == "CMD-SHELL":
		return []string{"/bin/sh", "-c", test[1]}
	}
	return nil
}

// RunHealthchecks probes hp as Docker does until ctx ends: each probe
// one interval after the previous (StartInterval during the start
// period), bounded by the timeout, which counts as exit code -1 with
// Docker's message. Each result goes to report, except failures during
// the start period, which Docker does not count; the control plane turns
// results into starting → healthy / unhealthy using the retries.
func RunHealthchecks(ctx context.Context, hp HealthProbe, report func(providers.HealthResult)) {
	argv := HealthArgv(hp.Test)
	if argv == nil {
		return
	}
	interval, timeout := hp.Interval, hp.Timeout
	if interval <= 0 {
		interval = DefaultHealthInterval
	}
	if timeout <= 0 {
		timeout = DefaultHealthTimeout
	}
	startInterval := hp.StartInterval
	if startInterval <= 0 {
		startInterval = DefaultHealthStartInterval
	}
	startInterval = min(startInterval, interval)
	started := time.Now()
	// As Docker does, a probe is inside the start period when it began
	// there, however long it ran.
	inStart := func(t time.Time) bool { return hp.StartPeriod > 0 && t.Sub(started) < hp.StartPeriod }
	for {
		wait := interval
		if inStart(time.Now()) {
			wait = startInterval
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
		res := probe(ctx, hp, argv, timeout)
		if ctx.Err() != nil {
			return
		}
		if res.ExitCode != 0 && inStart(res.Start) {
			continue
		}
		report(res)
	}
}

func probe(ctx context.Context, hp HealthProbe, argv []string, timeout time.Duration) providers.HealthResult {
	pctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var out limitedBuffer
	start := time.Now()
	code, err := RunProcess(pctx, ticket.Process{Cmd: argv, Env: hp.Env, WorkingDir: hp.WorkingDir, User: hp.User}, Stdio{Stdout: &out, Stderr: &out})
	if pctx.Err() != nil && ctx.Err() == nil {
		// Docker's message, then what the probe wrote before it ran out
		// of time.
		code = -1
		msg := fmt.Sprintf("Health check exceeded timeout (%v)", timeout)
		if o := out.String(); o != "" {
			msg += ": " + o
		}
		out = limitedBuffer{}
		out.WriteString(msg)
	} else if err != nil {
		code = 1
		out.WriteString(err.Error())
	}
	return providers.HealthResult{Start: start, End: time.Now(), ExitCode: code, Output: out.String()}
}

// limitedBuffer keeps the first HealthOutputLimit bytes written to it.
// A probe passes the same *limitedBuffer as stdout and stderr, so os/exec
// writes it from one goroutine.
type limitedBuffer struct {
	b []byte
}

func (l *limitedBuffer) Write(p []byte) (int, error) {
	if room := HealthOutputLimit - len(l.b); room > 0 {
		l.b = append(l.b, p[:min(room, len(p))]...)
	}
	return len(p), nil
}

func (l *limitedBuffer) WriteString(s string) { _, _ = l.Write([]byte(s)) }

func (l *limitedBuffer) String() string { return string(l.b) }
