package agent

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/sockerless/sockerless/providers"
)

// ExitReport is the body an agent posts to functions' agent exit endpoint
// (functions.AgentReport on the other side).
type ExitReport struct {
	ExecID   string    `json:"execId,omitempty"`
	ExitCode int       `json:"exitCode"`
	At       time.Time `json:"at"`
	// OOMKilled says the container's memory cgroup killed a process for
	// its limit while the main process ran (see OOMKills).
	OOMKilled bool `json:"oomKilled,omitempty"`
}

// HTTPReporter reports a workload's exits and health results to the
// control plane over HTTP with the container's agent token, retrying with
// backoff until acknowledged. It implements providers.Reporter for one
// container.
type HTTPReporter struct {
	// BaseURL is the functions endpoint.
	BaseURL string
	// Container is the container this agent belongs to.
	Container string
	// Token is the container's agent token.
	Token string
	// Client defaults to an http.Client with a 30 s timeout.
	Client *http.Client
	// MaxBackoff caps the delay between attempts (default 10 s).
	MaxBackoff time.Duration
	// OnRetry, when set, is told about each failed attempt.
	OnRetry func(attempt int, err error)
}

// Exited reports the main process's exit.
func (r *HTTPReporter) Exited(ctx context.Context, id string, code int, at time.Time) error {
	return r.post(ctx, "exit", ExitReport{ExitCode: code, At: at})
}

// ExitedOOM reports the main process's exit with whether it was killed
// for passing the container's memory limit.
func (r *HTTPReporter) ExitedOOM(ctx context.Context, code int, oomKilled bool, at time.Time) error {
	return r.post(ctx, "exit", ExitReport{ExitCode: code, At: at, OOMKilled: oomKilled})
}

// ExecExited reports an exec's exit.
func (r *HTTPReporter) ExecExited(ctx context.Context, execID string, code int, at time.Time) error {
	return r.post(ctx, "exit", ExitReport{ExecID: execID, ExitCode: code, At: at})
}

// Health reports one health-check result.
func (r *HTTPReporter) Health(ctx context.Context, id string, res providers.HealthResult) error {
	return r.post(ctx, "health", res)
}

var _ providers.Reporter = (*HTTPReporter)(nil)

// permanent is an answer retrying cannot change.
type permanent struct{ error }

func (r *HTTPReporter) post(ctx context.Context, what string, body any) error {
	b, err := json.Marshal(body)
	if err != nil {
		return err
	}
	u := strings.TrimSuffix(r.BaseURL, "/") + "/_sockerless/agent/" + url.PathEscape(r.Container) + "/" + what
	client := r.Client
	if client == nil {
		client = &http.Client{Timeout: 30 * time.Second}
	}
	maxBackoff := r.MaxBackoff
	if maxBackoff <= 0 {
		maxBackoff = 10 * time.Second
	}
	delay := 100 * time.Millisecond
	for attempt := 1; ; attempt++ {
		err := r.once(ctx, client, u, b)
		if err == nil {
			return nil
		}
		if p, ok := err.(permanent); ok {
			return fmt.Errorf("report %s for %s: %w", what, r.Container, p.error)
		}
		if r.OnRetry != nil {
			r.OnRetry(attempt, err)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("report %s for %s: gave up after %d attempts: %w", what, r.Container, attempt, err)
		case <-time.After(delay):
		}
		delay = min(delay*2, maxBackoff)
	}
}

func (r *HTTPReporter) once(ctx context.Context, client *http.Client, u string, body []byte) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, bytes.NewReader(body))
	if err != nil {
		return permanent{err}
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+r.Token)
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	msg, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	switch {
	case resp.StatusCode < 300:
		return nil
	case resp.StatusCode == http.StatusRequestTimeout || resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode >= 500:
		return fmt.Errorf("%s: %s", resp.Status, bytes.TrimSpace(msg))
	default:
		return permanent{fmt.Errorf("%s: %s", resp.Status, bytes.TrimSpace(msg))}
	}
}
