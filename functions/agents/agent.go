package agents

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

// AgentPathPrefix is where agents in cloud workloads report to functions.
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

func (a *Router) agentAuth(r *http.Request) (string, error) {
	id := r.PathValue("id")
	tok := strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ticket.VerifyAgentToken(a.cfg.Secret, id, tok) {
		return "", errdefs.Unauthorized(errAgentToken)
	}
	return id, nil
}

var errAgentToken = errdefs.InvalidParameterf("invalid agent token for this container")

func (a *Router) postAgentExit(w http.ResponseWriter, r *http.Request) error {
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
		err = a.b.ExecExited(ctx, rep.ExecID, rep.ExitCode, rep.At)
		if err != nil {
			return err
		}
	} else {
		if rep.OOMKilled {
			if err := a.b.OOMKilled(ctx, id, rep.At); err != nil {
				return err
			}
		}
		if err := a.b.Exited(ctx, id, rep.ExitCode, rep.At); err != nil {
			return err
		}
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (a *Router) postAgentHealth(w http.ResponseWriter, r *http.Request) error {
	id, err := a.agentAuth(r)
	if err != nil {
		return err
	}
	var res providers.HealthResult
	if err := httpx.DecodeJSON(r, &res, false); err != nil {
		return err
	}
	if err := a.b.Health(r.Context(), id, res); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
