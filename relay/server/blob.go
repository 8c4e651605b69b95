package server

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sockerless/sockerless/relay/ticket"
)

// Blob refusal reasons, counted in sockerless_relay_rejected_total with
// the ticket reasons (forged, expired, malformed, replayed, draining).
const (
	ReasonCrossBlob   = "cross_blob"   // a ticket for another blob, operation or purpose
	ReasonTooLarge    = "too_large"    // an upload over its ticket's or the relay's bound
	ReasonStorageFull = "storage_full" // the relay holds MaxTotal bytes of blobs already
	ReasonUnknownBlob = "unknown_blob" // no such blob (never uploaded, fetched already, expired)
)

// BlobOptions configures the relay's blob store: request bodies larger
// than a serverless platform accepts (docker load, build contexts) are
// uploaded here by the shim and fetched, once, by functions.
type BlobOptions struct {
	// Dir is where a temporary directory for blobs is made (default the
	// system's temporary directory). It is removed by Close.
	Dir string
	// MaxBlob bounds one blob in bytes (default 8 GiB); a ticket may
	// bound it further.
	MaxBlob int64
	// MaxTotal bounds the bytes of all blobs held at once (default
	// 32 GiB).
	MaxTotal int64
	// TTL is how long an uploaded blob waits to be fetched before it is
	// deleted (default 10 min).
	TTL time.Duration
}

var blobID = regexp.MustCompile(`^[A-Za-z0-9_-]{1,128}$`)

type blobEntry struct {
	path    string
	purpose string
	size    int64
	ready   bool      // uploaded whole; until then it cannot be fetched
	done    time.Time // when the upload finished
}

// blobStore holds blobs on disk. Every blob is fetched at most once: the
// fetch removes it. An upload ticket can be used once: the blob id stays
// refused until the ticket has expired.
type blobStore struct {
	opts BlobOptions
	now  func() time.Time

	mu     sync.Mutex
	dir    string
	closed bool
	blobs  map[string]*blobEntry
	used   map[string]int64 // blob id -> put ticket expiry (Unix s)
	held   int64            // bytes on disk

	uploaded, fetched, expired, failed atomic.Int64
	bytesIn, bytesOut                  atomic.Int64
	stop                               chan struct{}
}

func newBlobStore(o BlobOptions, now func() time.Time) *blobStore {
	if o.MaxBlob <= 0 {
		o.MaxBlob = 8 << 30
	}
	if o.MaxTotal <= 0 {
		o.MaxTotal = 32 << 30
	}
	if o.TTL <= 0 {
		o.TTL = 10 * time.Minute
	}
	b := &blobStore{opts: o, now: now, blobs: map[string]*blobEntry{}, used: map[string]int64{}, stop: make(chan struct{})}
	go b.janitor()
	return b
}

// blobRoutes installs the blob endpoints on mux.
func (s *Server) blobRoutes(mux *http.ServeMux) {
	s.blobs = newBlobStore(s.opts.Blobs, s.opts.Now)
	mux.HandleFunc("PUT "+ticket.BlobPath+"{id}", s.putBlob)
	mux.HandleFunc("GET "+ticket.BlobPath+"{id}", s.getBlob)
}

// janitor deletes blobs left unfetched past the TTL.
func (b *blobStore) janitor() {
	t := time.NewTicker(min(max(b.opts.TTL/2, time.Second), time.Minute))
	defer t.Stop()
	for {
		select {
		case <-b.stop:
			return
		case <-t.C:
			b.mu.Lock()
			b.sweepLocked()
			b.mu.Unlock()
		}
	}
}

// sweepLocked deletes expired blobs and forgets spent upload tickets.
func (b *blobStore) sweepLocked() {
	now := b.now()
	for id, e := range b.blobs {
		if e.ready && now.Sub(e.done) > b.opts.TTL {
			b.dropLocked(id, e)
			b.expired.Add(1)
		}
	}
	for id, exp := range b.used {
		if now.Unix() > exp+1 {
			delete(b.used, id)
		}
	}
}

func (b *blobStore) dropLocked(id string, e *blobEntry) {
	delete(b.blobs, id)
	_ = os.Remove(e.path)
	b.held -= e.size
}

// close stops the janitor and deletes every blob.
func (b *blobStore) close() {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return
	}
	b.closed = true
	close(b.stop)
	if b.dir != "" {
		_ = os.RemoveAll(b.dir)
	}
	b.blobs = map[string]*blobEntry{}
	b.held = 0
}

// blobError answers a Docker-shaped error ({"message": ...}) and counts
// the refusal when reason is set.
func (s *Server) blobError(w http.ResponseWriter, r *http.Request, code int, reason, msg string) {
	if reason != "" {
		s.metrics.reject(reason)
		s.log.Info("relay refused blob", "method", r.Method, "path", r.URL.Path, "reason", reason, "remote", r.RemoteAddr)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(map[string]string{"message": "relay: " + msg})
}

// blobGrant verifies r's blob ticket for operation op on the blob in the
// path; it answers the refusal itself when it returns false.
func (s *Server) blobGrant(w http.ResponseWriter, r *http.Request, op string) (ticket.BlobGrant, bool) {
	g, err := ticket.VerifyBlob(s.opts.Secret, bearer(r), s.opts.Now())
	switch {
	case errors.Is(err, ticket.ErrSignature):
		s.blobError(w, r, http.StatusForbidden, ReasonForged, "blob ticket signature is invalid")
		return g, false
	case errors.Is(err, ticket.ErrExpired):
		s.blobError(w, r, http.StatusForbidden, ReasonExpired, "blob ticket has expired")
		return g, false
	case err != nil:
		s.blobError(w, r, http.StatusForbidden, ReasonMalformed, "blob ticket is malformed")
		return g, false
	}
	id := r.PathValue("id")
	if g.ID != id || !blobID.MatchString(id) {
		s.blobError(w, r, http.StatusForbidden, ReasonCrossBlob, "blob ticket is for another blob")
		return g, false
	}
	if g.Op != op {
		s.blobError(w, r, http.StatusForbidden, ReasonCrossBlob, fmt.Sprintf("blob ticket allows %s, not %s", g.Op, op))
		return g, false
	}
	return g, true
}

// putBlob stores an upload, at most its bound, as one blob.
func (s *Server) putBlob(w http.ResponseWriter, r *http.Request) {
	g, ok := s.blobGrant(w, r, ticket.BlobPut)
	if !ok {
		return
	}
	b := s.blobs
	limit := b.opts.MaxBlob
	if g.Max > 0 && g.Max < limit {
		limit = g.Max
	}
	if r.ContentLength > limit {
		s.blobError(w, r, http.StatusRequestEntityTooLarge, ReasonTooLarge, fmt.Sprintf("blob of %d bytes is over the limit of %d bytes", r.ContentLength, limit))
		return
	}
	if s.draining.Load() {
		s.blobError(w, r, http.StatusServiceUnavailable, ReasonDraining, "relay is draining; retry on another replica")
		return
	}
	b.mu.Lock()
	b.sweepLocked()
	if _, dup := b.used[g.ID]; dup || b.blobs[g.ID] != nil {
		b.mu.Unlock()
		s.blobError(w, r, http.StatusConflict, ReasonReplayed, "blob ticket has already been used")
		return
	}
	if b.closed {
		b.mu.Unlock()
		s.blobError(w, r, http.StatusServiceUnavailable, ReasonDraining, "relay is shutting down")
		return
	}
	if b.dir == "" {
		dir, err := os.MkdirTemp(b.opts.Dir, "sockerless-relay-blobs-")
		if err != nil {
			b.mu.Unlock()
			s.blobError(w, r, http.StatusInsufficientStorage, "", "cannot make the blob directory: "+err.Error())
			return
		}
		b.dir = dir
	}
	e := &blobEntry{path: filepath.Join(b.dir, g.ID), purpose: g.Purpose}
	b.used[g.ID] = g.Expires
	b.blobs[g.ID] = e
	b.mu.Unlock()

	code, reason, err := b.receive(e, r.Body, limit)
	b.mu.Lock()
	if err != nil {
		if b.blobs[g.ID] == e {
			b.dropLocked(g.ID, e)
		}
		b.mu.Unlock()
		b.failed.Add(1)
		s.blobError(w, r, code, reason, err.Error())
		return
	}
	e.ready, e.done = true, b.now()
	b.mu.Unlock()
	b.uploaded.Add(1)
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusCreated)
	_ = json.NewEncoder(w).Encode(map[string]any{"id": g.ID, "size": e.size})
}

// receive writes body to e's file, at most limit bytes, counting each
// chunk against the store's total before it is written.
func (b *blobStore) receive(e *blobEntry, body io.Reader, limit int64) (int, string, error) {
	f, err := os.OpenFile(e.path, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		return http.StatusInsufficientStorage, "", fmt.Errorf("cannot store the blob: %w", err)
	}
	defer f.Close()
	buf := make([]byte, 256<<10)
	for {
		n, rerr := body.Read(buf)
		if n > 0 {
			if e.size+int64(n) > limit {
				return http.StatusRequestEntityTooLarge, ReasonTooLarge, fmt.Errorf("blob is over the limit of %d bytes", limit)
			}
			b.mu.Lock()
			full := b.held+int64(n) > b.opts.MaxTotal
			if !full {
				b.held += int64(n)
				e.size += int64(n)
			}
			b.mu.Unlock()
			if full {
				return http.StatusInsufficientStorage, ReasonStorageFull, fmt.Errorf("the relay holds %d bytes of blobs already, its limit", b.opts.MaxTotal)
			}
			b.bytesIn.Add(int64(n))
			if _, err := f.Write(buf[:n]); err != nil {
				return http.StatusInsufficientStorage, "", fmt.Errorf("cannot store the blob: %w", err)
			}
		}
		if rerr == io.EOF {
			break
		}
		if rerr != nil {
			return http.StatusBadRequest, "", fmt.Errorf("reading the upload: %w", rerr)
		}
	}
	if err := f.Close(); err != nil {
		return http.StatusInsufficientStorage, "", fmt.Errorf("cannot store the blob: %w", err)
	}
	return 0, "", nil
}

// getBlob serves a blob once: it is removed as the fetch begins.
func (s *Server) getBlob(w http.ResponseWriter, r *http.Request) {
	g, ok := s.blobGrant(w, r, ticket.BlobGet)
	if !ok {
		return
	}
	b := s.blobs
	b.mu.Lock()
	b.sweepLocked()
	e := b.blobs[g.ID]
	switch {
	case e == nil && s.clustered(r):
		// Uploaded through another instance, perhaps.
		b.mu.Unlock()
		if s.peerBlob(w, r) {
			return
		}
		s.blobError(w, r, http.StatusNotFound, ReasonUnknownBlob, fmt.Sprintf("no such blob: %s (never uploaded whole, already fetched, or expired)", g.ID))
		return
	case e == nil || !e.ready:
		b.mu.Unlock()
		s.blobError(w, r, http.StatusNotFound, ReasonUnknownBlob, fmt.Sprintf("no such blob: %s (never uploaded whole, already fetched, or expired)", g.ID))
		return
	case e.purpose != g.Purpose:
		b.mu.Unlock()
		s.blobError(w, r, http.StatusForbidden, ReasonCrossBlob, fmt.Sprintf("blob %s was uploaded for %q, not %q", g.ID, e.purpose, g.Purpose))
		return
	}
	// One fetch only: the blob leaves the store now, its open file stays
	// readable, and its bytes count as held until the fetch ends.
	f, err := os.Open(e.path)
	delete(b.blobs, g.ID)
	_ = os.Remove(e.path)
	b.mu.Unlock()
	defer func() {
		b.mu.Lock()
		b.held -= e.size
		b.mu.Unlock()
	}()
	if err != nil {
		s.blobError(w, r, http.StatusInternalServerError, "", "cannot read the blob: "+err.Error())
		return
	}
	defer f.Close()
	b.fetched.Add(1)
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Header().Set("Content-Length", strconv.FormatInt(e.size, 10))
	w.WriteHeader(http.StatusOK)
	n, _ := io.Copy(w, f)
	b.bytesOut.Add(n)
}

// writeMetrics appends the blob store's metrics in the Prometheus text
// format.
func (b *blobStore) writeMetrics(w io.Writer) error {
	b.mu.Lock()
	n, held := len(b.blobs), b.held
	b.mu.Unlock()
	_, err := fmt.Fprintf(w, `# HELP sockerless_relay_blobs_stored Blobs held: being uploaded or waiting to be fetched.
# TYPE sockerless_relay_blobs_stored gauge
sockerless_relay_blobs_stored %d
# HELP sockerless_relay_blob_bytes_stored Bytes of blobs held on disk.
# TYPE sockerless_relay_blob_bytes_stored gauge
sockerless_relay_blob_bytes_stored %d
# HELP sockerless_relay_blobs_total Blobs by outcome.
# TYPE sockerless_relay_blobs_total counter
sockerless_relay_blobs_total{outcome="uploaded"} %d
sockerless_relay_blobs_total{outcome="fetched"} %d
sockerless_relay_blobs_total{outcome="expired"} %d
sockerless_relay_blobs_total{outcome="failed"} %d
# HELP sockerless_relay_blob_bytes_total Blob bytes received from shims and sent to functions.
# TYPE sockerless_relay_blob_bytes_total counter
sockerless_relay_blob_bytes_total{direction="in"} %d
sockerless_relay_blob_bytes_total{direction="out"} %d
`, n, held, b.uploaded.Load(), b.fetched.Load(), b.expired.Load(), b.failed.Load(), b.bytesIn.Load(), b.bytesOut.Load())
	return err
}
