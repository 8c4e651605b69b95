package localshim

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"io"
	"net/http"
	"regexp"
	"strconv"
	"time"

	"github.com/sockerless/sockerless/internal/controlapi"
)

// Retries: the shim repeats a request to functions only when repeating
// cannot do the work twice — reads, bounded polls, pulls (which converge
// on the same image), and the two requests functions deduplicates by
// idempotency key (container create and start) — and only
// when the first attempt's answer was lost on the way (a transport error
// or a gateway's 502/504). Anything else reaches the client as it came.
const maxAttempts = 3

var (
	createPath = regexp.MustCompile(`^/(containers|images)/create$`)
	startPath  = regexp.MustCompile(`^/containers/[^/]+/start$`)
)

// retrySafe reports whether request r (path p, without the version) may
// be sent again after its answer was lost.
func retrySafe(r *http.Request, p string) bool {
	switch r.Method {
	case http.MethodGet, http.MethodHead:
		return true
	case http.MethodPost:
		return createPath.MatchString(p) || startPath.MatchString(p) || waitPath.MatchString(p) || p == "/_ping"
	}
	return false
}

// tag gives a client request the id and, when it changes state, the
// idempotency key that every attempt and poll made for it carries.
func tag(r *http.Request) {
	if id := r.Header.Get(controlapi.HeaderRequestID); id == "" || len(id) > 128 {
		r.Header.Set(controlapi.HeaderRequestID, randomHex(16))
	}
	r.Header.Del(controlapi.HeaderAttempt)
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		r.Header.Set(controlapi.HeaderIdempotencyKey, randomHex(16))
	} else {
		r.Header.Del(controlapi.HeaderIdempotencyKey)
	}
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// lost reports whether an attempt's answer never arrived from functions
// itself: the connection failed, or a front answered for it that the
// function did not answer in time.
func lost(resp *http.Response, err error) bool {
	if err != nil {
		return !errors.Is(err, context.Canceled)
	}
	return resp.StatusCode == http.StatusBadGateway || resp.StatusCode == http.StatusGatewayTimeout
}

// do sends a request built by build (called once per attempt with the
// body to send) and retries lost answers when safe. body is the client's
// request body, read up to the JSON limit so it can be sent again.
func (s *Shim) do(ctx context.Context, safe bool, body io.Reader, build func(body io.Reader) (*http.Request, error)) (*http.Response, error) {
	var payload []byte
	if safe && body != nil && body != http.NoBody {
		b, err := io.ReadAll(io.LimitReader(body, maxBufferedBody+1))
		if err != nil {
			return nil, err
		}
		if len(b) > maxBufferedBody {
			// Too large to keep for a retry: send it once, streaming.
			safe, body = false, io.MultiReader(bytes.NewReader(b), body)
		} else {
			payload = b
		}
	}
	delay := 100 * time.Millisecond
	for attempt := 1; ; attempt++ {
		send := body
		if payload != nil {
			send = bytes.NewReader(payload)
		}
		out, err := build(send)
		if err != nil {
			return nil, err
		}
		if payload != nil {
			out.ContentLength = int64(len(payload))
		}
		out.Header.Set(controlapi.HeaderAttempt, strconv.Itoa(attempt))
		resp, err := s.client.Do(out)
		if !safe || attempt >= maxAttempts || !lost(resp, err) {
			return resp, err
		}
		if resp != nil {
			resp.Body.Close()
		}
		s.log.Warn("answer from functions lost; retrying", "request_id", out.Header.Get(controlapi.HeaderRequestID),
			"method", out.Method, "path", out.URL.Path, "attempt", attempt, "err", err)
		select {
		case <-time.After(delay):
		case <-ctx.Done():
			return nil, ctx.Err()
		}
		delay *= 3
	}
}
