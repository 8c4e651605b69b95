package cloudagent

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/sockerless/sockerless/internal/errdefs"
)

// AgentPath is where the agent binary is inside an injected image.
const AgentPath = "/.sockerless/sockerless-agent"

// Authenticator returns the credentials for a registry host (ECR's
// token for the account's registry, anonymous elsewhere).
type Authenticator func(ctx context.Context, registry string) (authn.Authenticator, error)

// InjectorOptions configures an Injector.
type InjectorOptions struct {
	// Agent is the static sockerless-agent binary (linux, the workloads'
	// architecture). Required.
	Agent []byte
	// Repository receives the injected images ("HOST/NAME"). Required.
	Repository string
	// Auth gives registry credentials; nil is anonymous everywhere.
	Auth Authenticator
	// Transport carries registry requests (default http.DefaultTransport).
	Transport http.RoundTripper
}

// Injector appends the agent to images. Safe for concurrent use.
type Injector struct {
	opts  InjectorOptions
	repo  name.Repository
	layer v1.Layer
	tag   string // agent layer digest prefix, part of every result tag

	mu    sync.Mutex
	cache map[string]Injected // by the digest the user's reference resolves to
	// pullers reuse each registry's connection and token between calls,
	// while the registry's credentials stay the same (keyed by them).
	pullers map[string]registryPuller
}

// registryPuller is a registry's Puller for one set of credentials.
type registryPuller struct {
	creds string
	p     *remote.Puller
}

// Injected is one injection's result.
type Injected struct {
	// Ref is the injected image by digest, in Repository.
	Ref string
	// Config is the user image's configuration (entrypoint, cmd, env,
	// user, working dir), unchanged by the injection.
	Config v1.Config
	// Uploaded is how many bytes of blobs this injection sent (0 when
	// cached or when everything was mounted).
	Uploaded int64
	// Cached is set when the injected image already existed.
	Cached bool
	// Size is the injected image's compressed size (its layers').
	Size int64
}

// NewInjector builds the agent layer once.
//
// # Errors
//
// InvalidParameter for a missing agent or an invalid repository.
func NewInjector(opts InjectorOptions) (*Injector, error) {
	if len(opts.Agent) == 0 {
		return nil, errdefs.InvalidParameterf("cloudagent: no agent binary")
	}
	repo, err := name.NewRepository(opts.Repository)
	if err != nil {
		return nil, errdefs.InvalidParameterf("cloudagent: repository %q: %v", opts.Repository, err)
	}
	if opts.Transport == nil {
		opts.Transport = http.DefaultTransport
	}
	layer, err := agentLayer(opts.Agent)
	if err != nil {
		return nil, err
	}
	d, err := layer.Digest()
	if err != nil {
		return nil, fmt.Errorf("cloudagent: agent layer: %w", err)
	}
	return &Injector{opts: opts, repo: repo, layer: layer, tag: d.Hex[:12], cache: map[string]Injected{},
		pullers: map[string]registryPuller{}}, nil
}

// agentLayer is a reproducible tar holding the agent at AgentPath.
func agentLayer(bin []byte) (v1.Layer, error) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	epoch := time.Unix(0, 0)
	dir := strings.TrimPrefix(AgentPath[:strings.LastIndex(AgentPath, "/")], "/")
	if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: dir + "/", Mode: 0o755, ModTime: epoch, Format: tar.FormatPAX}); err != nil {
		return nil, err
	}
	if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: strings.TrimPrefix(AgentPath, "/"), Mode: 0o755, Size: int64(len(bin)), ModTime: epoch, Format: tar.FormatPAX}); err != nil {
		return nil, err
	}
	if _, err := tw.Write(bin); err != nil {
		return nil, err
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	b := buf.Bytes()
	return tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(b)), nil })
}

// Repository is where injected images are pushed.
func (in *Injector) Repository() name.Repository { return in.repo }

func (in *Injector) auth(ctx context.Context, reg string) (authn.Authenticator, error) {
	if in.opts.Auth == nil {
		return authn.Anonymous, nil
	}
	return in.opts.Auth(ctx, reg)
}

// Inject returns imageRef with the agent appended, pushing it when it
// does not exist yet.
//
// # Errors
//
// NotFound when the image does not exist; InvalidParameter for a bad
// reference; Unavailable when a registry cannot be reached or refuses.
func (in *Injector) Inject(ctx context.Context, imageRef string) (Injected, error) {
	ref, err := name.ParseReference(imageRef)
	if err != nil {
		return Injected{}, errdefs.InvalidParameterf("invalid reference format: %s", imageRef)
	}
	srcAuth, err := in.auth(ctx, ref.Context().RegistryStr())
	if err != nil {
		return Injected{}, err
	}
	dstAuth, err := in.auth(ctx, in.repo.RegistryStr())
	if err != nil {
		return Injected{}, err
	}
	src, err := in.puller(ctx, ref.Context().RegistryStr(), srcAuth)
	if err != nil {
		return Injected{}, err
	}
	// What the reference names now: a digest names itself; a tag costs
	// one HEAD, and an image injected before is known by it.
	var key string
	if d, ok := ref.(name.Digest); ok {
		key = d.DigestStr()
	} else {
		desc, err := src.Head(ctx, ref)
		if err != nil {
			return Injected{}, classify(imageRef, err)
		}
		key = desc.Digest.String()
	}
	in.mu.Lock()
	res, ok := in.cache[key]
	in.mu.Unlock()
	if ok {
		res.Cached, res.Uploaded = true, 0
		return res, nil
	}
	counter := &countingTransport{base: in.opts.Transport}
	img, err := remote.Image(ref.Context().Digest(key), remote.WithContext(ctx), remote.Reuse(src),
		remote.WithPlatform(v1.Platform{OS: "linux", Architecture: "amd64"}))
	if err != nil {
		return Injected{}, classify(imageRef, err)
	}
	digest, err := img.Digest()
	if err != nil {
		return Injected{}, classify(imageRef, err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return Injected{}, classify(imageRef, err)
	}
	target := in.repo.Tag(fmt.Sprintf("a%s-%s", in.tag, digest.Hex))
	res = Injected{Config: cf.Config}
	if m, err := img.Manifest(); err == nil {
		for _, l := range m.Layers {
			res.Size += l.Size
		}
	}
	if s, err := in.layer.Size(); err == nil {
		res.Size += s
	}
	dst, err := in.puller(ctx, in.repo.RegistryStr(), dstAuth)
	if err != nil {
		return Injected{}, err
	}
	if desc, err := dst.Head(ctx, target); err == nil {
		res.Ref, res.Cached = in.repo.Digest(desc.Digest.String()).String(), true
	} else {
		var te *transport.Error
		if !errors.As(err, &te) || te.StatusCode != http.StatusNotFound {
			return Injected{}, classify(target.String(), err)
		}
		out, err := mutate.AppendLayers(img, in.layer)
		if err != nil {
			return Injected{}, fmt.Errorf("cloudagent: append agent layer: %w", err)
		}
		if err := remote.Write(target, out, remote.WithContext(ctx), remote.WithAuth(dstAuth), remote.WithTransport(counter)); err != nil {
			return Injected{}, classify(target.String(), err)
		}
		d, err := out.Digest()
		if err != nil {
			return Injected{}, err
		}
		res.Ref, res.Uploaded = in.repo.Digest(d.String()).String(), counter.uploaded.Load()
	}
	in.mu.Lock()
	in.cache[key] = res
	in.mu.Unlock()
	return res, nil
}

// puller is reg's Puller for auth: the one made before while auth's
// credentials are the same (an ECR token is refreshed hours apart), so
// its connections and the registry's bearer token are reused.
func (in *Injector) puller(ctx context.Context, reg string, auth authn.Authenticator) (*remote.Puller, error) {
	cfg, err := authn.Authorization(ctx, auth)
	if err != nil {
		return nil, errdefs.Unavailable(fmt.Errorf("registry %s: credentials: %w", reg, err))
	}
	creds := cfg.Username + "\x00" + cfg.Password + "\x00" + cfg.Auth + "\x00" + cfg.IdentityToken + "\x00" + cfg.RegistryToken
	in.mu.Lock()
	defer in.mu.Unlock()
	if rp, ok := in.pullers[reg]; ok && rp.creds == creds {
		return rp.p, nil
	}
	p, err := remote.NewPuller(remote.WithAuth(auth), remote.WithTransport(in.opts.Transport))
	if err != nil {
		return nil, fmt.Errorf("registry %s: %w", reg, err)
	}
	in.pullers[reg] = registryPuller{creds: creds, p: p}
	return p, nil
}

func classify(ref string, err error) error {
	var te *transport.Error
	if errors.As(err, &te) {
		switch te.StatusCode {
		case http.StatusNotFound:
			return errdefs.NotFound(fmt.Errorf("no such image: %s: %w", ref, err))
		case http.StatusUnauthorized, http.StatusForbidden:
			return errdefs.Forbidden(fmt.Errorf("registry refused access to %s: %w", ref, err))
		}
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	return errdefs.Unavailable(fmt.Errorf("registry: %s: %w", ref, err))
}

// countingTransport counts the blob bytes sent in uploads.
type countingTransport struct {
	base     http.RoundTripper
	uploaded atomic.Int64
}

func (c *countingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	if (r.Method == http.MethodPatch || r.Method == http.MethodPut) && strings.Contains(r.URL.Path, "/blobs/uploads/") && r.ContentLength > 0 {
		c.uploaded.Add(r.ContentLength)
	} else if (r.Method == http.MethodPatch || r.Method == http.MethodPut) && strings.Contains(r.URL.Path, "/blobs/uploads/") && r.Body != nil {
		r.Body = &countingBody{ReadCloser: r.Body, n: &c.uploaded}
	}
	return c.base.RoundTrip(r)
}

type countingBody struct {
	io.ReadCloser
	n *atomic.Int64
}

func (b *countingBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	b.n.Add(int64(n))
	return n, err
}
