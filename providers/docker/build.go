package docker

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/moby/moby/api/types/build"
	"github.com/moby/moby/api/types/image"
	"github.com/moby/moby/api/types/jsonstream"
	"github.com/moby/moby/client"
	"github.com/sockerless/sockerless/providers"
)

// Build implements providers.Builder with the engine's classic builder:
// the workloads run the engine's images, so the engine builds them, its
// RUN steps running as engine containers exactly as on Docker. The image
// gets no tag on the engine (Sockerless keeps the tags; a container of a
// tag only Sockerless knows runs the engine image of the record's id, see
// engineImage). The engine's output is passed on as it comes, but for
// its closing "Successfully built" line, which the control plane writes
// with the tags.
func (p *Provider) Build(ctx context.Context, contextTar io.Reader, opts providers.BuildOptions, out io.Writer) (providers.Built, error) {
	res, err := p.opts.Client.ImageBuild(ctx, contextTar, client.ImageBuildOptions{
		Version:     build.BuilderV1,
		Dockerfile:  opts.Dockerfile,
		Target:      opts.Target,
		PullParent:  opts.Pull,
		NoCache:     opts.NoCache,
		BuildArgs:   opts.BuildArgs,
		Labels:      opts.Labels,
		Remove:      true,
		ForceRemove: true,
	})
	if err != nil {
		return providers.Built{}, &providers.BuildError{Message: engineMessage(err)}
	}
	defer res.Body.Close()
	var id string
	dec := json.NewDecoder(res.Body)
	for {
		var m jsonstream.Message
		if err := dec.Decode(&m); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			return providers.Built{}, fmt.Errorf("docker provider: build output: %w", err)
		}
		switch {
		case m.Error != nil:
			return providers.Built{}, &providers.BuildError{Message: m.Error.Message, Code: m.Error.Code}
		case m.Aux != nil:
			var aux struct{ ID string }
			if json.Unmarshal(*m.Aux, &aux) == nil && aux.ID != "" {
				id = aux.ID
			}
		case m.Stream != "" && !strings.HasPrefix(m.Stream, "Successfully built "):
			if _, err := io.WriteString(out, m.Stream); err != nil {
				return providers.Built{}, err
			}
		}
	}
	if id == "" {
		return providers.Built{}, errors.New("docker provider: the engine's build ended without an image")
	}
	img, err := p.opts.Client.ImageInspect(ctx, id)
	if err != nil {
		return providers.Built{}, classify(err)
	}
	cfg, err := ConfigOf(img.InspectResponse)
	if err != nil {
		return providers.Built{}, err
	}
	return providers.Built{ID: img.ID, Config: cfg, Size: img.Size}, nil
}

// engineMessage is an engine error's message without the client's
// "Error response from daemon: " prefix (the control plane's own answer
// gets the CLI's).
func engineMessage(err error) string {
	return strings.TrimPrefix(err.Error(), "Error response from daemon: ")
}

// ConfigOf is an engine image's configuration in the registry's shape,
// as Sockerless keeps images.
func ConfigOf(img image.InspectResponse) (v1.ConfigFile, error) {
	var cf v1.ConfigFile
	cf.Architecture, cf.OS, cf.Variant = img.Architecture, img.Os, img.Variant
	if t, err := time.Parse(time.RFC3339Nano, img.Created); err == nil {
		cf.Created = v1.Time{Time: t}
	}
	cf.Author = img.Author
	if img.Config != nil {
		b, err := json.Marshal(img.Config)
		if err == nil {
			err = json.Unmarshal(b, &cf.Config)
		}
		if err != nil {
			return cf, fmt.Errorf("docker provider: image %s config: %w", img.ID, err)
		}
	}
	cf.RootFS.Type = img.RootFS.Type
	for _, l := range img.RootFS.Layers {
		if h, err := v1.NewHash(l); err == nil {
			cf.RootFS.DiffIDs = append(cf.RootFS.DiffIDs, h)
		}
	}
	return cf, nil
}
