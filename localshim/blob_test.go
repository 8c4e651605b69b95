package localshim_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/sockerless/sockerless/functions"
	"github.com/sockerless/sockerless/internal/controlapi"
	"github.com/sockerless/sockerless/localshim"
	"github.com/sockerless/sockerless/providers"
	"github.com/sockerless/sockerless/providers/synthetic"
	"github.com/sockerless/sockerless/relay"
	"github.com/sockerless/sockerless/relay/server"
	"github.com/sockerless/sockerless/statestore/memory"
)

// frontLimit stands in for Lambda's 6 MB request limit, scaled down.
const frontLimit = 1 << 20

// front is a platform in front of functions: it refuses bodies over
// frontLimit with 413, as a Lambda Function URL does, and records what
// reached functions.
type front struct {
	api http.Handler

	mu       sync.Mutex
	largest  int
	refused  int
	blobHdrs []string
}

func (f *front) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(io.LimitReader(r.Body, frontLimit+1))
	f.mu.Lock()
	if len(body) > frontLimit {
		f.refused++
		f.mu.Unlock()
		http.Error(w, "Request must be smaller than 1048576 bytes", http.StatusRequestEntityTooLarge)
		return
	}
	f.largest = max(f.largest, len(body))
	if h := r.Header.Get(controlapi.HeaderBlob); h != "" {
		f.blobHdrs = append(f.blobHdrs, h)
	}
	f.mu.Unlock()
	r.Body = io.NopCloser(bytes.NewReader(body))
	r.ContentLength = int64(len(body))
	f.api.ServeHTTP(w, r)
}

type blobSetup struct {
	relay *server.Server
	front *front
	fnURL string // the front's address
	shim  string // the shim's address
}

// newBlobSetup runs functions (synthetic provider) behind a front, a
// network relay with blob options o, and a shim, each over HTTP.
func newBlobSetup(t *testing.T, o server.BlobOptions) *blobSetup {
	t.Helper()
	secret := []byte("shim-blob-secret")
	rs, err := server.New(server.Options{Secret: secret, Blobs: o})
	if err != nil {
		t.Fatal(err)
	}
	rh := httptest.NewServer(rs)
	t.Cleanup(func() { rh.Close(); rs.Close() })
	hub := relay.NewHub(secret)
	api, err := functions.New(context.Background(), functions.Config{
		Store: memory.New(), Secret: secret, RelayURL: "ws" + strings.TrimPrefix(rh.URL, "http"), Dialer: hub,
		NewProvider: func(r providers.Reporter) (providers.Provider, error) {
			return synthetic.New(synthetic.Options{Hub: hub, Reporter: r}), nil
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	f := &front{api: api}
	fh := httptest.NewServer(f)
	t.Cleanup(fh.Close)
	return &blobSetup{relay: rs, front: f, fnURL: fh.URL, shim: startShim(t, http.DefaultTransport, fh.URL)}
}

func startShim(t *testing.T, tr http.RoundTripper, base string) string {
	t.Helper()
	sh, err := localshim.New(localshim.Options{Transport: tr, BaseURL: base, Dialer: relay.NewHub([]byte("unused"))})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(sh)
	t.Cleanup(hs.Close)
	return hs.URL
}

// imageTar is a docker-save archive of one image of random,
// uncompressible layer data, tagged tag.
func imageTar(t *testing.T, tag string, size int64) []byte {
	t.Helper()
	img, err := random.Image(size, 1)
	if err != nil {
		t.Fatal(err)
	}
	ref, err := name.NewTag(tag)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := tarball.Write(ref, img, &buf); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func post(t *testing.T, url, ctype string, body io.Reader, hdr ...string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest("POST", url, body)
	req.Header.Set("Content-Type", ctype)
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func metric(t *testing.T, s *server.Server, line string) bool {
	t.Helper()
	rec := httptest.NewRecorder()
	s.ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	return strings.Contains(rec.Body.String(), line+"\n")
}

// docker load of an archive over the front's limit goes through the
// relay's blob store: the front refuses it sent directly, the shim's
// load succeeds, and no body over the limit reached functions. The blob
// cannot be named again.
func TestShimLoadThroughBlob(t *testing.T) {
	s := newBlobSetup(t, server.BlobOptions{})
	archive := imageTar(t, "big.example/img:v1", 3<<20)

	// Without the blob path the platform refuses the body.
	if code, body := post(t, s.fnURL+"/v1.47/images/load", "application/x-tar", bytes.NewReader(archive)); code != http.StatusRequestEntityTooLarge {
		t.Fatalf("load straight to the front: %d %s; want 413", code, body)
	}
	// Through the shim, streamed with no length, as the docker CLI does.
	code, body := post(t, s.shim+"/v1.47/images/load?quiet=1", "application/x-tar", io.MultiReader(bytes.NewReader(archive)))
	if code != http.StatusOK || !strings.Contains(body, "Loaded image: big.example/img:v1") {
		t.Fatalf("load through the shim: %d %s", code, body)
	}
	resp, err := http.Get(s.shim + "/v1.47/images/big.example/img:v1/json")
	if err != nil {
		t.Fatal(err)
	}
	var img struct{ RepoTags []string }
	_ = json.NewDecoder(resp.Body).Decode(&img)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || len(img.RepoTags) != 1 {
		t.Fatalf("inspect the loaded image: %d %v", resp.StatusCode, img.RepoTags)
	}
	s.front.mu.Lock()
	largest, refused, ids := s.front.largest, s.front.refused, append([]string(nil), s.front.blobHdrs...)
	s.front.mu.Unlock()
	if largest != 0 || refused != 1 || len(ids) != 1 {
		t.Fatalf("functions saw a body of %d bytes, the front refused %d, blob requests %v; want no body, 1 refusal (the direct one), 1 blob", largest, refused, ids)
	}
	for _, line := range []string{`sockerless_relay_blobs_total{outcome="fetched"} 1`, "sockerless_relay_blobs_stored 0"} {
		if !metric(t, s.relay, line) {
			t.Fatalf("relay metrics lack %q", line)
		}
	}

	// Naming the blob again (a replay), an unknown blob or no blob at all
	// gets a Docker-shaped 400 from functions.
	for _, tt := range []struct{ name, id string }{
		{"replayed", ids[0]},
		{"unknown", strings.Repeat("ab", 16)},
		{"malformed", "../../etc/passwd"},
	} {
		code, body := post(t, s.fnURL+"/v1.47/images/load", "application/x-tar", http.NoBody, controlapi.HeaderBlob, tt.id)
		var m struct{ Message string }
		if code != http.StatusBadRequest || json.Unmarshal([]byte(body), &m) != nil || m.Message == "" {
			t.Fatalf("%s blob: %d %s; want 400 with a message", tt.name, code, body)
		}
	}
}

// A request functions refuses is refused before its body is uploaded.
func TestShimBlobRefusedBeforeUpload(t *testing.T) {
	s := newBlobSetup(t, server.BlobOptions{})
	ctx := bytes.Repeat([]byte("x"), 2<<20)
	code, body := post(t, s.shim+"/v1.47/build?t=x", "application/x-tar", bytes.NewReader(ctx))
	if code != http.StatusNotImplemented || !strings.Contains(body, "docker build needs a provider") {
		t.Fatalf("build on the synthetic provider: %d %s; want 501", code, body)
	}
	if !metric(t, s.relay, `sockerless_relay_blob_bytes_total{direction="in"} 0`) {
		t.Fatal("the refused build's context was uploaded")
	}
}

// An upload over the relay's bound is refused with a Docker-shaped 413
// carrying the relay's reason, and nothing is loaded.
func TestShimBlobTooLarge(t *testing.T) {
	s := newBlobSetup(t, server.BlobOptions{MaxBlob: 2 << 20})
	archive := imageTar(t, "big.example/img:v2", 3<<20)
	code, body := post(t, s.shim+"/v1.47/images/load", "application/x-tar", io.MultiReader(bytes.NewReader(archive)))
	var m struct{ Message string }
	if code != http.StatusRequestEntityTooLarge || json.Unmarshal([]byte(body), &m) != nil || !strings.Contains(m.Message, "over the limit") {
		t.Fatalf("oversize load: %d %s; want 413 with the relay's reason", code, body)
	}
	if !metric(t, s.relay, `sockerless_relay_rejected_total{reason="too_large"} 1`) || !metric(t, s.relay, "sockerless_relay_blobs_stored 0") {
		t.Fatal("relay metrics do not show the refusal, or keep the blob")
	}
	// A Content-Length over the ticket's bound is refused by the shim
	// before anything is sent.
	req, _ := http.NewRequest("POST", s.shim+"/v1.47/images/load", io.LimitReader(zeros{}, functions.MaxBlobBody+1))
	req.ContentLength = functions.MaxBlobBody + 1
	// Expect: 100-continue keeps the body unsent until the shim asks for
	// it, which it never does: the answer is read whatever the load (a
	// client that writes at once may see the closed connection first).
	req.Header.Set("Expect", "100-continue")
	client := &http.Client{Transport: &http.Transport{ExpectContinueTimeout: time.Minute}}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	resp, err := client.Do(req.WithContext(ctx))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusRequestEntityTooLarge {
		t.Fatalf("announced oversize load: %d; want 413", resp.StatusCode)
	}
}

type zeros struct{}

func (zeros) Read(p []byte) (int, error) { clear(p); return len(p), nil }

// In embedded mode (no network relay) functions answers "direct" and the
// body goes to functions with the request, as before.
func TestShimBlobDirectInEmbeddedMode(t *testing.T) {
	secret := []byte("embedded")
	hub := relay.NewHub(secret)
	api, err := functions.New(context.Background(), functions.Config{
		Store: memory.New(), Secret: secret, RelayURL: "inproc:", Dialer: hub,
		NewProvider: func(r providers.Reporter) (providers.Provider, error) {
			return synthetic.New(synthetic.Options{Hub: hub, Reporter: r}), nil
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var asked, bodies []int
	rec := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		if r.Header.Get(controlapi.HeaderBlobTicket) != "" {
			asked = append(asked, len(b))
		} else {
			bodies = append(bodies, len(b))
		}
		mu.Unlock()
		r.Body = io.NopCloser(bytes.NewReader(b))
		api.ServeHTTP(w, r)
	})
	shim := startShim(t, localshim.HandlerTransport{Handler: rec}, "")
	archive := imageTar(t, "small.example/img:v1", 2<<20)
	code, body := post(t, shim+"/v1.47/images/load", "application/x-tar", bytes.NewReader(archive))
	if code != http.StatusOK || !strings.Contains(body, "Loaded image: small.example/img:v1") {
		t.Fatalf("embedded load: %d %s", code, body)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(asked) != 1 || asked[0] != 0 || len(bodies) != 1 || bodies[0] != len(archive) {
		t.Fatalf("functions was asked %v and sent bodies %v; want one empty question, then the whole archive", asked, bodies)
	}
}
