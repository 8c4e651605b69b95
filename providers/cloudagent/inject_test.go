package cloudagent

import (
	"context"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/sockerless/sockerless/internal/errdefs"
)

func TestInject(t *testing.T) {
	ctx := context.Background()
	srv := httptest.NewServer(registry.New())
	defer srv.Close()
	host := strings.TrimPrefix(srv.URL, "http://")
	img, err := random.Image(4<<20, 3)
	if err != nil {
		t.Fatal(err)
	}
	ref, _ := name.ParseReference(host + "/user/app:1")
	if err := remote.Write(ref, img, remote.WithContext(ctx)); err != nil {
		t.Fatal(err)
	}
	agentBin := []byte(strings.Repeat("agent binary ", 1000))
	newInjector := func() *Injector {
		in, err := NewInjector(InjectorOptions{Agent: agentBin, Repository: host + "/sockerless"})
		if err != nil {
			t.Fatal(err)
		}
		return in
	}

	first, err := newInjector().Inject(ctx, ref.String())
	if err != nil {
		t.Fatal(err)
	}
	if first.Cached || first.Uploaded == 0 {
		t.Fatalf("first Inject() = cached %v, uploaded %d; want a fresh push", first.Cached, first.Uploaded)
	}
	// The user's 12 MiB of layers are mounted, not uploaded: only the
	// agent layer and the config go up.
	if first.Uploaded > 1<<20 {
		t.Fatalf("first Inject() uploaded %d bytes; want only the agent layer and config", first.Uploaded)
	}
	pushed, err := remote.Image(mustRef(t, first.Ref))
	if err != nil {
		t.Fatal(err)
	}
	if layers, _ := pushed.Layers(); len(layers) != 4 {
		t.Fatalf("injected image has %d layers, want 4", len(layers))
	}

	// Another functions instance (no memory cache) finds it by tag.
	second, err := newInjector().Inject(ctx, ref.String())
	if err != nil {
		t.Fatal(err)
	}
	if !second.Cached || second.Uploaded != 0 || second.Ref != first.Ref {
		t.Fatalf("second Inject() = %+v; want cached, nothing uploaded, same ref", second)
	}

	if _, err := newInjector().Inject(ctx, host+"/user/missing:1"); !errdefs.IsNotFound(err) {
		t.Fatalf("Inject(missing) = %v, want NotFound", err)
	}
	if _, err := newInjector().Inject(ctx, "Not A Ref"); !errdefs.IsInvalidParameter(err) {
		t.Fatalf("Inject(bad ref) = %v, want InvalidParameter", err)
	}
}

// TestInjectAgainCostsOneRequest: the same instance injecting an image
// again asks the registry only what the tag names now (one HEAD, on the
// connection and token of the first call); a digest reference asks
// nothing; a moved tag is injected anew.
func TestInjectAgainCostsOneRequest(t *testing.T) {
	ctx := context.Background()
	srv := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	defer srv.Close()
	host := strings.TrimPrefix(srv.URL, "http://")
	push := func(tag string) {
		img, err := random.Image(1<<10, 1)
		if err != nil {
			t.Fatal(err)
		}
		if err := remote.Write(mustRef(t, host+"/user/app:"+tag), img); err != nil {
			t.Fatal(err)
		}
	}
	push("1")
	rec := &recordingTransport{base: http.DefaultTransport}
	in, err := NewInjector(InjectorOptions{Agent: []byte("agent"), Repository: host + "/sockerless", Transport: rec})
	if err != nil {
		t.Fatal(err)
	}
	first, err := in.Inject(ctx, host+"/user/app:1")
	if err != nil {
		t.Fatal(err)
	}
	if got := rec.reset(); len(got) < 3 {
		t.Fatalf("first injection made %d requests (%q); the counts below mean nothing", len(got), got)
	}

	again, err := in.Inject(ctx, host+"/user/app:1")
	if got, want := rec.reset(), []string{"HEAD /v2/user/app/manifests/1"}; err != nil || !again.Cached || again.Ref != first.Ref || !slices.Equal(got, want) {
		t.Errorf("same tag again: %+v, %v, requests %q; want cached %s after %q", again, err, got, first.Ref, want)
	}

	desc, err := remote.Head(mustRef(t, host+"/user/app:1"))
	if err != nil {
		t.Fatal(err)
	}
	byDigest, err := in.Inject(ctx, host+"/user/app@"+desc.Digest.String())
	if got := rec.reset(); err != nil || byDigest.Ref != first.Ref || len(got) != 0 {
		t.Errorf("by digest: %+v, %v, requests %q; want %s and no request", byDigest, err, got, first.Ref)
	}

	push("1")
	moved, err := in.Inject(ctx, host+"/user/app:1")
	if err != nil || moved.Cached || moved.Ref == first.Ref {
		t.Errorf("moved tag: %+v, %v; want a new injection", moved, err)
	}
}

// recordingTransport records the METHOD PATH of every request.
type recordingTransport struct {
	base http.RoundTripper
	mu   sync.Mutex
	reqs []string
}

func (r *recordingTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	r.mu.Lock()
	r.reqs = append(r.reqs, req.Method+" "+req.URL.Path)
	r.mu.Unlock()
	return r.base.RoundTrip(req)
}

// reset returns the requests recorded since the last reset.
func (r *recordingTransport) reset() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := r.reqs
	r.reqs = nil
	return out
}

func mustRef(t *testing.T, s string) name.Reference {
	t.Helper()
	r, err := name.ParseReference(s)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// BenchmarkInject measures agent injection into a 100 MB image against an
// in-process registry: cold (a fresh injector and a repository without
// the result: the agent layer uploaded, the user's layers mounted) and
// cached (another instance finds the tag; nothing uploaded).
func BenchmarkInject(b *testing.B) {
	ctx := context.Background()
	srv := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	defer srv.Close()
	host := strings.TrimPrefix(srv.URL, "http://")
	agentBin, err := os.ReadFile(os.Args[0]) // a Go binary of realistic size
	if err != nil {
		b.Fatal(err)
	}
	img, err := random.Image(20<<20, 5)
	if err != nil {
		b.Fatal(err)
	}
	ref, _ := name.ParseReference(host + "/user/big:1")
	if err := remote.Write(ref, img); err != nil {
		b.Fatal(err)
	}
	b.Run("cold", func(b *testing.B) {
		var up int64
		for i := 0; i < b.N; i++ {
			// A registry that has never seen the agent layer; the agent
			// layer is built once per process, outside the timing.
			b.StopTimer()
			fresh := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
			fhost := strings.TrimPrefix(fresh.URL, "http://")
			fref, _ := name.ParseReference(fhost + "/user/big:1")
			if err := remote.Write(fref, img); err != nil {
				b.Fatal(err)
			}
			in, err := NewInjector(InjectorOptions{Agent: agentBin, Repository: fmt.Sprintf("%s/cold%d", fhost, i)})
			if err != nil {
				b.Fatal(err)
			}
			b.StartTimer()
			res, err := in.Inject(ctx, fref.String())
			b.StopTimer()
			fresh.Close()
			b.StartTimer()
			if err != nil {
				b.Fatal(err)
			}
			up += res.Uploaded
		}
		b.ReportMetric(float64(up)/float64(b.N), "uploaded-bytes/op")
	})
	b.Run("cached", func(b *testing.B) {
		in, err := NewInjector(InjectorOptions{Agent: agentBin, Repository: host + "/cached"})
		if err != nil {
			b.Fatal(err)
		}
		if _, err := in.Inject(ctx, ref.String()); err != nil {
			b.Fatal(err)
		}
		b.ResetTimer()
		var up int64
		for i := 0; i < b.N; i++ {
			b.StopTimer()
			in2, _ := NewInjector(InjectorOptions{Agent: agentBin, Repository: host + "/cached"})
			b.StartTimer()
			res, err := in2.Inject(ctx, ref.String())
			if err != nil {
				b.Fatal(err)
			}
			up += res.Uploaded
		}
		b.ReportMetric(float64(up)/float64(b.N), "uploaded-bytes/op")
	})
}
