package awscloud

import (
	"archive/tar"
	"bytes"
	"context"
	"fmt"
	"io"
	"slices"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/sockerless/sockerless/internal/testutil/dockerengine"
)

// DebianImage is an image PushDebian pushes: the Debian minbase root
// with Packages installed, Files (path: content, mode 0755) in a layer
// above it, and Config as its configuration (PATH defaults to the
// official image's).
type DebianImage struct {
	// Name is the repository and tag in the registry, e.g. "node:bookworm".
	Name     string
	Packages []string
	Files    map[string]string
	Config   v1.Config
}

// PushDebian pushes img to the registry, where a task can pull it, and
// returns its reference. The root with the packages is built once per
// machine on the cloud's engine and cached (dockerengine.DebianWithTar);
// images of the same package list share its layer, so the registry
// stores it once. No public registry is needed: Debian's mirror is.
func (c *Cloud) PushDebian(ctx context.Context, img DebianImage) (string, error) {
	path, err := dockerengine.DebianWithTar(ctx, c.EngineHost, img.Packages...)
	if err != nil {
		return "", err
	}
	base, err := tarball.LayerFromFile(path)
	if err != nil {
		return "", fmt.Errorf("awscloud: layer of %s: %w", path, err)
	}
	layers := []v1.Layer{base}
	if len(img.Files) > 0 {
		l, err := filesLayer(img.Files)
		if err != nil {
			return "", err
		}
		layers = append(layers, l)
	}
	out, err := mutate.AppendLayers(empty.Image, layers...)
	if err != nil {
		return "", err
	}
	cf, err := out.ConfigFile()
	if err != nil {
		return "", err
	}
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture = "linux", "amd64"
	cf.Config = img.Config
	if len(cf.Config.Env) == 0 {
		cf.Config.Env = []string{"PATH=" + dockerengine.DefaultPath}
	}
	if out, err = mutate.ConfigFile(out, cf); err != nil {
		return "", err
	}
	ref, err := name.ParseReference(c.Registry + "/" + img.Name)
	if err != nil {
		return "", err
	}
	if err := remote.Write(ref, out, remote.WithContext(ctx)); err != nil {
		return "", fmt.Errorf("awscloud: push %s: %w", ref, err)
	}
	return ref.String(), nil
}

// filesLayer is a layer holding files (mode 0755) and their folders.
func filesLayer(files map[string]string) (v1.Layer, error) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	mt := time.Unix(0, 0)
	names := make([]string, 0, len(files))
	for n := range files {
		names = append(names, n)
	}
	slices.Sort(names)
	for _, n := range names {
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: n, Mode: 0o755, Size: int64(len(files[n])), ModTime: mt}); err != nil {
			return nil, err
		}
		if _, err := io.WriteString(tw, files[n]); err != nil {
			return nil, err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	b := buf.Bytes()
	return tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(b)), nil })
}
