package server

import (
	"fmt"
	"io"
	"sort"
	"sync"
	"sync/atomic"
)

// Rejection reasons counted in sockerless_relay_rejected_total.
const (
	ReasonForged         = "forged"
	ReasonExpired        = "expired"
	ReasonMalformed      = "malformed"
	ReasonReplayed       = "replayed"
	ReasonCrossContainer = "cross_container"
	ReasonAgentToken     = "agent_token"
	ReasonNoAgent        = "no_agent"
	ReasonDraining       = "draining"
)

// Metrics are the relay's counters, exposed in the Prometheus text format
// on /metrics. Safe for concurrent use.
type Metrics struct {
	agents        atomic.Int64
	sessionsOpen  atomic.Int64
	sessionsTotal atomic.Int64
	bytesToAgent  atomic.Int64
	bytesToShim   atomic.Int64
	forwarded     atomic.Int64
	rawLegs       atomic.Int64

	mu       sync.Mutex
	rejected map[string]int64
}

func newMetrics() *Metrics { return &Metrics{rejected: map[string]int64{}} }

func (m *Metrics) reject(reason string) {
	m.mu.Lock()
	m.rejected[reason]++
	m.mu.Unlock()
}

// Rejected returns how many requests were refused for reason.
func (m *Metrics) Rejected(reason string) int64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.rejected[reason]
}

// AgentsConnected is the number of live agent control connections.
func (m *Metrics) AgentsConnected() int64 { return m.agents.Load() }

// SessionsOpen is the number of paired sessions currently open.
func (m *Metrics) SessionsOpen() int64 { return m.sessionsOpen.Load() }

// Bytes returns the bytes forwarded to agents and to shims.
func (m *Metrics) Bytes() (toAgent, toShim int64) {
	return m.bytesToAgent.Load(), m.bytesToShim.Load()
}

// Forwarded is the number of requests handed to another relay instance
// (cluster.go).
func (m *Metrics) Forwarded() int64 { return m.forwarded.Load() }

// RawLegs is the number of session legs opened as raw streams
// (wsclient.RawProtocol) rather than WebSockets.
func (m *Metrics) RawLegs() int64 { return m.rawLegs.Load() }

// WriteText writes the metrics in the Prometheus text exposition format.
func (m *Metrics) WriteText(w io.Writer) error {
	m.mu.Lock()
	reasons := make([]string, 0, len(m.rejected))
	for r := range m.rejected {
		reasons = append(reasons, r)
	}
	sort.Strings(reasons)
	rej := make([]int64, len(reasons))
	for i, r := range reasons {
		rej[i] = m.rejected[r]
	}
	m.mu.Unlock()
	_, err := fmt.Fprintf(w, `# HELP sockerless_relay_agents_connected Agents with a live control connection.
# TYPE sockerless_relay_agents_connected gauge
sockerless_relay_agents_connected %d
# HELP sockerless_relay_sessions_open Paired sessions currently open.
# TYPE sockerless_relay_sessions_open gauge
sockerless_relay_sessions_open %d
# HELP sockerless_relay_sessions_total Sessions paired since start.
# TYPE sockerless_relay_sessions_total counter
sockerless_relay_sessions_total %d
# HELP sockerless_relay_bytes_total Bytes forwarded, by direction.
# TYPE sockerless_relay_bytes_total counter
sockerless_relay_bytes_total{direction="to_agent"} %d
sockerless_relay_bytes_total{direction="to_shim"} %d
# HELP sockerless_relay_raw_legs_total Session legs opened as raw streams rather than WebSockets.
# TYPE sockerless_relay_raw_legs_total counter
sockerless_relay_raw_legs_total %d
# HELP sockerless_relay_forwarded_total Requests handed to the relay instance holding their agent, session or blob.
# TYPE sockerless_relay_forwarded_total counter
sockerless_relay_forwarded_total %d
# HELP sockerless_relay_rejected_total Refused tickets, tokens and streams, by reason.
# TYPE sockerless_relay_rejected_total counter
`, m.agents.Load(), m.sessionsOpen.Load(), m.sessionsTotal.Load(), m.bytesToAgent.Load(), m.bytesToShim.Load(), m.rawLegs.Load(), m.forwarded.Load())
	if err != nil {
		return err
	}
	for i, r := range reasons {
		if _, err := fmt.Fprintf(w, "sockerless_relay_rejected_total{reason=%q} %d\n", r, rej[i]); err != nil {
			return err
		}
	}
	return nil
}
