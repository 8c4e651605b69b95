package providers

import (
	"context"
	"io"
)

// PlatformFS is an optional extension of a provider whose platform
// reads its workloads' filesystems itself: the docker provider's engine
// keeps each container's layer, so docker diff, export and commit are
// the engine's. The control plane uses it for a provider that is no
// Archiver. Paths the provider adds to every workload (its agent's
// mount point) are left out of what it answers.
type PlatformFS interface {
	// Changes lists the paths added, changed and deleted in container
	// id's filesystem since it was created from its image, sorted by path.
	Changes(ctx context.Context, id string) ([]Change, error)
	// Export returns a tar of container id's filesystem (mounted content
	// left out, as docker export does).
	Export(ctx context.Context, id string) (io.ReadCloser, error)
	// Commit makes an image of container id's filesystem on the
	// platform (the container is paused by the caller when asked): the
	// image's layers are its image's and one of the container's
	// changes. The image's configuration is the control plane's, so
	// only the layers are answered.
	Commit(ctx context.Context, id string) (Committed, error)
}

// Change is one entry of docker diff: Kind is Docker's 0 changed,
// 1 added, 2 deleted.
type Change struct {
	Path string
	Kind uint8
}

// Committed is the filesystem of a committed image on the platform.
type Committed struct {
	// DiffIDs are the image's layers, bottom first.
	DiffIDs []string
	// Size is the bytes of its layers.
	Size int64
}

// IdleArchiver is an optional extension of a provider whose workloads'
// files are served by their agents while they run (docker cp through
// the relay) and whose platform reaches them when they do not (the
// docker provider: the engine's archive endpoints serve created and
// exited containers), where no agent is there to ask.
type IdleArchiver interface {
	// IdleArchive is the Archiver for workloads that are not running.
	IdleArchive() Archiver
}

// StorageDriverer is an optional extension of a provider whose platform
// stores containers' filesystems with a storage driver of its own (the
// docker provider: its engine's, "overlay2"): inspect's Driver and
// GraphDriver name it. Without it they name sockerless.
type StorageDriverer interface {
	// StorageDriver is the driver's name; empty when the platform could
	// not tell.
	StorageDriver(ctx context.Context) string
}

// LayerExporter is an optional extension of a provider whose platform
// keeps the layers of the images its workloads run (the docker
// provider's engine), for a provider that keeps none itself
// (LayerKeeper): docker save reads an image's layers from it.
type LayerExporter interface {
	// ExportLayers writes the layers of image imageID (diffIDs, bottom
	// first) into dir, each as an uncompressed tar named by its diff id's
	// hex digits.
	ExportLayers(ctx context.Context, imageID string, diffIDs []string, dir string) error
}
