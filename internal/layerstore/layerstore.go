// Package layerstore is a content-addressed store of image layers on
// local disk: each layer is kept as its uncompressed tar, named by its
// diff id (the sha256 of that tar), so the same layer shared by many
// images is stored once. Images loaded with docker load, pulled from a
// registry or produced by docker build put their layers here; the memory
// provider unpacks them into container roots.
//
// A Store is safe for concurrent use by goroutines and by processes
// sharing its directory: blobs are written to a temporary file and
// renamed into place once their digest is verified, so a reader never
// sees a partial blob.
package layerstore

import (
	"bufio"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/sockerless/sockerless/internal/errdefs"
)

// Store keeps layer blobs under one directory.
type Store struct {
	dir string
}

// Info describes a stored layer.
type Info struct {
	// DiffID is "sha256:<hex>" of the uncompressed tar.
	DiffID string
	// Size is the uncompressed tar's size in bytes.
	Size int64
}

// New opens (creating it if needed) the store in dir.
func New(dir string) (*Store, error) {
	if err := os.MkdirAll(filepath.Join(dir, "sha256"), 0o755); err != nil {
		return nil, fmt.Errorf("layerstore: %w", err)
	}
	return &Store{dir: dir}, nil
}

// path returns where the blob of diffID lives, or an InvalidParameter
// error for anything but "sha256:" and 64 lowercase hex digits.
func (s *Store) path(diffID string) (string, error) {
	hexPart, ok := strings.CutPrefix(diffID, "sha256:")
	if !ok || len(hexPart) != 64 || strings.Trim(hexPart, "0123456789abcdef") != "" {
		return "", errdefs.InvalidParameterf("layerstore: invalid diff id %q", diffID)
	}
	return filepath.Join(s.dir, "sha256", hexPart), nil
}

// Has reports whether the layer diffID is stored.
func (s *Store) Has(diffID string) bool {
	p, err := s.path(diffID)
	if err != nil {
		return false
	}
	_, err = os.Stat(p)
	return err == nil
}

// HasAll reports whether every layer of diffIDs is stored.
func (s *Store) HasAll(diffIDs []string) bool {
	for _, d := range diffIDs {
		if !s.Has(d) {
			return false
		}
	}
	return true
}

// Open returns the uncompressed tar of layer diffID.
//
// # Errors
//
// NotFound when the layer is not stored.
func (s *Store) Open(diffID string) (io.ReadCloser, error) {
	p, err := s.path(diffID)
	if err != nil {
		return nil, err
	}
	f, err := os.Open(p)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, errdefs.NotFoundf("layerstore: layer %s is not stored", diffID)
	}
	return f, err
}

// Put stores the tar read from r, gzip-compressed or not (detected), and
// returns its diff id and uncompressed size. When want is not empty the
// digest must equal it, else nothing is stored and the error is
// InvalidParameter.
func (s *Store) Put(r io.Reader, want string) (Info, error) {
	br := bufio.NewReaderSize(r, 64<<10)
	var src io.Reader = br
	if magic, err := br.Peek(2); err == nil && magic[0] == 0x1f && magic[1] == 0x8b {
		zr, err := gzip.NewReader(br)
		if err != nil {
			return Info{}, errdefs.InvalidParameterf("layerstore: gzip: %v", err)
		}
		defer zr.Close()
		src = zr
	}
	tmp, err := os.CreateTemp(s.dir, "put-*")
	if err != nil {
		return Info{}, fmt.Errorf("layerstore: %w", err)
	}
	defer os.Remove(tmp.Name())
	h := sha256.New()
	n, err := io.Copy(io.MultiWriter(tmp, h), src)
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return Info{}, fmt.Errorf("layerstore: writing layer: %w", err)
	}
	info := Info{DiffID: "sha256:" + hex.EncodeToString(h.Sum(nil)), Size: n}
	if want != "" && want != info.DiffID {
		return Info{}, errdefs.InvalidParameterf("layerstore: layer digest %s does not match the expected %s", info.DiffID, want)
	}
	dst, _ := s.path(info.DiffID)
	if err := os.Rename(tmp.Name(), dst); err != nil {
		return Info{}, fmt.Errorf("layerstore: %w", err)
	}
	return info, nil
}

// Stat describes the stored layer diffID.
//
// # Errors
//
// NotFound when the layer is not stored.
func (s *Store) Stat(diffID string) (Info, error) {
	p, err := s.path(diffID)
	if err != nil {
		return Info{}, err
	}
	fi, err := os.Stat(p)
	if errors.Is(err, fs.ErrNotExist) {
		return Info{}, errdefs.NotFoundf("layerstore: layer %s is not stored", diffID)
	}
	if err != nil {
		return Info{}, err
	}
	return Info{DiffID: diffID, Size: fi.Size()}, nil
}
