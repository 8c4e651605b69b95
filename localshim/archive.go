package localshim

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strings"
	"time"

	"github.com/sockerless/sockerless/internal/controlapi"
	"github.com/sockerless/sockerless/internal/errdefs"
	"github.com/sockerless/sockerless/relay/frame"
	"github.com/sockerless/sockerless/relay/ticket"
)

var (
	// archivePath matches an archive request's path without its version;
	// its group is the container as the path names it.
	archivePath = regexp.MustCompile(`^/containers/([^/]+)/archive$`)
	// archiveContainer finds the container as an archive request's
	// path (versioned or not) names it.
	archiveContainer = regexp.MustCompile(`/containers/([^/]+)/archive$`)
)

// isArchive reports whether r is a docker cp request (HEAD, GET or PUT
// /containers/{id}/archive), p being its path without the version.
func isArchive(r *http.Request, p string) bool {
	switch r.Method {
	case http.MethodHead, http.MethodGet, http.MethodPut:
		return archivePath.MatchString(p)
	}
	return false
}

// archiveDialTimeout bounds reaching a running workload's agent for an
// archive session.
const archiveDialTimeout = time.Minute

// serveArchive asks functions how an archive request is served, without
// sending it any body. An archive ticket means the workload's agent does
// it: the shim carries the tar over the relay (the upload as Stdin frames,
// the download as Stdout frames), so archive bodies never pass through
// functions. Any other answer is passed through, except the answer to a
// PUT's question, ArchiveDirect, after which the upload goes to functions.
func (s *Shim) serveArchive(w http.ResponseWriter, r *http.Request) {
	if m := archivePath.FindStringSubmatch(versionPrefix.ReplaceAllString(r.URL.Path, "")); m != nil && s.serveArchiveCarried(w, r, m[1]) {
		return
	}
	out, err := s.outgoing(r.Context(), r, http.NoBody)
	if err != nil {
		s.fail(w, err)
		return
	}
	out.ContentLength = 0
	out.Header.Del("Content-Type")
	out.Header.Set(controlapi.HeaderShim, "1")
	op := map[string]string{http.MethodHead: ticket.ArchiveStat, http.MethodGet: ticket.ArchiveGet, http.MethodPut: ticket.ArchivePut}[r.Method]
	out.Header.Set(controlapi.HeaderArchiveTicket, op)
	if r.Method == http.MethodHead {
		out.Method = http.MethodGet // a ticket must come back in a body
	}
	resp, err := s.client.Do(out)
	if err != nil {
		s.fail(w, err)
		return
	}
	defer resp.Body.Close()
	if r.Method == http.MethodPut && resp.StatusCode == http.StatusNoContent && resp.Header.Get(controlapi.HeaderArchiveTicket) == controlapi.ArchiveDirect {
		s.forward(w, r)
		return
	}
	if r.Method == http.MethodPut && resp.StatusCode == http.StatusNotImplemented && s.stagePut(w, r) {
		return
	}
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), controlapi.MediaTicket) {
		copyHeader(w.Header(), resp.Header)
		w.WriteHeader(resp.StatusCode)
		if r.Method != http.MethodHead {
			copyFlushing(w, resp.Body)
		}
		return
	}
	var t controlapi.StreamTicket
	if err := json.NewDecoder(resp.Body).Decode(&t); err != nil {
		writeError(w, fmt.Errorf("invalid archive ticket from functions: %w", err), http.StatusBadGateway)
		return
	}
	dctx, cancel := context.WithTimeout(r.Context(), archiveDialTimeout)
	remote, err := s.opts.Dialer.Dial(dctx, t.RelayURL, t.Token)
	cancel()
	if err != nil {
		writeError(w, errdefs.Unavailable(fmt.Errorf("cannot reach the container's agent: %w", err)), 0)
		return
	}
	defer remote.Close()
	se := &session{conn: remote}
	if r.Method == http.MethodPut {
		go func() {
			buf := make([]byte, 256<<10)
			for {
				n, err := r.Body.Read(buf)
				if n > 0 && se.send(frame.Stdin, buf[:n]) != nil {
					return
				}
				if err != nil {
					_ = se.send(frame.CloseStdin, nil)
					return
				}
			}
		}()
	} else {
		_ = se.send(frame.CloseStdin, nil)
	}
	res, err := readResult(remote)
	if err != nil {
		writeError(w, errdefs.Unavailable(fmt.Errorf("the container's agent did not answer the archive request: %w", err)), 0)
		return
	}
	if res.Status == http.StatusNotFound && strings.HasPrefix(res.Message, "Could not find the file ") {
		// The agent knows neither name: Docker words a missing path
		// with the path and the container as the request names them.
		res.Message = fmt.Sprintf("Could not find the file %s in container %s", r.URL.Query().Get("path"), archiveContainer.FindStringSubmatch(r.URL.Path)[1])
	}
	if res.Status != http.StatusOK {
		writeError(w, errors.New(res.Message), res.Status)
		return
	}
	if len(res.Stat) > 0 {
		w.Header().Set("X-Docker-Container-Path-Stat", base64.StdEncoding.EncodeToString(res.Stat))
	}
	if r.Method != http.MethodGet {
		w.WriteHeader(http.StatusOK)
		return
	}
	w.Header().Set("Content-Type", "application/x-tar")
	w.WriteHeader(http.StatusOK)
	rc := http.NewResponseController(w)
	for {
		f, err := frame.Read(remote)
		if err != nil || f.Type == frame.Error {
			// The tar is cut short: abort the response so the client
			// sees a failed transfer, not a truncated archive.
			panic(http.ErrAbortHandler)
		}
		switch f.Type {
		case frame.Stdout:
			if _, err := w.Write(f.Payload); err != nil {
				return
			}
			_ = rc.Flush()
		case frame.Exit:
			return
		}
	}
}

// readResult reads an archive session's frames up to its Result; an Error
// frame before it is the session's failure.
func readResult(remote io.Reader) (frame.Result, error) {
	for {
		f, err := frame.Read(remote)
		if err != nil {
			return frame.Result{}, err
		}
		switch f.Type {
		case frame.ResultType:
			var res frame.Result
			if err := json.Unmarshal(f.Payload, &res); err != nil {
				return res, fmt.Errorf("bad result frame: %w", err)
			}
			if res.Status == 0 {
				res.Status = http.StatusInternalServerError
			}
			return res, nil
		case frame.Error:
			return frame.Result{}, errors.New(string(f.Payload))
		case frame.Exit:
			return frame.Result{}, errors.New("session ended without a result")
		}
	}
}

// streamLost ends a client's hijacked stream whose relay connection broke
// before the session's Exit frame (the relay restarted, the network
// failed). Without a TTY it sends Docker's system-error frame (stream 3),
// which the docker CLI reports as "error from daemon in stream" with a
// failing exit status, rather than a clean end of stream that would read
// as success; with a TTY, where there is no framing, the message is
// written to the terminal.
func (s *Shim) streamLost(c io.Writer, tty bool, err error) {
	msg := fmt.Sprintf("sockerless: lost the stream to the container's agent: %v\n", err)
	s.log.Warn("stream lost", "err", err)
	stream := byte(3)
	if tty {
		stream = 1
	}
	_ = writeDocker(c, tty, stream, []byte(msg))
	if cw, ok := c.(interface{ CloseWrite() error }); ok {
		_ = cw.CloseWrite()
	}
}
