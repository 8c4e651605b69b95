package containers

import (
	"archive/tar"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"path"
	"sort"
	"strings"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/events"
	"github.com/sockerless/sockerless/functions/httpx"
	"github.com/sockerless/sockerless/functions/internal/core"
	"github.com/sockerless/sockerless/functions/records"
	"github.com/sockerless/sockerless/internal/errdefs"
	"github.com/sockerless/sockerless/providers"
)

// docker diff and docker export read a container's whole root. A provider
// whose workloads' files are in this process (providers.Archiver) serves
// both from the root's tar; the changes compare it with the image's
// layers from the provider's layer store. Any other provider answers 501:
// its workloads' files are only reachable through their agents while they
// run, and no layer baseline is kept for them.

// fsEntry is what a change is judged on: type, permission bits, size,
// modification time (seconds, as layers keep it) and link target.
type fsEntry struct {
	typ   byte
	mode  int64
	size  int64
	mtime int64
	link  string
}

func entryOf(h *tar.Header) fsEntry {
	typ := h.Typeflag
	if typ == 0 { // the pre-POSIX regular file flag
		typ = tar.TypeReg
	}
	e := fsEntry{typ: typ, mode: h.Mode & 0o7777, mtime: h.ModTime.Unix(), link: h.Linkname}
	if typ == tar.TypeReg {
		e.size = h.Size
	}
	return e
}

// tarPath turns an archive entry name ("bin/sh", "./bin/sh", "/bin/sh",
// "//bin/sh") into an absolute clean path; the root itself is "/".
func tarPath(name string) string {
	return path.Clean("/" + strings.TrimPrefix(name, "./"))
}

// skeletonPaths are what a provider adds to every root that Docker keeps
// out of a container's changes (its init layer and bind-mounted /etc
// files): ignored when added, and the /etc files also when changed.
var (
	skeletonPaths = map[string]bool{
		"/bin": true, "/dev": true, "/dev/null": true, "/etc": true, "/home": true, "/proc": true, "/root": true,
		"/sbin": true, "/tmp": true, "/usr": true, "/usr/bin": true, "/usr/local": true, "/usr/local/bin": true,
		"/usr/sbin": true, "/var": true, "/var/tmp": true, "/etc/passwd": true, "/etc/group": true, "/sys": true,
		"/etc/hostname": true, "/etc/hosts": true, "/etc/resolv.conf": true, "/.dockerenv": true,
	}
	mountedEtc = map[string]bool{"/etc/hostname": true, "/etc/hosts": true, "/etc/resolv.conf": true}
)

// fsTarget is a container whose root this process can read, or whose
// provider's platform reads it (providers.PlatformFS: the Archiver is
// then nil).
func (a *Router) fsTarget(ctx context.Context, id, what string) (*records.Container, providers.Archiver, error) {
	c, err := a.st.Container(ctx, id)
	if err != nil {
		return nil, nil, err
	}
	ar, ok := providers.As[providers.Archiver](a.provider)
	if _, platform := providers.As[providers.PlatformFS](a.provider); !ok && platform {
		// The platform reads the container's files (ar stays nil).
		return c, nil, nil
	}
	if !ok {
		return nil, nil, errdefs.NotImplementedf("%s is not supported by the %s provider: its workloads' files are reachable only through their agents", what, a.provider.Name())
	}
	return c, ar, nil
}

// underMount reports whether p is a mount point or below one: mounted
// content is no part of the container's own filesystem.
func underMount(c *records.Container, p string) bool {
	for _, m := range core.ContainerMounts(c) {
		d := path.Clean(m.Destination)
		if p == d || strings.HasPrefix(p, d+"/") {
			return true
		}
	}
	for d := range c.HostConfig.Tmpfs {
		d = path.Clean(d)
		if p == d || strings.HasPrefix(p, d+"/") {
			return true
		}
	}
	return false
}

// rootEntries reads the container's root as path → entry, without its
// mounts.
func rootEntries(ctx context.Context, ar providers.Archiver, c *records.Container) (map[string]fsEntry, error) {
	rc, _, err := ar.GetArchive(ctx, c.ID, "/")
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	out := map[string]fsEntry{}
	tr := tar.NewReader(rc)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return nil, fmt.Errorf("reading the root of %s: %w", c.ID, err)
		}
		p := tarPath(h.Name)
		if p == "/" || (underMount(c, p) && !isMountPoint(c, p)) {
			continue
		}
		out[p] = entryOf(h)
	}
}

// aboveMountPoint reports whether p is a mount point or a folder above one.
func aboveMountPoint(c *records.Container, p string) bool {
	var dests []string
	for _, m := range core.ContainerMounts(c) {
		dests = append(dests, path.Clean(m.Destination))
	}
	for d := range c.HostConfig.Tmpfs {
		dests = append(dests, path.Clean(d))
	}
	for _, d := range dests {
		if d == p || strings.HasPrefix(d, p+"/") {
			return true
		}
	}
	return false
}

func isMountPoint(c *records.Container, p string) bool {
	for _, m := range core.ContainerMounts(c) {
		if path.Clean(m.Destination) == p {
			return true
		}
	}
	_, ok := c.HostConfig.Tmpfs[p]
	return ok
}

// imageEntries merges the image's layers (whiteouts applied) as
// path → entry. ok is false when the image's layers are not stored.
func (a *Router) imageEntries(ctx context.Context, c *records.Container) (map[string]fsEntry, bool, error) {
	ls := a.b.LayerStore()
	if ls == nil {
		return nil, false, nil
	}
	img, err := a.st.Image(ctx, c.Image)
	if err != nil {
		return nil, false, err
	}
	diffs := core.ImageLayers(img)
	if len(diffs) == 0 || !ls.HasAll(diffs) {
		return nil, false, nil
	}
	out := map[string]fsEntry{}
	for _, d := range diffs {
		rc, err := ls.Open(d)
		if err != nil {
			return nil, false, err
		}
		err = mergeLayer(out, rc)
		rc.Close()
		if err != nil {
			return nil, false, fmt.Errorf("layer %s: %w", d, err)
		}
	}
	return out, true, nil
}

func mergeLayer(out map[string]fsEntry, r io.Reader) error {
	tr := tar.NewReader(r)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		p := tarPath(h.Name)
		dir, base := path.Split(p)
		dir = path.Clean(dir)
		switch {
		case base == ".wh..wh..opq":
			removeTree(out, dir, false)
			continue
		case strings.HasPrefix(base, ".wh."):
			removeTree(out, path.Join(dir, strings.TrimPrefix(base, ".wh.")), true)
			continue
		}
		if p == "/" {
			continue
		}
		if h.Typeflag == tar.TypeLink {
			// A hard link is the file it names.
			if t, ok := out[tarPath(h.Linkname)]; ok {
				out[p] = t
				continue
			}
		}
		out[p] = entryOf(h)
	}
}

// removeTree deletes p's subtree from m (and p itself when self).
func removeTree(m map[string]fsEntry, p string, self bool) {
	for k := range m {
		if (self && k == p) || strings.HasPrefix(k, p+"/") || (p == "/" && k != "/") {
			delete(m, k)
		}
	}
}

// changed reports whether a path present in both differs.
func changed(img, now fsEntry) bool {
	if img.typ != now.typ || img.mode != now.mode || img.link != now.link {
		return true
	}
	return img.typ != tar.TypeDir && (img.size != now.size || img.mtime != now.mtime)
}

// fsChanges is docker diff's list: added, deleted and changed paths, and
// every existing directory above one of them as changed (as an overlay's
// upper layer holds them), sorted by path.
func fsChanges(img, now map[string]fsEntry) []container.FilesystemChange {
	kinds := map[string]container.ChangeType{}
	mark := func(p string, k container.ChangeType) {
		kinds[p] = k
		for d := path.Dir(p); d != "/"; d = path.Dir(d) {
			if _, done := kinds[d]; done {
				break
			}
			if _, inImg := img[d]; inImg {
				kinds[d] = container.ChangeModify
			} else {
				kinds[d] = container.ChangeAdd
			}
		}
	}
	for p, e := range now {
		i, ok := img[p]
		switch {
		case !ok && skeletonPaths[p]:
		case !ok:
			mark(p, container.ChangeAdd)
		case mountedEtc[p]:
		case changed(i, e):
			mark(p, container.ChangeModify)
		}
	}
	for p := range img {
		if _, ok := now[p]; ok {
			continue
		}
		if _, parentKept := now[path.Dir(p)]; !parentKept && path.Dir(p) != "/" {
			// Docker lists only the top of a deleted tree.
			continue
		}
		mark(p, container.ChangeDelete)
	}
	// No changes is null, as Docker answers, not [].
	var out []container.FilesystemChange
	for p, k := range kinds {
		out = append(out, container.FilesystemChange{Path: p, Kind: k})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Path < out[j].Path })
	return out
}

func (a *Router) getContainersChanges(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	c, ar, err := a.fsTarget(ctx, r.PathValue("id"), "docker diff")
	if err != nil {
		return err
	}
	if ar == nil {
		changes, err := a.platformFS().Changes(ctx, c.ID)
		if err != nil {
			return err
		}
		var out []container.FilesystemChange
		for _, ch := range changes {
			out = append(out, container.FilesystemChange{Path: ch.Path, Kind: container.ChangeType(ch.Kind)})
		}
		return httpx.WriteJSON(w, http.StatusOK, out)
	}
	base, ok, err := a.baselineOf(ctx, c)
	if err != nil {
		return err
	}
	img := base.entries
	if !ok {
		return errdefs.NotImplementedf("docker diff needs the layers of the container's image, and image %s is known by its config only (pulled while the registry was unreachable)", c.ImageRef)
	}
	now, err := rootEntries(ctx, ar, c)
	if err != nil {
		return err
	}
	if c.State.StartedAt.IsZero() {
		// Docker makes mount points (and the folders above them) when
		// it first starts the container; a provider that makes them at
		// create has not changed the container yet.
		for p := range now {
			if _, inImg := img[p]; !inImg && aboveMountPoint(c, p) {
				delete(now, p)
			}
		}
	}
	return httpx.WriteJSON(w, http.StatusOK, fsChanges(img, now))
}

func (a *Router) getContainersExport(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	c, ar, err := a.fsTarget(ctx, r.PathValue("id"), "docker export")
	if err != nil {
		return err
	}
	if c.State.Dead {
		return errdefs.Conflictf("You cannot export container %s which is Dead", c.ID)
	}
	if c.Removing {
		return errdefs.Conflictf("You cannot export container %s which is being removed", c.ID)
	}
	if ar == nil {
		rc, err := a.platformFS().Export(ctx, c.ID)
		if err != nil {
			return err
		}
		defer rc.Close()
		w.Header().Set("Content-Type", "application/x-tar")
		w.WriteHeader(http.StatusOK)
		if _, err := io.Copy(w, rc); err != nil {
			a.log.Warn("export: reading the platform's export failed", "container", c.ID, "err", err)
			return nil
		}
		a.b.Event(ctx, events.ContainerEventType, events.ActionExport, c.ID, core.ContainerAttrs(c))
		return nil
	}
	rc, _, err := ar.GetArchive(ctx, c.ID, "/")
	if err != nil {
		return err
	}
	defer rc.Close()
	w.Header().Set("Content-Type", "application/x-tar")
	w.WriteHeader(http.StatusOK)
	// Docker's export names entries relative to the root ("bin/sh") and
	// leaves mounted content out (the mount points stay).
	tr, tw := tar.NewReader(rc), tar.NewWriter(w)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			a.log.Warn("export: reading the root failed", "container", c.ID, "err", err)
			return nil
		}
		p := tarPath(h.Name)
		if p == "/" || (underMount(c, p) && !isMountPoint(c, p)) {
			continue
		}
		h.Name = strings.TrimPrefix(p, "/")
		if h.Typeflag == tar.TypeDir {
			h.Name += "/"
		}
		if h.Typeflag == tar.TypeLink {
			h.Linkname = strings.TrimPrefix(tarPath(h.Linkname), "/")
		}
		if err := tw.WriteHeader(h); err != nil {
			return nil
		}
		if _, err := io.Copy(tw, tr); err != nil {
			return nil
		}
	}
	_ = tw.Close()
	a.b.Event(ctx, events.ContainerEventType, events.ActionExport, c.ID, core.ContainerAttrs(c))
	return nil
}

// platformFS is the provider's PlatformFS, for paths that run only when
// it has one (nil otherwise).
func (a *Router) platformFS() providers.PlatformFS {
	pf, _ := providers.As[providers.PlatformFS](a.provider)
	return pf
}
