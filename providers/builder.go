package providers

import (
	"context"
	"io"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// Builder is an optional extension of a provider whose platform builds
// images itself: the docker provider hands docker build to its engine's
// classic builder, whose RUN steps run as engine containers, and whose
// images its workloads then run. The control plane records the image
// the platform built and tags it. A provider without it builds with
// the in-process builder when it keeps layers (LayerKeeper); otherwise
// docker build answers 501.
type Builder interface {
	// Build builds the Dockerfile in contextTar (a tar of the build
	// context), writing the build's output text (Docker's "stream"
	// messages) to out as it comes. A step that fails is a *BuildError.
	Build(ctx context.Context, contextTar io.Reader, opts BuildOptions, out io.Writer) (Built, error)
}

// BuildOptions are a build's settings (docker build's flags).
type BuildOptions struct {
	// Dockerfile is the Dockerfile's path in the context; empty means
	// "Dockerfile".
	Dockerfile string
	// Target is the stage to stop at; empty means the last.
	Target string
	// Pull re-pulls base images; NoCache builds every step again.
	Pull, NoCache bool
	// BuildArgs are --build-arg values (nil: from the environment).
	BuildArgs map[string]*string
	// Labels are added to the image.
	Labels map[string]string
}

// Built is an image a Builder made.
type Built struct {
	// ID is the image's id ("sha256:...").
	ID string
	// Config is its configuration.
	Config v1.ConfigFile
	// Size is the bytes of its layers.
	Size int64
}

// BuildError is a failed build: Docker's message and, for a RUN step
// that exited non-zero, its exit code (0 otherwise).
type BuildError struct {
	Message string
	Code    int
}

func (e *BuildError) Error() string { return e.Message }
