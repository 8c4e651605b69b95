package core

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"

	"github.com/distribution/reference"
	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
	"github.com/moby/moby/api/types/registry"
	"github.com/sockerless/sockerless/functions/records"
	"github.com/sockerless/sockerless/internal/errdefs"
)

// Registry is how the API reaches image registries.
type Registry interface {
	// Fetch resolves ref for linux/amd64 (or the platform given as
	// "os/arch") and returns the image's record, without its tags.
	Fetch(ctx context.Context, ref, platform string, auth registry.AuthConfig) (*records.Image, error)
	// Login checks credentials against a registry.
	Login(ctx context.Context, auth registry.AuthConfig) error
}

// LayerFetcher is an optional extension of a Registry whose Fetch can
// also hand over the image's layers, so a provider that keeps layers
// (providers.LayerKeeper) gets them at pull time.
type LayerFetcher interface {
	// FetchLayers is Fetch that also returns the image's layers.
	FetchLayers(ctx context.Context, ref, platform string, auth registry.AuthConfig) (*records.Image, []v1.Layer, error)
}

// ErrRegistryUnreachable is wrapped by Fetch errors caused by the network
// (DNS, connection refused, timeouts), as opposed to answers from a
// registry (unauthorized, not found).
var ErrRegistryUnreachable = errors.New("registry unreachable")

// RemoteRegistry fetches with go-containerregistry.
type RemoteRegistry struct{}

// Fetch reads ref's image config for platform from its registry.
func (rr RemoteRegistry) Fetch(ctx context.Context, ref, platform string, auth registry.AuthConfig) (*records.Image, error) {
	rec, _, err := rr.FetchLayers(ctx, ref, platform, auth)
	return rec, err
}

// FetchLayers implements layerFetcher; the layers are read lazily from
// the registry.
func (RemoteRegistry) FetchLayers(ctx context.Context, ref, platform string, auth registry.AuthConfig) (*records.Image, []v1.Layer, error) {
	r, err := name.ParseReference(ref)
	if err != nil {
		return nil, nil, errdefs.InvalidParameterf("invalid reference format: %s", ref)
	}
	opts := []remote.Option{remote.WithContext(ctx), remote.WithAuth(authenticator(auth))}
	if platform != "" {
		p, err := v1.ParsePlatform(platform)
		if err != nil {
			return nil, nil, errdefs.InvalidParameterf("invalid platform %q: %v", platform, err)
		}
		opts = append(opts, remote.WithPlatform(*p))
	}
	img, err := remote.Image(r, opts...)
	if err != nil {
		return nil, nil, ClassifyRegistryErr(ref, err)
	}
	out, err := ImageRecord(img, "pull")
	if err != nil {
		return nil, nil, ClassifyRegistryErr(ref, err)
	}
	if d, err := img.Digest(); err == nil {
		out.RepoDigests = []string{reference.FamiliarName(mustNamed(ref)) + "@" + d.String()}
	}
	layers, err := img.Layers()
	if err != nil {
		return nil, nil, ClassifyRegistryErr(ref, err)
	}
	return out, layers, nil
}

func mustNamed(ref string) reference.Named {
	n, err := reference.ParseNormalizedNamed(ref)
	if err != nil {
		n, _ = reference.ParseNormalizedNamed("invalid")
	}
	return n
}

func (RemoteRegistry) Login(ctx context.Context, auth registry.AuthConfig) error {
	host := auth.ServerAddress
	if host == "" || strings.Contains(host, "index.docker.io") {
		host = name.DefaultRegistry
	}
	if u, err := url.Parse(host); err == nil && u.Host != "" {
		host = u.Host
	}
	reg, err := name.NewRegistry(host)
	if err != nil {
		return errdefs.InvalidParameterf("invalid registry %q", auth.ServerAddress)
	}
	_, err = transport.NewWithContext(ctx, reg, authenticator(auth), http.DefaultTransport, []string{reg.Scope(transport.PullScope)})
	if err != nil {
		return ClassifyRegistryErr(host, err)
	}
	return nil
}

func authenticator(a registry.AuthConfig) authn.Authenticator {
	if a.Username == "" && a.Password == "" && a.IdentityToken == "" && a.RegistryToken == "" {
		return authn.Anonymous
	}
	return authn.FromConfig(authn.AuthConfig{Username: a.Username, Password: a.Password, IdentityToken: a.IdentityToken, RegistryToken: a.RegistryToken})
}

// ClassifyRegistryErr gives a registry error about ref its Docker class
// (not found, unauthorized, unreachable).
func ClassifyRegistryErr(ref string, err error) error {
	var te *transport.Error
	if errors.As(err, &te) {
		switch te.StatusCode {
		case http.StatusUnauthorized, http.StatusForbidden:
			return errdefs.Unauthorized(fmt.Errorf("pull access denied for %s, repository does not exist or may require 'docker login': %w", ref, err))
		case http.StatusNotFound:
			return errdefs.NotFound(fmt.Errorf("manifest for %s not found: manifest unknown: %w", ref, err))
		}
		return errdefs.Unavailable(fmt.Errorf("registry error for %s: %w", ref, err))
	}
	var dnsErr *net.DNSError
	var opErr *net.OpError
	var urlErr *url.Error
	if errors.As(err, &dnsErr) || errors.As(err, &opErr) || errors.Is(err, context.DeadlineExceeded) || (errors.As(err, &urlErr) && urlErr.Timeout()) {
		return errdefs.Unavailable(fmt.Errorf("%w: %s: %w", ErrRegistryUnreachable, ref, err))
	}
	return errdefs.Unavailable(fmt.Errorf("pulling %s: %w", ref, err))
}

// ImageRecord reads an image's config and layers into a record.
func ImageRecord(img v1.Image, source string) (*records.Image, error) {
	cfg, err := img.ConfigFile()
	if err != nil {
		return nil, err
	}
	cfgName, err := img.ConfigName()
	if err != nil {
		return nil, err
	}
	out := &records.Image{ID: cfgName.String(), Created: cfg.Created.Time, Config: *cfg, Source: source}
	layers, err := img.Layers()
	if err != nil {
		return nil, err
	}
	for _, l := range layers {
		d, err := l.Digest()
		if err != nil {
			return nil, err
		}
		diff, err := l.DiffID()
		if err != nil {
			return nil, err
		}
		size, _ := l.Size()
		mt, _ := l.MediaType()
		out.Layers = append(out.Layers, records.Layer{Digest: d.String(), DiffID: diff.String(), Size: size, MediaType: string(mt)})
		out.Size += size
	}
	return out, nil
}

// DecodeAuth reads the X-Registry-Auth header: base64url JSON, possibly
// without padding. An absent header is anonymous.
func DecodeAuth(h string) (registry.AuthConfig, error) {
	var a registry.AuthConfig
	if h == "" {
		return a, nil
	}
	b, err := base64.URLEncoding.DecodeString(h)
	if err != nil {
		b, err = base64.RawURLEncoding.DecodeString(strings.TrimRight(h, "="))
	}
	if err != nil {
		return a, errdefs.InvalidParameterf("invalid X-Registry-Auth header: %v", err)
	}
	if err := json.Unmarshal(b, &a); err != nil {
		// Docker tolerates "{}"-less garbage as anonymous.
		return registry.AuthConfig{}, nil
	}
	return a, nil
}
