// Package lambdafront is test infrastructure that stands in for AWS in
// front of a sockerless-functions binary running as a Lambda function: a
// Runtime API (the documented /2018-06-01/runtime/invocation/next,
// /response and /error endpoints the aws-lambda-go runtime polls) and a
// Function-URL-shaped HTTP front that verifies SigV4 as a Function URL
// with AWS_IAM auth does, turns each request into a Function URL event,
// queues it as one invocation and turns the function's response back
// into HTTP. Like Lambda, the function instance gets one invocation at a
// time.
//
// It is not a provider or a deployment target: only tests use it.
package lambdafront

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/sockerless/sockerless/internal/controlauth"
)

// Invocation is one completed invocation, for tests to inspect.
type Invocation struct {
	Method, Path string
	Status       int
	Start, End   time.Time
	// Dropped is set when the front discarded the response (DropFirst).
	Dropped bool
}

// Options configures a Front.
type Options struct {
	// Verifier checks each request before it is invoked (as AWS_IAM auth
	// does); nil accepts everything.
	Verifier *controlauth.SigV4Verifier
	// AccountID is put in the event's IAM authorizer context.
	AccountID string
	// Timeout is the function's timeout (default 30 s).
	Timeout time.Duration
	// DropFirst discards the response of the first invocation of every
	// request (by X-Request-Id) and answers 502, as a lost answer would
	// look to the shim.
	DropFirst bool
	// Freeze and Thaw, when set, are called as Lambda freezes and thaws an
	// execution environment: Freeze once the function has answered and no
	// invocation is waiting for it, Thaw before an invocation is handed
	// to it. A test sends the function process SIGSTOP and SIGCONT, so
	// nothing it left running after answering runs until the next
	// invocation.
	Freeze, Thaw func()
}

// Front is the Runtime API and the Function URL front.
type Front struct {
	opts    Options
	queue   chan *call
	mu      sync.Mutex
	pending map[string]*call
	seen    map[string]bool
	log     []Invocation
	seq     atomic.Int64

	frz    sync.Mutex // orders Freeze and Thaw with active
	active int        // invocations queued or running
}

type call struct {
	id    string
	event []byte
	inv   Invocation
	done  chan []byte // the function's response payload; nil on error
}

// New returns a Front.
func New(opts Options) *Front {
	if opts.Timeout <= 0 {
		opts.Timeout = 30 * time.Second
	}
	return &Front{opts: opts, queue: make(chan *call), pending: map[string]*call{}, seen: map[string]bool{}}
}

// Invocations returns the invocations completed so far.
func (f *Front) Invocations() []Invocation {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]Invocation(nil), f.log...)
}

// RuntimeAPI serves the Lambda Runtime API the function polls; its
// host:port is the function's AWS_LAMBDA_RUNTIME_API.
func (f *Front) RuntimeAPI() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /2018-06-01/runtime/invocation/next", func(w http.ResponseWriter, r *http.Request) {
		select {
		case c := <-f.queue:
			deadline := time.Now().Add(f.opts.Timeout)
			w.Header().Set("Lambda-Runtime-Aws-Request-Id", c.id)
			w.Header().Set("Lambda-Runtime-Deadline-Ms", strconv.FormatInt(deadline.UnixMilli(), 10))
			w.Header().Set("Lambda-Runtime-Invoked-Function-Arn", "arn:aws:lambda:us-east-1:"+f.opts.AccountID+":function:sockerless")
			w.Header().Set("Lambda-Runtime-Trace-Id", "Root=1-00000000-000000000000000000000000")
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write(c.event)
		case <-r.Context().Done():
		}
	})
	mux.HandleFunc("POST /2018-06-01/runtime/invocation/{id}/response", func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		f.finish(r.PathValue("id"), body)
		w.WriteHeader(http.StatusAccepted)
	})
	mux.HandleFunc("POST /2018-06-01/runtime/invocation/{id}/error", func(w http.ResponseWriter, r *http.Request) {
		f.finish(r.PathValue("id"), nil)
		w.WriteHeader(http.StatusAccepted)
	})
	mux.HandleFunc("POST /2018-06-01/runtime/init/error", func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusAccepted)
	})
	return mux
}

func (f *Front) finish(id string, payload []byte) {
	f.mu.Lock()
	c, ok := f.pending[id]
	delete(f.pending, id)
	f.mu.Unlock()
	if ok {
		c.done <- payload
	}
}

// ServeHTTP is the Function URL: one request, one invocation.
func (f *Front) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.serve(w, r, f.opts.Verifier)
}

// NoAuthURL is a second Function URL of the same function with auth NONE,
// as the deployment gives agents (an alias's URL: agents authenticate with
// their own per-container tokens, which the function checks itself).
func (f *Front) NoAuthURL() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { f.serve(w, r, nil) })
}

func (f *Front) serve(w http.ResponseWriter, r *http.Request, verifier *controlauth.SigV4Verifier) {
	if verifier != nil {
		if err := verifier.Verify(r); err != nil {
			writeError(w, http.StatusForbidden, err.Error())
			return
		}
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, 6<<20+1))
	if err != nil || len(body) > 6<<20 {
		writeError(w, http.StatusRequestEntityTooLarge, "request body too large for Lambda")
		return
	}
	ev := events.LambdaFunctionURLRequest{
		Version:         "2.0",
		RawPath:         r.URL.Path,
		RawQueryString:  r.URL.RawQuery,
		Headers:         map[string]string{},
		Body:            base64.StdEncoding.EncodeToString(body),
		IsBase64Encoded: true,
	}
	for k, vs := range r.Header {
		ev.Headers[strings.ToLower(k)] = strings.Join(vs, ",")
	}
	ev.RequestContext.HTTP.Method = r.Method
	ev.RequestContext.HTTP.Path = r.URL.Path
	ev.RequestContext.HTTP.Protocol = "HTTP/1.1"
	ev.RequestContext.HTTP.SourceIP = "127.0.0.1"
	ev.RequestContext.RequestID = fmt.Sprintf("inv-%d", f.seq.Add(1))
	ev.RequestContext.AccountID = f.opts.AccountID
	if verifier != nil {
		ev.RequestContext.Authorizer = &events.LambdaFunctionURLRequestContextAuthorizerDescription{
			IAM: &events.LambdaFunctionURLRequestContextAuthorizerIAMDescription{
				AccessKey: accessKey(r), AccountID: f.opts.AccountID, CallerID: "AIDATEST", UserARN: "arn:aws:iam::" + f.opts.AccountID + ":user/runner", UserID: "AIDATEST",
			},
		}
	}
	payload, _ := json.Marshal(ev)
	c := &call{id: ev.RequestContext.RequestID, event: payload, done: make(chan []byte, 1),
		inv: Invocation{Method: r.Method, Path: r.URL.Path}}
	f.mu.Lock()
	f.pending[c.id] = c
	f.mu.Unlock()
	ctx, cancel := context.WithTimeout(r.Context(), f.opts.Timeout+5*time.Second)
	defer cancel()
	f.frz.Lock()
	f.active++
	if f.opts.Thaw != nil {
		f.opts.Thaw()
	}
	f.frz.Unlock()
	defer func() {
		f.frz.Lock()
		f.active--
		if f.active == 0 && f.opts.Freeze != nil {
			f.opts.Freeze()
		}
		f.frz.Unlock()
	}()
	select {
	case f.queue <- c:
	case <-ctx.Done():
		writeError(w, http.StatusGatewayTimeout, "no function instance took the invocation")
		return
	}
	c.inv.Start = time.Now()
	var out []byte
	select {
	case out = <-c.done:
	case <-ctx.Done():
	}
	c.inv.End = time.Now()
	var resp events.LambdaFunctionURLResponse
	if out == nil || json.Unmarshal(out, &resp) != nil {
		f.record(c.inv)
		writeError(w, http.StatusBadGateway, "the function failed or timed out")
		return
	}
	c.inv.Status = resp.StatusCode
	if f.opts.DropFirst {
		key := r.Header.Get("X-Request-Id")
		f.mu.Lock()
		first := !f.seen[key]
		f.seen[key] = true
		f.mu.Unlock()
		if first {
			c.inv.Dropped = true
			f.record(c.inv)
			writeError(w, http.StatusBadGateway, "response dropped by the test front")
			return
		}
	}
	f.record(c.inv)
	for k, v := range resp.Headers {
		w.Header().Set(k, v)
	}
	respBody := []byte(resp.Body)
	if resp.IsBase64Encoded {
		if respBody, err = base64.StdEncoding.DecodeString(resp.Body); err != nil {
			writeError(w, http.StatusBadGateway, "bad base64 body from the function")
			return
		}
	}
	w.Header().Set("Content-Length", strconv.Itoa(len(respBody)))
	w.WriteHeader(resp.StatusCode)
	_, _ = io.Copy(w, bytes.NewReader(respBody))
}

func (f *Front) record(inv Invocation) {
	f.mu.Lock()
	f.log = append(f.log, inv)
	f.mu.Unlock()
}

func accessKey(r *http.Request) string {
	_, rest, _ := strings.Cut(r.Header.Get("Authorization"), "Credential=")
	id, _, _ := strings.Cut(rest, "/")
	return id
}

func writeError(w http.ResponseWriter, status int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]string{"message": msg})
}
