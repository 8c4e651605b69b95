package docker

import (
	"context"

	cerrdefs "github.com/containerd/errdefs"
	"os"
	"path"
	"strings"

	"github.com/moby/moby/client"
	"github.com/sockerless/sockerless/internal/errdefs"
	"github.com/sockerless/sockerless/providers"
)

// ociStartError is how dockerd 28.2.2 words a main process runc could not
// start; the CLI's exit code (127, 126) follows from the wording.
const ociStartError = "failed to create task for container: failed to create shim task: OCI runtime create failed: runc create failed: unable to start container process: exec: %q: %s: unknown"

// checkStart refuses, before the engine container starts, what Docker's
// start refuses: an unknown user and a command that is missing or not
// executable. The agent wraps the command, so the engine's own start
// would succeed and the failure would only show as the agent's exit;
// Docker fails the start itself (docker run exits 125, 127 or 126 with
// the runtime's message). A command found once in an image is not looked
// up again for that image.
func (p *Provider) checkStart(ctx context.Context, s providers.Spec) error {
	if s.User != "" {
		if err := p.CheckUser(ctx, s.ID, s.User); err != nil {
			return err
		}
	}
	argv := append(append([]string{}, s.Entrypoint...), s.Cmd...)
	if len(argv) == 0 {
		return nil
	}
	name := argv[0]
	pathEnv := ""
	for _, kv := range s.Env {
		if v, ok := strings.CutPrefix(kv, "PATH="); ok {
			pathEnv = v
		}
	}
	key := s.ImageID + "\x00" + pathEnv + "\x00" + s.WorkingDir + "\x00" + name
	p.mu.Lock()
	known := p.found[key]
	p.mu.Unlock()
	if known {
		return nil
	}
	var candidates []string
	switch {
	case strings.Contains(name, "/"):
		candidates = []string{name}
		if !path.IsAbs(name) {
			dir := s.WorkingDir
			if dir == "" {
				dir = "/"
			}
			candidates = []string{path.Join(dir, name)}
		}
	default:
		if pathEnv == "" {
			pathEnv = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
		}
		for _, dir := range strings.Split(pathEnv, ":") {
			if dir == "" {
				dir = "."
			}
			candidates = append(candidates, path.Join(dir, name))
		}
	}
	for _, c := range candidates {
		exists, exec, known := p.executable(ctx, s.ID, c)
		if !known {
			return nil // not ours to judge: the start goes ahead
		}
		if exec {
			p.mu.Lock()
			p.found[key] = true
			p.mu.Unlock()
			return nil
		}
		if exists && strings.Contains(name, "/") {
			return errdefs.InvalidParameterf(ociStartError, name, "permission denied")
		}
	}
	if strings.Contains(name, "/") {
		return errdefs.InvalidParameterf(ociStartError, name, "stat "+name+": no such file or directory")
	}
	return errdefs.InvalidParameterf(ociStartError, name, "executable file not found in $PATH")
}

// executable stats file in the engine container: whether it exists,
// and whether it can be executed (a regular file with an execute bit, or
// a symlink, which the runtime follows); known is false when the engine
// could not answer (the start then goes ahead and the runtime judges).
func (p *Provider) executable(ctx context.Context, id, file string) (exists, exec, known bool) {
	res, err := p.opts.Client.ContainerStatPath(ctx, p.name(id), client.ContainerStatPathOptions{Path: file})
	if err != nil {
		if cerrdefs.IsNotFound(err) && !strings.Contains(err.Error(), "No such container") {
			return false, false, true
		}
		return false, false, false
	}
	m := res.Stat.Mode
	if m&os.ModeSymlink != 0 {
		return true, true, true
	}
	return true, m.IsRegular() && m.Perm()&0o111 != 0, true
}
