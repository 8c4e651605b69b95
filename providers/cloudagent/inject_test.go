package cloudagent

import (
	"context"
	"net/http/httptest"
	"strings"
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

func mustRef(t *testing.T, s string) name.Reference {
	t.Helper()
	r, err := name.ParseReference(s)
	if err != nil {
		t.Fatal(err)
	}
	return r
}
