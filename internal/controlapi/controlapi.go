// Package controlapi is the private contract between the shim and the
// functions tier, on top of the Docker Engine API they both speak:
//
//   - Stream tickets. A request for a hijacked stream (attach, exec start)
//     that carries HeaderShim is validated by functions, which answers 200
//     with a StreamTicket instead of upgrading. The shim then answers the
//     client with 101 and dials the relay.
//   - Bounded polls. A long wait (wait, logs?follow, events, stats?stream)
//     that carries HeaderPoll is answered within the poll window. An answer
//     that is not final carries HeaderContinue with a cursor; the shim
//     repeats the request with that cursor in HeaderCursor and copies each
//     answer's body to its one client connection.
package controlapi

import "github.com/sockerless/sockerless/relay/direct"

// Headers of the shim ⇄ functions contract.
const (
	// HeaderIdempotencyKey names one client request across the shim's
	// retries (and a platform's): functions creates one container and
	// starts one workload per key, however often the request arrives.
	HeaderIdempotencyKey = "X-Sockerless-Idempotency-Key"
	// HeaderAttempt numbers the shim's attempts at one request from 1, so
	// functions looks for an earlier attempt's work only on a retry.
	HeaderAttempt = "X-Sockerless-Attempt"
	// HeaderShim marks a request as coming from a shim that can hold
	// hijacked connections.
	HeaderShim = "X-Sockerless-Shim"
	// HeaderPoll asks for a bounded answer; its value is the longest wait
	// in milliseconds ("0" means answer at once, e.g. to validate).
	HeaderPoll = "X-Sockerless-Poll"
	// HeaderCursor carries the cursor of the previous answer.
	HeaderCursor = "X-Sockerless-Cursor"
	// HeaderContinue on an answer means it is not final; its value is the
	// cursor to send next.
	HeaderContinue = "X-Sockerless-Continue"
	// HeaderArchiveTicket is set by a shim on docker cp requests (HEAD,
	// GET and PUT /containers/{id}/archive), which it sends without a
	// body, its value the operation ("stat", "get", "put"); a stat is
	// sent as GET, since an answer to HEAD has no body. Functions answers
	// a StreamTicket of kind "archive" (the shim then carries the tar to
	// the workload's agent over the relay, so archive bodies never pass
	// through functions), or serves the request itself; to a "put" it
	// then answers 204 with this header set to ArchiveDirect, after which
	// the shim sends the upload to functions as it is.
	HeaderArchiveTicket = "X-Sockerless-Archive-Ticket"
	// HeaderBlobTicket is set (to "1") by a shim on requests whose body
	// may be larger than a serverless platform accepts (POST /images/load,
	// POST /build), which it first sends without a body. Functions checks
	// what it can without the body and answers a BlobTicket (content type
	// MediaBlobTicket): the shim uploads the body to the relay's blob
	// store with it, then sends the request again, without a body, naming
	// the blob in HeaderBlob. Where bodies may pass (embedded mode)
	// functions answers 204 with this header set to BlobDirect instead,
	// and the shim sends the request as it is.
	HeaderBlobTicket = "X-Sockerless-Blob-Ticket"
	// HeaderBlob names the uploaded blob that stands for a request's
	// body; the request itself carries none. Functions fetches the blob,
	// once, from the relay with a download ticket it signs itself.
	HeaderBlob = "X-Sockerless-Blob"
	// HeaderRequestID carries the request id the shim assigns and
	// functions echoes and logs.
	HeaderRequestID = "X-Request-Id"
	// HeaderBackoff on an answer saying HeaderContinue means functions
	// answered at once, without waiting (its store cannot tell it about
	// changes, and waiting inside a function costs as much as polling):
	// the shim waits before the next poll, on its back-off schedule or
	// until a notice (HeaderWatch) says the record changed, whichever
	// comes first. Without it the shim polls again at once (functions
	// waited, or has more output ready).
	HeaderBackoff = "X-Sockerless-Backoff"
	// HeaderPollAfter on an answer saying HeaderContinue is how long (ms)
	// the shim waits before the next poll of output that comes at its own
	// pace (stats: one sample a second), when functions answers at once.
	HeaderPollAfter = "X-Sockerless-Poll-After"
	// HeaderWatch on a long wait's answer is the relay's URL, a space and
	// a signed, container-bound watch ticket: with it the shim subscribes at the relay to notices
	// that the container changed (its exit, its removal), which functions
	// sends after writing them, so a wait wakes on the change itself and
	// confirms it with one poll.
	HeaderWatch = "X-Sockerless-Watch"
)

// PathExecUnstarted is where a shim reports (POST, with HeaderShim) that
// the stream of exec {id} never reached the container's agent, so the
// exec never ran: functions records it as ended with ExitUnstarted, and
// `docker exec` and `docker exec inspect` see a failure, never Running
// forever or a 0.
const PathExecUnstarted = "/exec/{id}/unstarted"

// ExitUnstarted is the exit code of an exec that never ran, Docker's code
// for a command that could not be invoked.
const ExitUnstarted = 126

// StreamTicket is functions' answer to a hijack request from a shim.
type StreamTicket struct {
	// RelayURL is where to dial; "inproc:" for the embedded relay.
	RelayURL string `json:"relayUrl"`
	// Token is the signed grant for the relay.
	Token string `json:"token"`
	// Tty says which content type to answer the client with: raw for TTY,
	// multiplexed otherwise.
	Tty bool `json:"tty"`
	// Kind is "exec", "attach" or "archive".
	Kind string `json:"kind"`
	// ID is the exec or container id the session belongs to.
	ID string `json:"id"`
	// WaitReady tells the shim to answer the client's upgrade only once
	// the workload sent its Ready frame (see providers.EarlyAttacher).
	WaitReady bool `json:"waitReady,omitempty"`
}

// PeerTicket is functions' answer to an agent's request for a connection
// to a peer's port: the relay ticket, and where the peer's agent takes
// direct connections, an offer of one (tried first, the relay when it
// fails).
type PeerTicket struct {
	StreamTicket
	Direct *direct.Offer `json:"direct,omitempty"`
}

// ArchiveDirect is HeaderArchiveTicket's value when the provider serves
// archives itself.
const ArchiveDirect = "direct"

// BlobDirect is HeaderBlobTicket's value when the body may be sent to
// functions as it is.
const BlobDirect = "direct"

// BlobTicket is functions' answer to a request carrying HeaderBlobTicket:
// where and with what to upload the body.
type BlobTicket struct {
	// RelayURL is the relay's base URL (ws://, wss://, http:// or
	// https://); the blob endpoint is its HTTP equivalent.
	RelayURL string `json:"relayUrl"`
	// Token is the signed upload grant for the relay.
	Token string `json:"token"`
	// ID is the blob to upload, and to name in HeaderBlob afterwards.
	ID string `json:"id"`
	// Max is the largest body the ticket allows, in bytes.
	Max int64 `json:"max"`
}

// MediaBlobTicket is the content type of a BlobTicket answer.
const MediaBlobTicket = "application/vnd.sockerless.blob-ticket+json"

// Docker's stream content types.
const (
	MediaRawStream         = "application/vnd.docker.raw-stream"
	MediaMultiplexedStream = "application/vnd.docker.multiplexed-stream"
)

// MediaTicket is the content type of a StreamTicket answer, so a shim
// tells a ticket from an ordinary 200 (a detached exec start).
const MediaTicket = "application/vnd.sockerless.stream-ticket+json"
