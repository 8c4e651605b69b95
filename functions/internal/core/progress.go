package core

import (
	"encoding/json"
	"net/http"

	"github.com/moby/moby/api/types/jsonstream"
)

// Progress writes Docker's JSON progress stream (pull, load, build): one
// jsonstream.Message per line, each flushed as it is sent. It is not safe
// for concurrent use.
type Progress struct {
	w   http.ResponseWriter
	enc *json.Encoder
}

// NewProgress answers 200 with a JSON progress stream on w.
func NewProgress(w http.ResponseWriter) *Progress {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	return &Progress{w: w, enc: json.NewEncoder(w)}
}

// Send writes m and flushes it to the client.
func (p *Progress) Send(m jsonstream.Message) { p.send(m) }

// failure is a failed stream's message: jsonstream.Message carries the
// error in errorDetail, and dockerd repeats it in the deprecated
// top-level "error", which clients such as docker-py still read.
type failure struct {
	jsonstream.Message
	Error string `json:"error,omitempty"`
}

// Fail writes the stream's error, msg with code (0: none), as dockerd
// does, and flushes it.
func (p *Progress) Fail(msg string, code int) {
	p.send(failure{Message: jsonstream.Message{Error: &jsonstream.Error{Code: code, Message: msg}}, Error: msg})
}

func (p *Progress) send(m any) {
	_ = p.enc.Encode(m)
	_ = http.NewResponseController(p.w).Flush()
}
