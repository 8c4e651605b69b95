package records

import (
	"context"
	"strings"
	"time"

	"github.com/distribution/reference"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/sockerless/sockerless/internal/errdefs"
)

// Image is an image's stored record. Its tags are separate Tag records
// grouped by image id, so moving a tag is one conditional write.
type Image struct {
	ID          string        `json:"id"` // sha256:<config digest>
	RepoDigests []string      `json:"repoDigests,omitempty"`
	Created     time.Time     `json:"created"`
	Size        int64         `json:"size"`
	Config      v1.ConfigFile `json:"config"`
	// Layers lists the image's layers in order, for providers that unpack
	// them; empty for images known only by their config.
	Layers []Layer `json:"layers,omitempty"`
	// Source says where the image came from: "pull", "load", "build",
	// "import", or "placeholder" (registry unreachable; config only).
	Source string `json:"source"`
	// Comment is shown by docker history/inspect.
	Comment string `json:"comment,omitempty"`
	Parent  string `json:"parent,omitempty"`
}

// Layer is one filesystem layer of an image.
type Layer struct {
	Digest    string `json:"digest"`
	DiffID    string `json:"diffId"`
	Size      int64  `json:"size"`
	MediaType string `json:"mediaType"`
}

// Tag maps a familiar reference ("alpine:3.20") to an image id.
type Tag struct {
	Ref     string `json:"ref"`
	ImageID string `json:"imageId"`
	// Image is a copy of the image record, so resolving a tag (every
	// docker run) is one store read. An image's id is its config digest,
	// so the copy only goes stale if the record gains layers or digests;
	// PutImage refreshes the copies then.
	Image *Image `json:"image,omitempty"`
}

var images = kind[Image]{
	name: KindImage,
	id:   func(i *Image) string { return i.ID },
}

var tags = kind[Tag]{
	name:  KindTag,
	id:    func(t *Tag) string { return t.Ref },
	group: func(t *Tag) string { return t.ImageID },
}

// ErrNoSuchImage is the error Docker gives for an unknown image.
func ErrNoSuchImage(ref string) error { return errdefs.NotFoundf("No such image: %s", ref) }

// NormalizeRef parses a user's image reference and returns its familiar
// form with a default ":latest" tag ("alpine" → "alpine:latest",
// "docker.io/library/alpine:3" → "alpine:3"). Digest references keep
// their digest.
func NormalizeRef(ref string) (string, error) {
	named, err := reference.ParseNormalizedNamed(ref)
	if err != nil {
		return "", errdefs.InvalidParameterf("invalid reference format: %s", ref)
	}
	return reference.FamiliarString(reference.TagNameOnly(named)), nil
}

// PutImage stores an image record, replacing one with the same id.
func (st *Store) PutImage(ctx context.Context, img *Image) error {
	err := images.create(ctx, st.s, img)
	if !errdefs.IsConflict(err) {
		return err
	}
	if _, err = images.mutate(ctx, st.s, img.ID, func(cur *Image) error { *cur = *img; return nil }, Change[Image]{}); err != nil {
		return err
	}
	// A replaced image refreshes the copies its tags carry.
	ts, err := tags.list(ctx, st.s, img.ID)
	if err != nil {
		return err
	}
	for _, t := range ts {
		if _, err := tags.mutate(ctx, st.s, t.Ref, func(cur *Tag) error {
			if cur.ImageID == img.ID {
				cur.Image = img
			}
			return nil
		}, Change[Tag]{}); err != nil && !errdefs.IsNotFound(err) {
			return err
		}
	}
	return nil
}

// SetTag points ref (normalized) at img, moving it from any other image.
func (st *Store) SetTag(ctx context.Context, ref string, img *Image) error {
	ref, err := NormalizeRef(ref)
	if err != nil {
		return err
	}
	t := &Tag{Ref: ref, ImageID: img.ID, Image: img}
	err = tags.create(ctx, st.s, t)
	if errdefs.IsConflict(err) {
		_, err = tags.mutate(ctx, st.s, ref, func(cur *Tag) error { cur.ImageID, cur.Image = img.ID, img; return nil }, Change[Tag]{})
	}
	return err
}

// RemoveTag deletes ref; it returns NotFound if it is not a tag.
func (st *Store) RemoveTag(ctx context.Context, ref string) error {
	n, err := NormalizeRef(ref)
	if err != nil {
		return err
	}
	if err := tags.delete(ctx, st.s, n, 0); err != nil {
		if errdefs.IsNotFound(err) {
			return ErrNoSuchImage(ref)
		}
		return err
	}
	return nil
}

// TagsOf lists the familiar references that point at imageID, sorted.
func (st *Store) TagsOf(ctx context.Context, imageID string) ([]string, error) {
	ts, err := tags.list(ctx, st.s, imageID)
	if err != nil {
		return nil, err
	}
	out := make([]string, 0, len(ts))
	for _, t := range ts {
		out = append(out, t.Ref)
	}
	return out, nil
}

// Tags lists every tag.
func (st *Store) Tags(ctx context.Context) ([]*Tag, error) { return tags.list(ctx, st.s, "") }

// Image resolves ref to an image: a tag or name ("alpine" means
// "alpine:latest"), a full or short id with or without "sha256:", or a
// repo digest reference.
func (st *Store) Image(ctx context.Context, ref string) (*Image, error) {
	notFound := func() error { return ErrNoSuchImage(ref) }
	if ref == "" {
		return nil, notFound()
	}
	if n, err := NormalizeRef(ref); err == nil {
		if t, _, err := tags.get(ctx, st.s, n); err == nil {
			if t.Image != nil && t.Image.ID == t.ImageID {
				return t.Image, nil
			}
			img, _, err := images.get(ctx, st.s, t.ImageID)
			if errdefs.IsNotFound(err) {
				return nil, notFound()
			}
			return img, err
		} else if !errdefs.IsNotFound(err) {
			return nil, err
		}
	}
	id := ref
	if !strings.HasPrefix(id, "sha256:") && isHex(id) {
		id = "sha256:" + id
	}
	if strings.HasPrefix(id, "sha256:") {
		if img, _, err := images.get(ctx, st.s, id); err == nil {
			return img, nil
		} else if !errdefs.IsNotFound(err) {
			return nil, err
		}
	}
	// A digest reference ("name@sha256:...") matches an image pulled by
	// that manifest digest, whatever name it was pulled under.
	_, digest, byDigest := strings.Cut(ref, "@")
	all, err := images.list(ctx, st.s, "")
	if err != nil {
		return nil, err
	}
	var match *Image
	for _, img := range all {
		hit := strings.HasPrefix(id, "sha256:") && len(id) > len("sha256:") && strings.HasPrefix(img.ID, id)
		for _, d := range img.RepoDigests {
			if _, dd, _ := strings.Cut(d, "@"); byDigest && dd == digest {
				hit = true
			}
		}
		if !hit {
			continue
		}
		if match != nil && match.ID != img.ID {
			return nil, errdefs.InvalidParameterf("multiple IDs found with provided prefix: %s", ref)
		}
		match = img
	}
	if match == nil {
		return nil, notFound()
	}
	return match, nil
}

func isHex(s string) bool {
	if len(s) == 0 || len(s) > 64 {
		return false
	}
	for _, c := range s {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}

// Images lists every image.
func (st *Store) Images(ctx context.Context) ([]*Image, error) { return images.list(ctx, st.s, "") }

// DeleteImage removes image id (its tags must be removed by the caller).
func (st *Store) DeleteImage(ctx context.Context, id string) error {
	err := images.delete(ctx, st.s, id, 0)
	if errdefs.IsNotFound(err) {
		return ErrNoSuchImage(id)
	}
	return err
}
