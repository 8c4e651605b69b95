// Package ticket signs and verifies the short-lived grants that let a shim
// open a stream to one container's agent, and derives the per-container
// tokens agents present to the relay. Both are HMAC-SHA256 over a deployment
// secret, so the relay verifies them without a state lookup.
package ticket

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Session kinds.
const (
	KindExec   = "exec"
	KindAttach = "attach"
	// KindArchive is a docker cp operation carried out by the agent in the
	// workload's filesystem: the tar body travels on the stream, never
	// through functions (see Archive).
	KindArchive = "archive"
	// KindCarry carries a bind whose source is on the runner host to or
	// from the workload (see Carry and internal/treesync).
	KindCarry = "carry"
	// KindTunnel carries one TCP connection to a port inside the
	// workload: the agent dials it there (see Tunnel).
	KindTunnel = "tunnel"
	// KindWatch lets a shim subscribe to notices that a container changed
	// (relay.Watcher); it opens no session.
	KindWatch = "watch"
)

// Tunnel is what a tunnel grant allows: one TCP connection to Port on the
// workload's loopback.
type Tunnel struct {
	Port int `json:"port"`
}

// Carry directions.
const (
	CarryPush = "push" // host to workload: the agent sends its manifest, applies the shim's delta
	CarryPull = "pull" // workload to host: the shim sends its manifest, the agent sends a delta
)

// Carry is what a carry grant allows: one direction for one directory of
// the container (a carried bind's destination).
type Carry struct {
	Op  string `json:"op"`
	Dir string `json:"dir"`
}

// Archive operations.
const (
	ArchiveStat = "stat" // HEAD /containers/{id}/archive
	ArchiveGet  = "get"  // GET: the agent streams a tar of the path
	ArchivePut  = "put"  // PUT: the shim streams a tar to extract at the path
)

// Archive is what an archive grant allows: one operation on one path
// inside the container.
type Archive struct {
	Op   string `json:"op"`
	Path string `json:"path"`
	// NoOverwriteDirNonDir is docker cp's flag of the same name (put).
	NoOverwriteDirNonDir bool `json:"nodn,omitempty"`
}

// Process is the process spec an exec grant carries to the agent.
type Process struct {
	Cmd        []string `json:"cmd"`
	Env        []string `json:"env,omitempty"`
	WorkingDir string   `json:"workdir,omitempty"`
	User       string   `json:"user,omitempty"`
	Tty        bool     `json:"tty,omitempty"`
	Stdin      bool     `json:"stdin,omitempty"`
	Stdout     bool     `json:"stdout,omitempty"`
	Stderr     bool     `json:"stderr,omitempty"`
	// Detached marks a detached exec (`docker exec -d`): its output is
	// discarded and the session only starts it. The agent sends Ready once
	// the process is handed over, then runs it to the end and reports its
	// exit itself, whether or not the session is still open.
	Detached bool `json:"detached,omitempty"`
}

// Grant is what a ticket allows: one session of one kind on one container.
type Grant struct {
	Container string `json:"c"`
	Session   string `json:"s"`
	Kind      string `json:"k"`
	// ExecID names the exec record for exec sessions.
	ExecID string `json:"e,omitempty"`
	// Process is the exec's spec; nil for attach.
	Process *Process `json:"p,omitempty"`
	// Archive is the archive session's operation; nil for other kinds.
	Archive *Archive `json:"a,omitempty"`
	// Carry is the carry session's direction and directory; nil for
	// other kinds.
	Carry *Carry `json:"y,omitempty"`
	// Tunnel is the tunnel session's port; nil for other kinds.
	Tunnel *Tunnel `json:"u,omitempty"`
	// Attach options: which streams and whether to replay logs.
	Stdin  bool `json:"i,omitempty"`
	Stdout bool `json:"o,omitempty"`
	Stderr bool `json:"r,omitempty"`
	Tty    bool `json:"t,omitempty"`
	// Issued is when functions issued the ticket, in Unix nanoseconds. An
	// attach session that reaches the workload after the main process
	// started (or even ended) replays the output of any run that started
	// after this moment: the client attached before starting it, so
	// Docker would have delivered all of it.
	Issued int64 `json:"n,omitempty"`
	// Expires is when the ticket stops being valid, in Unix seconds.
	Expires int64 `json:"x"`
}

// Errors returned by Verify. Callers count them by kind.
var (
	ErrMalformed = errors.New("ticket: malformed")
	ErrSignature = errors.New("ticket: bad signature")
	ErrExpired   = errors.New("ticket: expired")
)

var enc = base64.RawURLEncoding

// Sign returns the ticket for g signed with secret.
func Sign(secret []byte, g Grant) (string, error) {
	body, err := json.Marshal(g)
	if err != nil {
		return "", err
	}
	b := enc.EncodeToString(body)
	return b + "." + enc.EncodeToString(mac(secret, "ticket", b)), nil
}

// Verify checks a ticket's signature and expiry at now and returns its grant.
func Verify(secret []byte, token string, now time.Time) (Grant, error) {
	b, sig, ok := strings.Cut(token, ".")
	if !ok || b == "" || sig == "" {
		return Grant{}, ErrMalformed
	}
	got, err := enc.DecodeString(sig)
	if err != nil {
		return Grant{}, ErrMalformed
	}
	if !hmac.Equal(got, mac(secret, "ticket", b)) {
		return Grant{}, ErrSignature
	}
	body, err := enc.DecodeString(b)
	if err != nil {
		return Grant{}, ErrMalformed
	}
	var g Grant
	if err := json.Unmarshal(body, &g); err != nil || g.Container == "" || g.Session == "" {
		return Grant{}, ErrMalformed
	}
	if now.Unix() >= g.Expires {
		return Grant{}, fmt.Errorf("%w at %s", ErrExpired, time.Unix(g.Expires, 0).UTC().Format(time.RFC3339))
	}
	return g, nil
}

// AgentToken returns the token the agent of container presents. It is
// derived from the secret, so it can be checked without a lookup and is
// useless for any other container.
func AgentToken(secret []byte, container string) string {
	return enc.EncodeToString(mac(secret, "agent", container))
}

// ExitedContainer is the relay name under which a workload's agent goes
// on serving the container's files after its main process exited (docker
// cp from an exited container), apart from the container's own name: the
// next run's agent (docker start) registers under that one and must get
// the next run's sessions.
func ExitedContainer(container string) string { return container + "~exited" }

// VerifyAgentToken reports whether token is container's agent token, in
// constant time.
func VerifyAgentToken(secret []byte, container, token string) bool {
	got, err := enc.DecodeString(token)
	return err == nil && hmac.Equal(got, mac(secret, "agent", container))
}

func mac(secret []byte, purpose, msg string) []byte {
	h := hmac.New(sha256.New, secret)
	h.Write([]byte(purpose))
	h.Write([]byte{0})
	h.Write([]byte(msg))
	return h.Sum(nil)
}
