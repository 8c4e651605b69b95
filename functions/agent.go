package functions

import (
	"context"
	"net/http"
	"strings"
	"time"

	"github.com/sockerless/sockerless/functions/httpx"
	"github.com/sockerless/sockerless/internal/errdefs"
	"github.com/sockerless/sockerless/providers"
	"github.com/sockerless/sockerless/relay/ticket"
)

// agentPathPrefix is where agents in cloud workloads report to functions.
// These routes authenticate with the per-container agent token, not the
// shim's bearer token, and act only on the token's container.
const AgentPathPrefix = "/_sockerless/agent/"

// AgentReport is the body of an agent's exit report.
type AgentReport struct {
	// ExecID is set for an exec's exit, empty for the main process.
	ExecID   string    `json:"execId,omitempty"`
	ExitCode int       `json:"exitCode"`
	At       time.Time `json:"at"`
	// OOMKilled says the process was killed for passing the container's
	// memory limit (the agent saw its cgroup's OOM-kill count rise): the
	// record gets State.OOMKilled and an `oom` event before the `die`.
	// Agents that predate it leave it out.
	OOMKilled bool `json:"oomKilled,omitempty"`
}

func (a *API) agentRoutes(rt *httpx.Router) {
	rt.Handle("POST", AgentPathPrefix+"{id}/exit", a.postAgentExit)
	rt.Handle("POST", AgentPathPrefix+"{id}/health", a.postAgentHealth)
	rt.Handle("POST", AgentPathPrefix+"{id}/peer", a.postAgentPeer)
	rt.Handle("GET", AgentPathPrefix+"{id}/peers", a.getAgentPeers)
	rt.Handle("POST", AgentPathPrefix+"{id}/ports", a.postAgentPorts)
	rt.Handle("POST", SweepPath, a.postSweep)
}

func (a *API) agentAuth(r *http.Request) (string, error) {
	id := r.PathValue("id")
	tok := strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ticket.VerifyAgentToken(a.cfg.Secret, id, tok) {
		return "", errdefs.Unauthorized(errAgentToken)
	}
	return id, nil
}

var errAgentToken = errdefs.InvalidParameterf("invalid agent token for this container")

func (a *API) postAgentExit(w http.ResponseWriter, r *http.Request) error {
	id, err := a.agentAuth(r)
	if err != nil {
		return err
	}
	var rep AgentReport
	if err := httpx.DecodeJSON(r, &rep, false); err != nil {
		return err
	}
	if rep.At.IsZero() {
		rep.At = a.st.Now()
	}
	// The report's consequences (an auto-remove that stops this very
	// agent) must complete even when the reporting connection drops.
	ctx := context.WithoutCancel(r.Context())
	if rep.ExecID != "" {
		e, err := a.st.Exec(ctx, rep.ExecID)
		if err != nil {
			return err
		}
		if e.ContainerID != id {
			return errdefs.Forbidden(errAgentToken)
		}
		err = a.ExecExited(ctx, rep.ExecID, rep.ExitCode, rep.At)
		if err != nil {
			return err
		}
	} else {
		if rep.OOMKilled {
			if err := a.OOMKilled(ctx, id, rep.At); err != nil {
				return err
			}
		}
		if err := a.Exited(ctx, id, rep.ExitCode, rep.At); err != nil {
			return err
		}
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// reporter is the providers.Reporter in-process providers get: their
// workloads call it as a cloud workload's agent posts its reports, and it
// retries as the agent does (agent.HTTPReporter) until the store holds the
// report, so an exit is not lost to a store that failed once. It gives up
// on an answer retrying cannot change (a 4xx class) or when the API is
// closed.
type reporter struct{ a *API }

// The wrapper must pass on every optional report the API implements.
var _ providers.OOMReporter = reporter{}

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

// retryReport runs report until it succeeds, with backoff from 50 ms to
// 5 s.
func (a *API) retryReport(ctx context.Context, what, id string, report func(context.Context) error) error {
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

func (a *API) postAgentHealth(w http.ResponseWriter, r *http.Request) error {
	id, err := a.agentAuth(r)
	if err != nil {
		return err
	}
	var res providers.HealthResult
	if err := httpx.DecodeJSON(r, &res, false); err != nil {
		return err
	}
	if err := a.Health(r.Context(), id, res); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
