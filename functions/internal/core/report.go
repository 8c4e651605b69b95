package core

import (
	"context"
	"time"

	"github.com/sockerless/sockerless/internal/errdefs"
	"github.com/sockerless/sockerless/providers"
)

// reporter is the providers.Reporter in-process providers get: their
// workloads call it as a cloud workload's agent posts its reports, and it
// retries as the agent does (agent.HTTPReporter) until the store holds the
// report, so an exit is not lost to a store that failed once. It gives up
// on an answer retrying cannot change (a 4xx class) or when the API is
// closed.
type reporter struct{ a *Backend }

// The wrapper must pass on every optional report the API implements.
var _ providers.OOMReporter = reporter{}

// retryReport runs report until it succeeds, with backoff from 50 ms to
// 5 s.
func (a *Backend) retryReport(ctx context.Context, what, id string, report func(context.Context) error) error {
	delay := 50 * time.Millisecond
	for attempt := 1; ; attempt++ {
		err := report(ctx)
		if err == nil || errdefs.HTTPStatus(err) < 500 {
			return err
		}
		a.log.Warn("report not recorded, retrying", "what", what, "id", id, "attempt", attempt, "err", err)
		select {
		case <-ctx.Done():
			return err
		case <-a.closed:
			return err
		case <-time.After(delay):
		}
		delay = min(2*delay, 5*time.Second)
	}
}
func (r reporter) Exited(ctx context.Context, id string, code int, at time.Time) error {
	return r.a.retryReport(ctx, "exit", id, func(ctx context.Context) error { return r.a.Exited(ctx, id, code, at) })
}

func (r reporter) ExecExited(ctx context.Context, id string, code int, at time.Time) error {
	return r.a.retryReport(ctx, "exec exit", id, func(ctx context.Context) error { return r.a.ExecExited(ctx, id, code, at) })
}

// OOMKilled passes an in-process provider's OOM kill on, retried like an
// exit: without it the wrapper would hide [API.OOMKilled] from the
// provider's providers.OOMReporter check and the kill would be lost.
func (r reporter) OOMKilled(ctx context.Context, id string, at time.Time) error {
	return r.a.retryReport(ctx, "oom", id, func(ctx context.Context) error { return r.a.OOMKilled(ctx, id, at) })
}

func (r reporter) Health(ctx context.Context, id string, res providers.HealthResult) error {
	return r.a.Health(ctx, id, res)
}
