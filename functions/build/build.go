package build

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/distribution/reference"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/moby/moby/api/types/events"
	"github.com/moby/moby/api/types/jsonstream"
	"github.com/moby/moby/api/types/registry"
	"github.com/sockerless/sockerless/build"
	"github.com/sockerless/sockerless/functions/httpx"
	"github.com/sockerless/sockerless/functions/internal/core"
	"github.com/sockerless/sockerless/functions/records"
	"github.com/sockerless/sockerless/internal/errdefs"
	"github.com/sockerless/sockerless/providers"
)

// postBuild serves POST /build with the classic builder (package build):
// the body is the context tar. Everything that can be checked before the
// build runs (tags, options, the Dockerfile) is an ordinary HTTP error;
// after that, progress and failures travel in the JSON stream as Docker
// sends them.
func (a *Router) postBuild(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	q := r.URL.Query()
	if q.Get("version") == "2" {
		return errdefs.NotImplementedf("BuildKit builds (version=2) are not supported by sockerless; use the classic builder (DOCKER_BUILDKIT=0)")
	}
	if q.Get("remote") != "" {
		return errdefs.NotImplementedf("building from a remote context is not supported by sockerless; send the context as the request body")
	}
	if p := q.Get("platform"); p != "" && p != "linux/amd64" && p != "linux" {
		return errdefs.NotImplementedf("build platform %s is not supported by sockerless: only linux/amd64", p)
	}
	var tags []string
	for _, t := range q["t"] {
		n, err := records.NormalizeRef(t)
		if err != nil {
			return err
		}
		if named, _ := reference.ParseNormalizedNamed(t); named != nil {
			if _, ok := named.(reference.Digested); ok {
				return errdefs.InvalidParameterf("invalid reference format: %s: a tag cannot contain a digest", t)
			}
		}
		tags = append(tags, n)
	}
	opts := build.Options{Dockerfile: q.Get("dockerfile"), Target: q.Get("target"), Pull: q.Get("pull") != "" && q.Get("pull") != "0" && q.Get("pull") != "false"}
	for param, dst := range map[string]any{"buildargs": &opts.BuildArgs, "labels": &opts.Labels} {
		if v := q.Get(param); v != "" {
			if err := json.Unmarshal([]byte(v), dst); err != nil {
				return errdefs.InvalidParameterf("invalid %s: %v", param, err)
			}
		}
	}
	bp, platformBuilds := providers.As[providers.Builder](a.provider)
	ls := a.b.LayerStore()
	if ls == nil && !platformBuilds {
		return errdefs.NotImplementedf("docker build needs a provider that runs image filesystems (the embedded memory provider) or builds images itself (the docker provider); provider %s does neither", a.provider.Name())
	}
	auth := map[string]registry.AuthConfig{}
	if h := r.Header.Get("X-Registry-Config"); h != "" {
		if b, err := decodeBase64(h); err == nil {
			_ = json.Unmarshal(b, &auth)
		}
	}
	// The context may be larger than the platform accepts: it then comes
	// from the relay's blob store (blob.go), once the request is known
	// to be acceptable.
	body, answered, err := a.b.RequestBody(w, r, core.BlobBuild)
	if err != nil || answered {
		return err
	}
	defer body.Close()
	if platformBuilds {
		return a.platformBuild(r, w, bp, body, opts, tags)
	}
	runner, _ := providers.As[providers.RootRunner](a.provider)
	bc := build.Config{Layers: ls, Runner: runner, Resolver: buildResolver{a: a, auth: auth}}
	if dr, ok := providers.As[providers.DefaultRooter](a.provider); ok {
		bc.DefaultRoot = dr.DefaultRoot
	}
	b, err := build.New(bc)
	if err != nil {
		return err
	}
	plan, err := b.Prepare(ctx, body, opts)
	if err != nil {
		return err
	}
	defer plan.Close()
	p := core.NewProgress(w)
	out := streamWriter{p: p, discard: httpx.BoolValue(r, "q")}
	res, err := plan.Run(ctx, out)
	if err != nil {
		msg := err.Error()
		code := 0
		var re *build.RunError
		if errors.As(err, &re) {
			code = re.Code
		}
		p.Fail(msg, code)
		return nil
	}
	img := &records.Image{ID: res.ID, Created: res.Config.Created.Time, Config: res.Config, Source: "build"}
	for _, l := range res.Layers {
		img.Layers = append(img.Layers, records.Layer{Digest: l.DiffID, DiffID: l.DiffID, Size: l.Size, MediaType: "application/vnd.docker.image.rootfs.diff.tar"})
		img.Size += l.Size
	}
	a.recordBuilt(ctx, p, out, img, tags)
	return nil
}

// recordBuilt stores a built image, tags it and answers the build's
// closing messages (the image id, "Successfully built", one
// "Successfully tagged" per tag), as Docker's classic builder does.
func (a *Router) recordBuilt(ctx context.Context, p *core.Progress, out streamWriter, img *records.Image, tags []string) {
	if err := a.st.PutImage(ctx, img); err != nil {
		p.Fail(err.Error(), 0)
		return
	}
	id, _ := json.Marshal(map[string]string{"ID": img.ID})
	aux := json.RawMessage(id)
	p.Send(jsonstream.Message{Aux: &aux})
	out.Write([]byte("Successfully built " + core.ShortDigest(img.ID) + "\n"))
	for _, t := range tags {
		if err := a.st.SetTag(ctx, t, img); err != nil {
			p.Fail(err.Error(), 0)
			return
		}
		a.b.Event(ctx, events.ImageEventType, events.ActionTag, img.ID, map[string]string{"name": t})
		out.Write([]byte("Successfully tagged " + t + "\n"))
	}
}

// platformBuild has the provider's platform build the image
// (providers.Builder) and records what it built.
func (a *Router) platformBuild(r *http.Request, w http.ResponseWriter, bp providers.Builder, body io.Reader, opts build.Options, tags []string) error {
	ctx := r.Context()
	p := core.NewProgress(w)
	out := streamWriter{p: p, discard: httpx.BoolValue(r, "q")}
	res, err := bp.Build(ctx, body, providers.BuildOptions{
		Dockerfile: opts.Dockerfile, Target: opts.Target, Pull: opts.Pull, NoCache: httpx.BoolValue(r, "nocache"),
		BuildArgs: opts.BuildArgs, Labels: opts.Labels,
	}, out)
	if err != nil {
		code := 0
		var be *providers.BuildError
		if errors.As(err, &be) {
			code = be.Code
		}
		p.Fail(err.Error(), code)
		return nil
	}
	img := &records.Image{ID: res.ID, Created: res.Config.Created.Time, Config: res.Config, Size: res.Size, Source: "build"}
	a.recordBuilt(ctx, p, out, img, tags)
	return nil
}

// streamWriter sends each write as a {"stream": ...} progress message.
type streamWriter struct {
	p       *core.Progress
	discard bool
}

func (s streamWriter) Write(b []byte) (int, error) {
	if !s.discard && len(b) > 0 {
		s.p.Send(jsonstream.Message{Stream: string(b)})
	}
	return len(b), nil
}

// buildResolver finds FROM images in the store, pulling (with the
// build's registry credentials) when missing or asked to.
type buildResolver struct {
	a    *Router
	auth map[string]registry.AuthConfig
}

func (br buildResolver) Resolve(ctx context.Context, ref string, pull bool) (string, *v1.ConfigFile, error) {
	a := br.a
	if !pull {
		img, err := a.st.Image(ctx, ref)
		if err == nil {
			return img.ID, &img.Config, nil
		}
		if !errdefs.IsNotFound(err) {
			return "", nil, err
		}
	}
	named, err := reference.ParseNormalizedNamed(ref)
	if err != nil {
		return "", nil, errdefs.InvalidParameterf("invalid reference format: %s", ref)
	}
	named = reference.TagNameOnly(named)
	auth := br.auth[reference.Domain(named)]
	if reference.Domain(named) == "docker.io" {
		if a2, ok := br.auth["https://index.docker.io/v1/"]; ok {
			auth = a2
		}
	}
	pctx, cancel := context.WithTimeout(ctx, a.cfg.PullTimeout)
	defer cancel()
	var img *records.Image
	var layers []v1.Layer
	if lf, ok := a.cfg.Registry.(core.LayerFetcher); ok {
		img, layers, err = lf.FetchLayers(pctx, named.String(), "", auth)
	} else {
		img, err = a.cfg.Registry.Fetch(pctx, named.String(), "", auth)
	}
	if err == nil {
		err = a.b.StoreLayers(layers)
	}
	if err != nil && errors.Is(err, core.ErrRegistryUnreachable) {
		// As docker pull does offline (imageCreate).
		img, err = a.offlineImage(ctx, reference.FamiliarString(named), err)
	}
	if err != nil {
		return "", nil, fmt.Errorf("FROM %s: %w", reference.FamiliarString(named), err)
	}
	if err := a.st.PutImage(ctx, img); err != nil {
		return "", nil, err
	}
	if _, digested := named.(reference.Digested); !digested {
		if err := a.st.SetTag(ctx, reference.FamiliarString(named), img); err != nil {
			return "", nil, err
		}
	}
	return img.ID, &img.Config, nil
}

// decodeBase64 reads a base64url header value, padded or not.
func decodeBase64(h string) ([]byte, error) {
	return base64.RawURLEncoding.DecodeString(strings.TrimRight(h, "="))
}
