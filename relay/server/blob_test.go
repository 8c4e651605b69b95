package server

import (
	"bytes"
	"crypto/rand"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sockerless/sockerless/relay/ticket"
)

var blobSecret = []byte("blob-test-secret")

type blobEnv struct {
	t   *testing.T
	srv *Server
	url string

	mu  sync.Mutex
	now time.Time
}

func newBlobEnv(t *testing.T, o BlobOptions) *blobEnv {
	t.Helper()
	e := &blobEnv{t: t, now: time.Unix(1_700_000_000, 0)}
	if o.Dir == "" {
		o.Dir = t.TempDir()
	}
	srv, err := New(Options{Secret: blobSecret, Blobs: o, Now: e.clock})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(srv)
	t.Cleanup(func() { hs.Close(); srv.Close() })
	e.srv, e.url = srv, hs.URL
	return e
}

func (e *blobEnv) clock() time.Time {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.now
}

func (e *blobEnv) advance(d time.Duration) {
	e.mu.Lock()
	e.now = e.now.Add(d)
	e.mu.Unlock()
}

func (e *blobEnv) tok(g ticket.BlobGrant) string {
	e.t.Helper()
	if g.Expires == 0 {
		g.Expires = e.clock().Add(30 * time.Second).Unix()
	}
	if g.Purpose == "" {
		g.Purpose = "load"
	}
	s, err := ticket.SignBlob(blobSecret, g)
	if err != nil {
		e.t.Fatal(err)
	}
	return s
}

// do sends method to the blob id with token; body is sent chunked
// (unknown length) unless sized.
func (e *blobEnv) do(method, id, token string, body []byte, sized bool) (int, []byte) {
	e.t.Helper()
	var rd io.Reader
	if body != nil {
		rd = io.MultiReader(bytes.NewReader(body)) // hides the length
		if sized {
			rd = bytes.NewReader(body)
		}
	}
	req, _ := http.NewRequest(method, e.url+ticket.BlobPath+id, rd)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

// wantRefused checks a Docker-shaped refusal with status code, counted
// under reason.
func (e *blobEnv) wantRefused(what string, code int, body []byte, wantCode int, reason string, before int64) {
	e.t.Helper()
	var m struct{ Message string }
	if code != wantCode || json.Unmarshal(body, &m) != nil || m.Message == "" {
		e.t.Fatalf("%s: status %d, body %q; want %d with a JSON message", what, code, body, wantCode)
	}
	if got := e.srv.Metrics().Rejected(reason); got != before+1 {
		e.t.Fatalf("%s: rejections for %s = %d, want %d", what, reason, got, before+1)
	}
}

func randomBytes(t *testing.T, n int) []byte {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return b
}

func (e *blobEnv) files() int {
	e.t.Helper()
	e.srv.blobs.mu.Lock()
	dir := e.srv.blobs.dir
	e.srv.blobs.mu.Unlock()
	if dir == "" {
		return 0
	}
	ents, err := os.ReadDir(dir)
	if err != nil {
		e.t.Fatal(err)
	}
	return len(ents)
}

func (e *blobEnv) held() int64 {
	e.srv.blobs.mu.Lock()
	defer e.srv.blobs.mu.Unlock()
	return e.srv.blobs.held
}

func (e *blobEnv) metrics() string {
	e.t.Helper()
	resp, err := http.Get(e.url + "/metrics")
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

// A blob is uploaded once, fetched once, then gone; its bytes come back
// unchanged, and /metrics counts it.
func TestBlobRoundTripOnce(t *testing.T) {
	e := newBlobEnv(t, BlobOptions{})
	data := randomBytes(t, 3<<20+17)
	put := e.tok(ticket.BlobGrant{ID: "b1", Op: ticket.BlobPut, Max: 4 << 20})
	if code, body := e.do("PUT", "b1", put, data, false); code != http.StatusCreated {
		t.Fatalf("PUT: %d %s", code, body)
	}
	if e.files() != 1 {
		t.Fatalf("%d files stored, want 1", e.files())
	}
	// The upload ticket cannot be used again, even for the same bytes.
	before := e.srv.Metrics().Rejected(ReasonReplayed)
	code, body := e.do("PUT", "b1", put, data[:10], true)
	e.wantRefused("replayed upload", code, body, http.StatusConflict, ReasonReplayed, before)

	get := e.tok(ticket.BlobGrant{ID: "b1", Op: ticket.BlobGet})
	code, got := e.do("GET", "b1", get, nil, false)
	if code != http.StatusOK || !bytes.Equal(got, data) {
		t.Fatalf("GET: %d, %d bytes, equal %v", code, len(got), bytes.Equal(got, data))
	}
	if e.files() != 0 {
		t.Fatalf("%d files left after the fetch, want 0", e.files())
	}
	before = e.srv.Metrics().Rejected(ReasonUnknownBlob)
	code, body = e.do("GET", "b1", get, nil, false)
	e.wantRefused("second fetch", code, body, http.StatusNotFound, ReasonUnknownBlob, before)
	// Still refused after the blob is gone: its id stays spent while the
	// upload ticket is valid.
	before = e.srv.Metrics().Rejected(ReasonReplayed)
	code, body = e.do("PUT", "b1", put, data[:10], false)
	e.wantRefused("upload after fetch", code, body, http.StatusConflict, ReasonReplayed, before)

	m := e.metrics()
	for _, want := range []string{
		`sockerless_relay_blobs_total{outcome="uploaded"} 1`,
		`sockerless_relay_blobs_total{outcome="fetched"} 1`,
		`sockerless_relay_blob_bytes_total{direction="in"} 3145745`,
		`sockerless_relay_blob_bytes_total{direction="out"} 3145745`,
		"sockerless_relay_blobs_stored 0\n",
		"sockerless_relay_blob_bytes_stored 0\n",
	} {
		if !strings.Contains(m, want) {
			t.Fatalf("/metrics lacks %q:\n%s", want, m)
		}
	}
}

// Forged, expired, malformed, stream and cross-blob tickets are refused
// and store nothing.
func TestBlobTicketsRefused(t *testing.T) {
	e := newBlobEnv(t, BlobOptions{})
	data := []byte("tarball")
	forged, _ := ticket.SignBlob([]byte("other"), ticket.BlobGrant{ID: "b1", Op: ticket.BlobPut, Purpose: "load", Expires: e.clock().Unix() + 30})
	stream, _ := ticket.Sign(blobSecret, ticket.Grant{Container: "b1", Session: "s", Kind: ticket.KindBlob, Expires: e.clock().Unix() + 30})
	for _, tt := range []struct {
		name, id, token string
		code            int
		reason          string
	}{
		{"forged", "b1", forged, http.StatusForbidden, ReasonForged},
		{"stream ticket", "b1", stream, http.StatusForbidden, ReasonForged},
		{"expired", "b1", e.tok(ticket.BlobGrant{ID: "b1", Op: ticket.BlobPut, Expires: e.clock().Unix()}), http.StatusForbidden, ReasonExpired},
		{"malformed", "b1", "nonsense", http.StatusForbidden, ReasonMalformed},
		{"other blob", "b2", e.tok(ticket.BlobGrant{ID: "b1", Op: ticket.BlobPut}), http.StatusForbidden, ReasonCrossBlob},
		{"download ticket", "b1", e.tok(ticket.BlobGrant{ID: "b1", Op: ticket.BlobGet}), http.StatusForbidden, ReasonCrossBlob},
	} {
		before := e.srv.Metrics().Rejected(tt.reason)
		code, body := e.do("PUT", tt.id, tt.token, data, true)
		e.wantRefused(tt.name, code, body, tt.code, tt.reason, before)
	}
	if e.files() != 0 {
		t.Fatalf("refused uploads stored %d files", e.files())
	}

	// A blob uploaded for a load is not served to a build, nor to an
	// upload ticket, nor under another id; it stays for the right fetch.
	if code, body := e.do("PUT", "b3", e.tok(ticket.BlobGrant{ID: "b3", Op: ticket.BlobPut, Purpose: "load"}), data, true); code != http.StatusCreated {
		t.Fatalf("PUT: %d %s", code, body)
	}
	for _, tt := range []struct{ name, id, token string }{
		{"other purpose", "b3", e.tok(ticket.BlobGrant{ID: "b3", Op: ticket.BlobGet, Purpose: "build"})},
		{"upload ticket", "b3", e.tok(ticket.BlobGrant{ID: "b3", Op: ticket.BlobPut, Purpose: "load"})},
		{"other blob", "b3", e.tok(ticket.BlobGrant{ID: "b4", Op: ticket.BlobGet, Purpose: "load"})},
	} {
		before := e.srv.Metrics().Rejected(ReasonCrossBlob)
		code, body := e.do("GET", tt.id, tt.token, nil, false)
		e.wantRefused(tt.name, code, body, http.StatusForbidden, ReasonCrossBlob, before)
	}
	before := e.srv.Metrics().Rejected(ReasonUnknownBlob)
	code, body := e.do("GET", "b4", e.tok(ticket.BlobGrant{ID: "b4", Op: ticket.BlobGet, Purpose: "load"}), nil, false)
	e.wantRefused("unknown blob", code, body, http.StatusNotFound, ReasonUnknownBlob, before)
	if code, got := e.do("GET", "b3", e.tok(ticket.BlobGrant{ID: "b3", Op: ticket.BlobGet, Purpose: "load"}), nil, false); code != http.StatusOK || string(got) != "tarball" {
		t.Fatalf("GET after refused attempts: %d %q", code, got)
	}
}

// Uploads are bounded by their ticket, by the relay's per-blob limit and
// by the bytes all blobs may hold; a refused upload leaves nothing.
func TestBlobSizeLimits(t *testing.T) {
	e := newBlobEnv(t, BlobOptions{MaxBlob: 2 << 20, MaxTotal: 3 << 20})
	for _, tt := range []struct {
		name  string
		max   int64
		n     int
		sized bool
	}{
		{"over the ticket, streamed", 1 << 20, 1<<20 + 1, false},
		{"over the ticket, announced", 1 << 20, 1<<20 + 1, true},
		{"over the relay's limit", 8 << 20, 2<<20 + 1, false},
	} {
		id := strings.NewReplacer(" ", "-", ",", "", "'", "").Replace(tt.name)
		before := e.srv.Metrics().Rejected(ReasonTooLarge)
		code, body := e.do("PUT", id, e.tok(ticket.BlobGrant{ID: id, Op: ticket.BlobPut, Max: tt.max}), randomBytes(t, tt.n), tt.sized)
		e.wantRefused(tt.name, code, body, http.StatusRequestEntityTooLarge, ReasonTooLarge, before)
		code, body = e.do("GET", id, e.tok(ticket.BlobGrant{ID: id, Op: ticket.BlobGet}), nil, false)
		if code != http.StatusNotFound {
			t.Fatalf("%s: the refused blob is fetchable: %d %s", tt.name, code, body)
		}
	}
	if e.files() != 0 || e.held() != 0 {
		t.Fatalf("refused uploads left %d files, %d bytes held", e.files(), e.held())
	}
	// Exactly the ticket's bound is accepted.
	if code, body := e.do("PUT", "exact", e.tok(ticket.BlobGrant{ID: "exact", Op: ticket.BlobPut, Max: 2 << 20}), randomBytes(t, 2<<20), false); code != http.StatusCreated {
		t.Fatalf("PUT of exactly the bound: %d %s", code, body)
	}
	// 2 MiB held; 1.5 MiB more is over the 3 MiB total.
	before := e.srv.Metrics().Rejected(ReasonStorageFull)
	code, body := e.do("PUT", "second", e.tok(ticket.BlobGrant{ID: "second", Op: ticket.BlobPut}), randomBytes(t, 3<<19), false)
	e.wantRefused("over the total", code, body, http.StatusInsufficientStorage, ReasonStorageFull, before)
	if e.files() != 1 || e.held() != 2<<20 {
		t.Fatalf("after the refusal: %d files, %d bytes held; want 1 file, 2 MiB", e.files(), e.held())
	}
	// Once the first is fetched, there is room again.
	if code, _ := e.do("GET", "exact", e.tok(ticket.BlobGrant{ID: "exact", Op: ticket.BlobGet}), nil, false); code != http.StatusOK {
		t.Fatalf("GET exact: %d", code)
	}
	if code, body := e.do("PUT", "third", e.tok(ticket.BlobGrant{ID: "third", Op: ticket.BlobPut}), randomBytes(t, 3<<19), false); code != http.StatusCreated {
		t.Fatalf("PUT after the fetch freed room: %d %s", code, body)
	}
}

// A blob nobody fetches is deleted after the TTL; Close deletes the
// rest with the directory.
func TestBlobTTLAndClose(t *testing.T) {
	dir := t.TempDir()
	e := newBlobEnv(t, BlobOptions{Dir: dir, TTL: time.Minute})
	for _, id := range []string{"old", "young"} {
		if code, body := e.do("PUT", id, e.tok(ticket.BlobGrant{ID: id, Op: ticket.BlobPut}), []byte(id), true); code != http.StatusCreated {
			t.Fatalf("PUT %s: %d %s", id, code, body)
		}
		e.advance(40 * time.Second)
	}
	// old is 80 s old, young 40 s: a fetch of young sweeps old away.
	if code, got := e.do("GET", "young", e.tok(ticket.BlobGrant{ID: "young", Op: ticket.BlobGet}), nil, false); code != http.StatusOK || string(got) != "young" {
		t.Fatalf("GET young: %d %q", code, got)
	}
	before := e.srv.Metrics().Rejected(ReasonUnknownBlob)
	code, body := e.do("GET", "old", e.tok(ticket.BlobGrant{ID: "old", Op: ticket.BlobGet}), nil, false)
	e.wantRefused("expired blob", code, body, http.StatusNotFound, ReasonUnknownBlob, before)
	if e.files() != 0 || !strings.Contains(e.metrics(), `sockerless_relay_blobs_total{outcome="expired"} 1`) {
		t.Fatalf("after the TTL: %d files; metrics:\n%s", e.files(), e.metrics())
	}

	if code, body := e.do("PUT", "left", e.tok(ticket.BlobGrant{ID: "left", Op: ticket.BlobPut}), []byte("x"), true); code != http.StatusCreated {
		t.Fatalf("PUT left: %d %s", code, body)
	}
	e.srv.Close()
	ents, err := os.ReadDir(dir)
	if err != nil || len(ents) != 0 {
		t.Fatalf("after Close the blob directory holds %d entries (%v)", len(ents), err)
	}
	code, body = e.do("PUT", "late", e.tok(ticket.BlobGrant{ID: "late", Op: ticket.BlobPut}), []byte("x"), true)
	if code != http.StatusServiceUnavailable {
		t.Fatalf("PUT after Close: %d %s", code, body)
	}
}

// The janitor deletes expired blobs without any request arriving.
func TestBlobJanitor(t *testing.T) {
	e := newBlobEnv(t, BlobOptions{TTL: time.Second})
	if code, body := e.do("PUT", "j", e.tok(ticket.BlobGrant{ID: "j", Op: ticket.BlobPut}), []byte("x"), true); code != http.StatusCreated {
		t.Fatalf("PUT: %d %s", code, body)
	}
	e.advance(2 * time.Second)
	deadline := time.Now().Add(5 * time.Second)
	for e.files() != 0 {
		if time.Now().After(deadline) {
			t.Fatal("the expired blob is still on disk")
		}
		time.Sleep(50 * time.Millisecond)
	}
}
