package containers

import (
	"archive/tar"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"path"
	"slices"
	"strings"
	"sync"

	"github.com/distribution/reference"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"github.com/moby/buildkit/frontend/dockerfile/parser"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/events"
	"github.com/sockerless/sockerless/functions/httpx"
	"github.com/sockerless/sockerless/functions/internal/core"
	"github.com/sockerless/sockerless/functions/records"
	"github.com/sockerless/sockerless/internal/errdefs"
	"github.com/sockerless/sockerless/providers"
)

// docker commit turns a container's filesystem changes (docker diff's
// list, read from the root's tar) into one new layer on top of the
// layers the container started from, and its config (with the request's
// config and Dockerfile-style changes applied) into the image's config.
// A container whose image has no stored layers (pulled offline) started
// from the provider's default filesystem (providers.BaseLayerer): that
// becomes the new image's bottom layer, so the image runs anywhere its
// layers are loaded.

// baseline is what a container started from: the entries docker diff
// compares with, and the layers a commit builds on.
type baseline struct {
	entries map[string]fsEntry
	// diffIDs are the layers already in the layer store, bottom first.
	diffIDs []string
	// own is a base layer of the container's own (not yet stored);
	// nil when the image's layers are the baseline.
	own func() (io.ReadCloser, error)
}

// baselineOf returns the container's baseline; ok is false when
// neither the image's layers nor a base layer of its own are known.
func (a *Router) baselineOf(ctx context.Context, c *records.Container) (baseline, bool, error) {
	img, ok, err := a.imageEntries(ctx, c)
	if err != nil {
		return baseline{}, false, err
	}
	if ok {
		im, err := a.st.Image(ctx, c.Image)
		if err != nil {
			return baseline{}, false, err
		}
		return baseline{entries: img, diffIDs: core.ImageLayers(im)}, true, nil
	}
	bl, isBL := providers.As[providers.BaseLayerer](a.provider)
	if !isBL {
		return baseline{}, false, nil
	}
	open := func() (io.ReadCloser, error) { return bl.BaseLayer(ctx, c.ID) }
	rc, err := open()
	if errdefs.IsNotFound(err) {
		return baseline{}, false, nil
	}
	if err != nil {
		return baseline{}, false, err
	}
	defer rc.Close()
	entries := map[string]fsEntry{}
	if err := mergeLayer(entries, rc); err != nil {
		return baseline{}, false, fmt.Errorf("reading the base layer of %s: %w", c.ID, err)
	}
	return baseline{entries: entries, own: open}, true, nil
}

// validChanges are the Dockerfile instructions docker commit and import
// accept as changes (moby's dockerfile.BuildFromConfig).
var validChanges = map[string]bool{
	"CMD": true, "ENTRYPOINT": true, "ENV": true, "EXPOSE": true, "HEALTHCHECK": true, "LABEL": true,
	"ONBUILD": true, "STOPSIGNAL": true, "USER": true, "VOLUME": true, "WORKDIR": true,
}

// applyCommitChange applies one change; the instructions applyChange
// does not know (EXPOSE, VOLUME, STOPSIGNAL) are handled here.
func applyCommitChange(c *v1.Config, change string) error {
	instr, arg, _ := strings.Cut(strings.TrimSpace(change), " ")
	arg = strings.TrimSpace(arg)
	if !validChanges[strings.ToUpper(instr)] {
		return errdefs.InvalidParameterf("%s is not a valid change command", strings.ToLower(instr))
	}
	switch strings.ToUpper(instr) {
	case "EXPOSE":
		for _, p := range strings.Fields(arg) {
			if !strings.Contains(p, "/") {
				p += "/tcp"
			}
			if c.ExposedPorts == nil {
				c.ExposedPorts = map[string]struct{}{}
			}
			c.ExposedPorts[p] = struct{}{}
		}
	case "VOLUME":
		var l []string
		if json.Unmarshal([]byte(arg), &l) != nil {
			l = strings.Fields(arg)
		}
		for _, v := range l {
			if c.Volumes == nil {
				c.Volumes = map[string]struct{}{}
			}
			c.Volumes[v] = struct{}{}
		}
	case "STOPSIGNAL":
		c.StopSignal = arg
	case "HEALTHCHECK", "ONBUILD":
		return applyParsedChange(c, change)
	default:
		core.ApplyChange(c, change)
	}
	return nil
}

// applyParsedChange applies a HEALTHCHECK or ONBUILD change as a
// Dockerfile instruction, parsed by BuildKit's Dockerfile parser as
// moby's commit parses its changes: a health check replaces the image's
// (NONE disables it), an ONBUILD trigger is added to the image's.
func applyParsedChange(c *v1.Config, change string) error {
	res, err := parser.Parse(strings.NewReader(change))
	if err != nil {
		return errdefs.InvalidParameter(err)
	}
	for _, n := range res.AST.Children {
		cmd, err := instructions.ParseInstruction(n)
		if err != nil {
			return errdefs.InvalidParameter(err)
		}
		switch v := cmd.(type) {
		case *instructions.HealthCheckCommand:
			h := v.Health
			c.Healthcheck = &v1.HealthConfig{Test: h.Test, Interval: h.Interval, Timeout: h.Timeout, StartPeriod: h.StartPeriod, Retries: h.Retries}
		case *instructions.OnbuildCommand:
			c.OnBuild = append(c.OnBuild, v.Expression)
		}
	}
	return nil
}

// imageConfigOf is the image config a commit records for a container's
// config (moby keeps the same fields in the image's "config").
func imageConfigOf(cc *container.Config) v1.Config {
	out := v1.Config{
		Hostname: cc.Hostname, Domainname: cc.Domainname, User: cc.User,
		AttachStdin: cc.AttachStdin, AttachStdout: cc.AttachStdout, AttachStderr: cc.AttachStderr,
		Tty: cc.Tty, OpenStdin: cc.OpenStdin, StdinOnce: cc.StdinOnce,
		Env: slices.Clone(cc.Env), Cmd: slices.Clone(cc.Cmd), Entrypoint: slices.Clone(cc.Entrypoint),
		Image: cc.Image, WorkingDir: cc.WorkingDir, OnBuild: slices.Clone(cc.OnBuild), StopSignal: cc.StopSignal,
		Shell: slices.Clone(cc.Shell), ArgsEscaped: cc.ArgsEscaped, //nolint:staticcheck // kept as moby keeps it
	}
	if len(cc.Labels) > 0 {
		out.Labels = map[string]string{}
		for k, v := range cc.Labels {
			out.Labels[k] = v
		}
	}
	for p := range cc.ExposedPorts {
		if out.ExposedPorts == nil {
			out.ExposedPorts = map[string]struct{}{}
		}
		out.ExposedPorts[p.String()] = struct{}{}
	}
	for v := range cc.Volumes {
		if out.Volumes == nil {
			out.Volumes = map[string]struct{}{}
		}
		out.Volumes[v] = struct{}{}
	}
	if hc := cc.Healthcheck; hc != nil {
		out.Healthcheck = &v1.HealthConfig{Test: slices.Clone(hc.Test), Interval: hc.Interval, Timeout: hc.Timeout, StartPeriod: hc.StartPeriod, Retries: hc.Retries}
	}
	return out
}

// mergeCommitConfig fills the request's config's empty fields from the
// container's (moby's merge for docker commit).
func mergeCommitConfig(user *container.Config, c *container.Config) *container.Config {
	if user == nil {
		cp := *c
		return &cp
	}
	out := *user
	if out.User == "" {
		out.User = c.User
	}
	if len(out.Env) == 0 {
		out.Env = c.Env
	} else {
		out.Env = core.MergeEnv(c.Env, out.Env)
	}
	if len(out.Cmd) == 0 && len(out.Entrypoint) == 0 {
		out.Cmd = c.Cmd
	}
	if len(out.Entrypoint) == 0 {
		out.Entrypoint = c.Entrypoint
	}
	if out.WorkingDir == "" {
		out.WorkingDir = c.WorkingDir
	}
	if len(out.Labels) == 0 {
		out.Labels = c.Labels
	}
	if len(out.ExposedPorts) == 0 {
		out.ExposedPorts = c.ExposedPorts
	}
	if len(out.Volumes) == 0 {
		out.Volumes = c.Volumes
	}
	if out.Healthcheck == nil {
		out.Healthcheck = c.Healthcheck
	}
	if out.StopSignal == "" {
		out.StopSignal = c.StopSignal
	}
	if out.Hostname == "" {
		out.Hostname = c.Hostname
	}
	if out.Domainname == "" {
		out.Domainname = c.Domainname
	}
	if out.Image == "" {
		out.Image = c.Image
	}
	return &out
}

// postCommit serves POST /commit.
func (a *Router) postCommit(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	q := r.URL.Query()
	var user *container.Config
	if err := httpx.DecodeJSON(r, &user, true); err != nil {
		return err
	}
	ref := ""
	if repo := q.Get("repo"); repo != "" {
		ref = repo
		if tag := q.Get("tag"); tag != "" {
			ref += ":" + tag
		}
		named, err := reference.ParseNormalizedNamed(ref)
		if err != nil {
			return errdefs.InvalidParameterf("invalid reference format: %s", ref)
		}
		if _, digested := named.(reference.Digested); digested {
			return errdefs.InvalidParameterf("invalid reference format: %s: cannot commit to a digest reference", ref)
		}
		ref = reference.FamiliarString(reference.TagNameOnly(named))
	}
	c, ar, err := a.fsTarget(ctx, q.Get("container"), "docker commit")
	if err != nil {
		return err
	}
	if c.Removing {
		return errdefs.Conflictf("You cannot commit container %s which is being removed", c.ID)
	}
	if c.State.Dead {
		return errdefs.Conflictf("You cannot commit container %s which is Dead", c.ID)
	}
	cfg := imageConfigOf(mergeCommitConfig(user, c.Config))
	for _, ch := range q["changes"] {
		if strings.TrimSpace(ch) == "" {
			continue
		}
		if err := applyCommitChange(&cfg, ch); err != nil {
			return err
		}
	}
	ls := a.b.LayerStore()
	if ls == nil && ar != nil {
		return errdefs.NotImplementedf("docker commit needs a provider that keeps image layers; provider %s does not", a.provider.Name())
	}
	pause := q.Get("pause") == "" || httpx.BoolValue(r, "pause")
	unpause := func() {}
	if pauser, ok := providers.As[providers.Pauser](a.provider); ok && pause && c.State.Running && !c.State.Paused {
		// As Docker: the container is paused while its files are read,
		// and unpaused before the answer.
		if err := a.commitPause(ctx, pauser, c, true); err != nil {
			return err
		}
		var once sync.Once
		unpause = func() { once.Do(func() { _ = a.commitPause(context.WithoutCancel(ctx), pauser, c, false) }) }
		defer unpause()
	}
	if ar == nil {
		return a.platformCommit(ctx, w, q, c, cfg, ref, unpause)
	}
	base, ok, err := a.baselineOf(ctx, c)
	if err != nil {
		return err
	}
	if !ok {
		return errdefs.NotImplementedf("docker commit needs the layers of the container's image, and image %s is known by its config only", c.ImageRef)
	}
	parent, err := a.st.Image(ctx, c.Image)
	if err != nil && !errdefs.IsNotFound(err) {
		return err
	}
	diffIDs := slices.Clone(base.diffIDs)
	var history []v1.History
	if parent != nil && len(base.diffIDs) > 0 {
		history = slices.Clone(parent.Config.History)
	}
	now := a.st.Now().UTC()
	var layers []records.Layer
	if parent != nil {
		layers = slices.Clone(parent.Layers)
	}
	if base.own != nil {
		rc, err := base.own()
		if err != nil {
			return err
		}
		info, err := ls.Put(rc, "")
		rc.Close()
		if err != nil {
			return err
		}
		diffIDs, layers = []string{info.DiffID}, []records.Layer{{Digest: info.DiffID, DiffID: info.DiffID, Size: info.Size, MediaType: "application/vnd.docker.image.rootfs.diff.tar"}}
		history = []v1.History{{Created: v1.Time{Time: c.Created.UTC()}, CreatedBy: "the default filesystem sockerless gave a container of " + c.ImageRef + ", whose layers were not pulled"}}
	}
	now2, err := rootEntries(ctx, ar, c)
	if err != nil {
		return err
	}
	changes := fsChanges(base.entries, now2)
	pr, pw := io.Pipe()
	go func() { pw.CloseWithError(writeChangesLayer(ctx, ar, c, changes, pw)) }()
	info, err := ls.Put(pr, "")
	pr.CloseWithError(err)
	if err != nil {
		return fmt.Errorf("committing %s: %w", c.ID, err)
	}
	diffIDs = append(diffIDs, info.DiffID)
	layers = append(layers, records.Layer{Digest: info.DiffID, DiffID: info.DiffID, Size: info.Size, MediaType: "application/vnd.docker.image.rootfs.diff.tar"})
	history = append(history, v1.History{Created: v1.Time{Time: now}, CreatedBy: strings.Join(c.Config.Cmd, " "), Author: q.Get("author"), Comment: q.Get("comment")})
	file := v1.ConfigFile{
		Architecture: "amd64", OS: "linux", Created: v1.Time{Time: now}, Author: q.Get("author"),
		Container: c.ID, Config: cfg, History: history, RootFS: v1.RootFS{Type: "layers"},
	}
	if parent != nil && parent.Config.Architecture != "" {
		file.Architecture, file.OS, file.Variant = parent.Config.Architecture, parent.Config.OS, parent.Config.Variant
	}
	for _, d := range diffIDs {
		h, err := v1.NewHash(d)
		if err != nil {
			return fmt.Errorf("layer %s: %w", d, err)
		}
		file.RootFS.DiffIDs = append(file.RootFS.DiffIDs, h)
	}
	return a.finishCommit(ctx, w, q, c, file, layers, 0, ref, unpause)
}

// platformCommit commits c on its provider's platform
// (providers.PlatformFS): the layers are the platform's, the
// configuration and history are made here as for any commit.
func (a *Router) platformCommit(ctx context.Context, w http.ResponseWriter, q url.Values, c *records.Container, cfg v1.Config, ref string, unpause func()) error {
	res, err := a.platformFS().Commit(ctx, c.ID)
	if err != nil {
		return fmt.Errorf("committing %s: %w", c.ID, err)
	}
	now := a.st.Now().UTC()
	file := v1.ConfigFile{
		Architecture: "amd64", OS: "linux", Created: v1.Time{Time: now}, Author: q.Get("author"),
		Container: c.ID, Config: cfg, RootFS: v1.RootFS{Type: "layers"},
	}
	parent, err := a.st.Image(ctx, c.Image)
	if err != nil && !errdefs.IsNotFound(err) {
		return err
	}
	if parent != nil {
		file.History = slices.Clone(parent.Config.History)
		if parent.Config.Architecture != "" {
			file.Architecture, file.OS, file.Variant = parent.Config.Architecture, parent.Config.OS, parent.Config.Variant
		}
	}
	file.History = append(file.History, v1.History{Created: v1.Time{Time: now}, CreatedBy: strings.Join(c.Config.Cmd, " "), Author: q.Get("author"), Comment: q.Get("comment")})
	for _, d := range res.DiffIDs {
		h, err := v1.NewHash(d)
		if err != nil {
			return fmt.Errorf("layer %s: %w", d, err)
		}
		file.RootFS.DiffIDs = append(file.RootFS.DiffIDs, h)
	}
	return a.finishCommit(ctx, w, q, c, file, nil, res.Size, ref, unpause)
}

// finishCommit records the committed image (its id the digest of its
// configuration; its size platformSize plus its stored layers'), tags
// it, sends the events and answers.
func (a *Router) finishCommit(ctx context.Context, w http.ResponseWriter, q url.Values, c *records.Container, file v1.ConfigFile, layers []records.Layer, platformSize int64, ref string, unpause func()) error {
	now := file.Created.Time
	b, err := json.Marshal(file)
	if err != nil {
		return err
	}
	sum := sha256.Sum256(b)
	img := &records.Image{ID: "sha256:" + hex.EncodeToString(sum[:]), Created: now, Config: file, Layers: layers, Source: "commit", Comment: q.Get("comment"), Parent: c.Image}
	for _, l := range layers {
		img.Size += l.Size
	}
	img.Size += platformSize
	if err := a.st.PutImage(ctx, img); err != nil {
		return err
	}
	if ref != "" {
		if err := a.st.SetTag(ctx, ref, img); err != nil {
			return err
		}
	}
	attrs := core.ContainerAttrs(c)
	attrs["comment"], attrs["imageID"], attrs["imageRef"] = q.Get("comment"), img.ID, ref
	a.b.Event(ctx, events.ContainerEventType, events.ActionCommit, c.ID, attrs)
	if ref != "" {
		a.b.Event(ctx, events.ImageEventType, events.ActionTag, img.ID, map[string]string{"name": ref})
	}
	unpause()
	return httpx.WriteJSON(w, http.StatusCreated, container.CommitResponse{ID: img.ID})
}

// commitPause pauses or unpauses c for a commit, recording it and its
// event as docker pause does.
func (a *Router) commitPause(ctx context.Context, p providers.Pauser, c *records.Container, pause bool) error {
	var err error
	action := events.ActionPause
	if pause {
		err = p.Pause(ctx, c.ID)
	} else {
		err = p.Unpause(ctx, c.ID)
		action = events.ActionUnPause
	}
	if err != nil {
		return err
	}
	_, err = a.st.UpdateContainer(ctx, c.ID, func(rc *records.Container) error {
		if !rc.State.Running {
			return nil
		}
		rc.State.Paused = pause
		rc.State.Status = string(container.StateRunning)
		if pause {
			rc.State.Status = string(container.StatePaused)
		}
		return nil
	})
	if err != nil {
		return err
	}
	a.b.Event(ctx, events.ContainerEventType, action, c.ID, core.ContainerAttrs(c))
	return nil
}

// writeChangesLayer writes changes as a layer tar: added and changed
// entries with their content, from the container's root, and a whiteout
// for each deleted path.
func writeChangesLayer(ctx context.Context, ar providers.Archiver, c *records.Container, changes []container.FilesystemChange, w io.Writer) error {
	keep := map[string]bool{}
	var deleted []string
	for _, ch := range changes {
		if ch.Kind == container.ChangeDelete {
			deleted = append(deleted, ch.Path)
		} else {
			keep[ch.Path] = true
		}
	}
	tw := tar.NewWriter(w)
	rc, _, err := ar.GetArchive(ctx, c.ID, "/")
	if err != nil {
		return err
	}
	defer rc.Close()
	tr := tar.NewReader(rc)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return fmt.Errorf("reading the root of %s: %w", c.ID, err)
		}
		p := tarPath(h.Name)
		if !keep[p] {
			continue
		}
		h.Name = strings.TrimPrefix(p, "/")
		if h.Typeflag == tar.TypeDir {
			h.Name += "/"
		}
		if h.Typeflag == tar.TypeLink {
			h.Linkname = strings.TrimPrefix(tarPath(h.Linkname), "/")
		}
		h.Uname, h.Gname = "", ""
		if err := tw.WriteHeader(h); err != nil {
			return err
		}
		if _, err := io.Copy(tw, tr); err != nil {
			return err
		}
	}
	for _, p := range deleted {
		dir, base := path.Split(p)
		name := strings.TrimPrefix(path.Join(dir, ".wh."+base), "/")
		if err := tw.WriteHeader(&tar.Header{Name: name, Typeflag: tar.TypeReg, Mode: 0o600, ModTime: c.Created}); err != nil {
			return err
		}
	}
	return tw.Close()
}
