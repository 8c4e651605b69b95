package build

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"github.com/moby/buildkit/frontend/dockerfile/parser"
	"github.com/moby/buildkit/frontend/dockerfile/shell"
	"github.com/sockerless/sockerless/internal/errdefs"
	"github.com/sockerless/sockerless/internal/layerstore"
	"github.com/sockerless/sockerless/internal/rootfs"
	"github.com/sockerless/sockerless/providers"
)

// defaultPath is Docker's PATH for images that set none.
const defaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// Resolver finds the images FROM and COPY --from name.
type Resolver interface {
	// Resolve returns the id and config of the image ref, pulling it when
	// it is not known locally or when pull is set. Its layers must be in
	// the builder's layer store, or the build fails.
	Resolve(ctx context.Context, ref string, pull bool) (id string, cfg *v1.ConfigFile, err error)
}

// Config configures a Builder. Layers and Resolver are required.
type Config struct {
	// Layers stores base layers (read) and built layers (written).
	Layers *layerstore.Store
	// Resolver finds base images.
	Resolver Resolver
	// Runner runs RUN steps; nil makes a Dockerfile with RUN answer
	// NotImplemented.
	Runner providers.RootRunner
	// TempDir holds the context and stage roots during a build; empty
	// means os.TempDir().
	TempDir string
	// DefaultRoot, when set, fills the root of a stage whose base image
	// has no layers (an image pulled while the registry was unreachable)
	// with the provider's default filesystem, as a container of that
	// image gets. It is filled after the stage's baseline is taken, so
	// the stage's first layer carries it and the built image runs the
	// same anywhere its layers are loaded.
	DefaultRoot func(f *rootfs.FS) error
}

// Builder runs classic Docker builds. Safe for concurrent use; each build
// works in directories of its own.
type Builder struct {
	cfg Config
}

// New returns a Builder.
func New(cfg Config) (*Builder, error) {
	if cfg.Layers == nil || cfg.Resolver == nil {
		return nil, errors.New("build: Layers and Resolver are required")
	}
	return &Builder{cfg: cfg}, nil
}

// Options are one build's parameters, from the query of POST /build.
type Options struct {
	// Dockerfile is the Dockerfile's path in the context (default
	// "Dockerfile").
	Dockerfile string
	// BuildArgs are --build-arg values; a nil value means "from the
	// environment", which a server does not have, so it leaves the ARG's
	// default.
	BuildArgs map[string]*string
	// Labels are added to the final image.
	Labels map[string]string
	// Target names the stage to stop at; empty means the last.
	Target string
	// Pull re-resolves base images even when they are known locally.
	Pull bool
}

// Result is a built image.
type Result struct {
	// ID is "sha256:" + the digest of the JSON of Config.
	ID     string
	Config v1.ConfigFile
	// Layers are all of the image's layers, base first.
	Layers []layerstore.Info
}

// RunError is a RUN step that exited non-zero.
type RunError struct {
	Cmd  []string
	Code int
}

func (e *RunError) Error() string {
	return fmt.Sprintf("The command '%s' returned a non-zero code: %d", strings.Join(e.Cmd, " "), e.Code)
}

// Plan is a prepared build: the context unpacked and the Dockerfile
// checked. Close it when done.
type Plan struct {
	b        *Builder
	dir      string
	ctxDir   string
	opts     Options
	stages   []instructions.Stage
	metaArgs []instructions.ArgCommand
	lex      *shell.Lex
	total    int
	usedArgs map[string]bool
}

// Prepare reads the build context tar from body and parses and checks the
// Dockerfile, before anything is run.
//
// # Errors
//
// InvalidParameter for a bad context, a missing or unparsable Dockerfile
// or an unknown target; NotImplemented for instructions and flags this
// builder does not support, and for RUN without a Runner.
func (b *Builder) Prepare(ctx context.Context, body io.Reader, o Options) (*Plan, error) {
	dir, err := os.MkdirTemp(b.cfg.TempDir, "sockerless-build-")
	if err != nil {
		return nil, err
	}
	p := &Plan{b: b, dir: dir, ctxDir: filepath.Join(dir, "context"), opts: o, usedArgs: map[string]bool{}}
	if err := os.Mkdir(p.ctxDir, 0o755); err != nil {
		p.Close()
		return nil, err
	}
	df, err := readContext(body, p.ctxDir, o.Dockerfile)
	if err != nil {
		p.Close()
		return nil, err
	}
	if err := p.parse(df); err != nil {
		p.Close()
		return nil, err
	}
	return p, nil
}

// Close removes the build's working directories.
func (p *Plan) Close() error { return os.RemoveAll(p.dir) }

// parse turns the Dockerfile into stages and refuses what cannot run.
func (p *Plan) parse(df []byte) error {
	res, err := parser.Parse(bytes.NewReader(df))
	if err != nil {
		return errdefs.InvalidParameterf("dockerfile parse error: %v", err)
	}
	stages, metaArgs, err := instructions.Parse(res.AST, nil)
	if err != nil {
		return errdefs.InvalidParameterf("dockerfile parse error: %v", err)
	}
	if len(stages) == 0 {
		return errdefs.InvalidParameterf("the Dockerfile (%s) cannot be empty", p.opts.Dockerfile)
	}
	if p.opts.Target != "" {
		i, ok := instructions.HasStage(stages, p.opts.Target)
		if !ok {
			return errdefs.InvalidParameterf("failed to reach build target %s in Dockerfile", p.opts.Target)
		}
		stages = stages[:i+1]
	}
	for _, s := range stages {
		p.total++
		if s.Platform != "" && s.Platform != "linux/amd64" && !strings.Contains(s.Platform, "$") {
			return errdefs.NotImplementedf("FROM --platform=%s: only linux/amd64 is supported", s.Platform)
		}
		for _, c := range s.Commands {
			p.total++
			if err := p.check(c); err != nil {
				return err
			}
		}
	}
	p.stages, p.metaArgs, p.lex = stages, metaArgs, shell.NewLex(res.EscapeToken)
	return nil
}

// check refuses an instruction or flag this builder cannot honour.
func (p *Plan) check(c instructions.Command) error {
	unsupported := func(what string) error {
		return errdefs.NotImplementedf("%s is not supported by the sockerless builder (line: %s)", what, c)
	}
	switch c := c.(type) {
	case *instructions.RunCommand:
		if p.b.cfg.Runner == nil {
			return errdefs.NotImplementedf("RUN needs a provider that runs processes (the embedded memory provider); this one cannot (line: %s)", c)
		}
		if len(c.FlagsUsed) > 0 {
			return unsupported("RUN --" + strings.Join(c.FlagsUsed, ", --"))
		}
		if len(c.Files) > 0 {
			return unsupported("a heredoc")
		}
	case *instructions.CopyCommand:
		if c.Parents || len(c.ExcludePatterns) > 0 || len(c.SourceContents) > 0 {
			return unsupported("COPY --parents, --exclude or a heredoc")
		}
	case *instructions.AddCommand:
		if c.Checksum != "" || len(c.ExcludePatterns) > 0 || len(c.SourceContents) > 0 || c.KeepGitDir != nil || c.Unpack != nil {
			return unsupported("ADD --checksum, --exclude, --keep-git-dir, --unpack or a heredoc")
		}
		for _, s := range c.SourcePaths {
			if strings.Contains(s, "://") || strings.HasPrefix(s, "git@") {
				return unsupported("ADD from a URL or git repository (no network access)")
			}
		}
	case *instructions.OnbuildCommand:
		return unsupported("ONBUILD")
	case *instructions.EnvCommand, *instructions.MaintainerCommand, *instructions.LabelCommand,
		*instructions.WorkdirCommand, *instructions.CmdCommand, *instructions.EntrypointCommand,
		*instructions.HealthCheckCommand, *instructions.ExposeCommand, *instructions.UserCommand,
		*instructions.VolumeCommand, *instructions.StopSignalCommand, *instructions.ArgCommand,
		*instructions.ShellCommand:
	default:
		return unsupported(strings.ToUpper(c.Name()))
	}
	return nil
}

// stage is a stage being built.
type stage struct {
	name   string
	root   string
	fs     *rootfs.FS
	cfg    v1.ConfigFile
	layers []layerstore.Info
	args   map[string]string // ARGs in scope with their values
	snap   snapshot
	cmdSet bool // CMD was set in this stage
}

// output serialises progress lines and a RUN's two output streams.
type output struct {
	mu sync.Mutex
	w  io.Writer
}

func (o *output) Write(b []byte) (int, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.w.Write(b)
}

func (o *output) printf(format string, a ...any) { fmt.Fprintf(o, format, a...) }

// Run executes the plan, writing Docker's classic progress text to out
// ("Step 1/3 : FROM alpine", " ---> 1a2b3c4d5e6f", RUN output...), and
// returns the image of the target (or last) stage. The caller records it
// and prints "Successfully built".
//
// # Errors
//
// *RunError for a RUN that exited non-zero; InvalidParameter for missing
// COPY sources, unknown stages and bad values; NotFound for unknown base
// images.
func (p *Plan) Run(ctx context.Context, out io.Writer) (*Result, error) {
	o := &output{w: out}
	step := 0
	var done []*stage
	defer func() {
		for _, s := range done {
			s.fs.Close()
		}
	}()
	meta := map[string]string{}
	for _, a := range p.metaArgs {
		for _, kv := range a.Args {
			if v, ok := p.buildArg(kv.Key); ok {
				meta[kv.Key] = v
			} else if kv.Value != nil {
				meta[kv.Key] = *kv.Value
			}
		}
	}
	for i, st := range p.stages {
		step++
		o.printf("Step %d/%d : %s\n", step, p.total, st.SourceCode)
		s, err := p.from(ctx, o, i, st, meta, done)
		if err != nil {
			return nil, err
		}
		done = append(done, s)
		for _, c := range st.Commands {
			step++
			o.printf("Step %d/%d : %s\n", step, p.total, c)
			if err := p.dispatch(ctx, o, s, c, meta, done); err != nil {
				return nil, err
			}
			o.printf(" ---> %s\n", shortID(configID(&s.cfg)))
		}
	}
	last := done[len(done)-1]
	if len(p.opts.Labels) > 0 {
		if last.cfg.Config.Labels == nil {
			last.cfg.Config.Labels = map[string]string{}
		}
		for k, v := range p.opts.Labels {
			last.cfg.Config.Labels[k] = v
		}
	}
	var unused []string
	for k := range p.opts.BuildArgs {
		if !p.usedArgs[k] {
			unused = append(unused, k)
		}
	}
	if len(unused) > 0 {
		sort.Strings(unused)
		o.printf("[Warning] One or more build-args [%s] were not consumed\n", strings.Join(unused, " "))
	}
	return &Result{ID: configID(&last.cfg), Config: last.cfg, Layers: last.layers}, nil
}

// buildArg returns the --build-arg value for key, if one was given.
func (p *Plan) buildArg(key string) (string, bool) {
	v, ok := p.opts.BuildArgs[key]
	if !ok || v == nil {
		return "", false
	}
	p.usedArgs[key] = true
	return *v, true
}

// from starts stage i: the base image's (or earlier stage's) layers
// unpacked into a fresh root, the skeleton filling what is missing.
func (p *Plan) from(ctx context.Context, o *output, i int, st instructions.Stage, meta map[string]string, done []*stage) (*stage, error) {
	base, _, err := p.lex.ProcessWord(st.BaseName, shell.EnvsFromSlice(envList(meta)))
	if err != nil {
		return nil, errdefs.InvalidParameterf("FROM %s: %v", st.BaseName, err)
	}
	s := &stage{name: strings.ToLower(st.Name), root: filepath.Join(p.dir, "stage-"+strconv.Itoa(i)), args: map[string]string{}}
	var id string
	switch prev := findStage(done, base); {
	case prev != nil:
		s.cfg = *prev.cfg.DeepCopy()
		s.layers = append([]layerstore.Info(nil), prev.layers...)
		id = configID(&s.cfg)
	case strings.EqualFold(base, "scratch"):
		s.cfg = v1.ConfigFile{Architecture: "amd64", OS: "linux", RootFS: v1.RootFS{Type: "layers"}}
		id = "scratch"
	default:
		var cfg *v1.ConfigFile
		id, cfg, err = p.b.cfg.Resolver.Resolve(ctx, base, p.opts.Pull)
		if err != nil {
			return nil, err
		}
		s.cfg = *cfg.DeepCopy()
		if len(s.cfg.Config.OnBuild) > 0 {
			return nil, errdefs.NotImplementedf("image %s has ONBUILD triggers, which the sockerless builder does not run", base)
		}
		for _, d := range s.cfg.RootFS.DiffIDs {
			info, err := p.b.cfg.Layers.Stat(d.String())
			if err != nil {
				return nil, errdefs.InvalidParameterf("FROM %s: the image's layers are not stored here (it was recorded without them, e.g. pulled while the registry was unreachable); load or pull it again", base)
			}
			s.layers = append(s.layers, info)
		}
	}
	if id != "scratch" {
		o.printf(" ---> %s\n", shortID(id))
	}
	s.cfg.RootFS.Type = "layers"
	if s.cfg.OS == "" {
		s.cfg.OS, s.cfg.Architecture = "linux", "amd64"
	}
	if err := os.Mkdir(s.root, 0o755); err != nil {
		return nil, err
	}
	if s.fs, err = rootfs.New(s.root, nil); err != nil {
		return nil, err
	}
	for _, l := range s.layers {
		r, err := p.b.cfg.Layers.Open(l.DiffID)
		if err != nil {
			s.fs.Close()
			return nil, err
		}
		err = rootfs.ExtractLayer(s.fs, r)
		r.Close()
		if err != nil {
			s.fs.Close()
			return nil, errdefs.InvalidParameterf("FROM %s: layer %s: %v", base, l.DiffID, err)
		}
	}
	if err := rootfs.Skeleton(s.fs, rootfs.SkeletonOptions{Hostname: "buildkitsandbox"}); err != nil {
		s.fs.Close()
		return nil, err
	}
	if s.snap, err = takeSnapshot(s.root); err != nil {
		s.fs.Close()
		return nil, err
	}
	if len(s.layers) == 0 && id != "scratch" && prevless(done, base) && p.b.cfg.DefaultRoot != nil {
		if err := p.b.cfg.DefaultRoot(s.fs); err != nil {
			s.fs.Close()
			return nil, err
		}
	}
	return s, nil
}

// findStage returns the earlier stage named (or numbered) name.
func findStage(done []*stage, name string) *stage {
	if n, err := strconv.Atoi(name); err == nil && n >= 0 && n < len(done) {
		return done[n]
	}
	for _, s := range done {
		if s.name != "" && s.name == strings.ToLower(name) {
			return s
		}
	}
	return nil
}

// env is the environment of a step: ARGs in scope, overridden by ENV.
func (s *stage) env() []string {
	m := map[string]string{}
	for k, v := range s.args {
		m[k] = v
	}
	for _, e := range s.cfg.Config.Env {
		k, v, _ := strings.Cut(e, "=")
		m[k] = v
	}
	return envList(m)
}

func envList(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for k, v := range m {
		out = append(out, k+"="+v)
	}
	sort.Strings(out)
	return out
}

// setEnv sets key in the image's environment, keeping the order.
func (s *stage) setEnv(key, val string) {
	for i, e := range s.cfg.Config.Env {
		if k, _, _ := strings.Cut(e, "="); k == key {
			s.cfg.Config.Env[i] = key + "=" + val
			return
		}
	}
	s.cfg.Config.Env = append(s.cfg.Config.Env, key+"="+val)
}

// history appends a history entry; layer says whether the step added one.
func (s *stage) history(createdBy string, layer bool) {
	s.cfg.History = append(s.cfg.History, v1.History{Created: v1.Time{Time: time.Now().UTC()}, CreatedBy: createdBy, EmptyLayer: !layer})
	s.cfg.Created = v1.Time{Time: time.Now().UTC()}
}

// nop is the history text of a metadata-only step, as the classic
// builder writes it.
func nop(c instructions.Command) string { return "/bin/sh -c #(nop) " + fmt.Sprint(c) }

// dispatch runs one instruction of stage s.
func (p *Plan) dispatch(ctx context.Context, o *output, s *stage, c instructions.Command, meta map[string]string, done []*stage) error {
	if ex, ok := c.(instructions.SupportsSingleWordExpansion); ok {
		env := shell.EnvsFromSlice(s.env())
		err := ex.Expand(func(word string) (string, error) {
			w, _, err := p.lex.ProcessWord(word, env)
			return w, err
		})
		if err != nil {
			return errdefs.InvalidParameterf("%s: %v", c, err)
		}
	}
	cfg := &s.cfg.Config
	switch c := c.(type) {
	case *instructions.EnvCommand:
		for _, kv := range c.Env {
			s.setEnv(kv.Key, kv.Value)
		}
		s.history(nop(c), false)
	case *instructions.ArgCommand:
		for _, kv := range c.Args {
			switch v, ok := p.buildArg(kv.Key); {
			case ok:
				s.args[kv.Key] = v
			case kv.Value != nil:
				s.args[kv.Key] = *kv.Value
			default:
				if mv, ok := meta[kv.Key]; ok {
					s.args[kv.Key] = mv
				} else {
					s.args[kv.Key] = ""
				}
			}
		}
		s.history(nop(c), false)
	case *instructions.LabelCommand:
		if cfg.Labels == nil {
			cfg.Labels = map[string]string{}
		}
		for _, kv := range c.Labels {
			cfg.Labels[kv.Key] = kv.Value
		}
		s.history(nop(c), false)
	case *instructions.MaintainerCommand:
		s.cfg.Author = c.Maintainer
		s.history(nop(c), false)
	case *instructions.CmdCommand:
		cfg.Cmd = p.commandLine(s, c.ShellDependantCmdLine)
		s.cmdSet = true
		s.history(nop(c), false)
	case *instructions.EntrypointCommand:
		cfg.Entrypoint = p.commandLine(s, c.ShellDependantCmdLine)
		if !s.cmdSet {
			cfg.Cmd = nil
		}
		s.history(nop(c), false)
	case *instructions.ShellCommand:
		cfg.Shell = append([]string(nil), c.Shell...)
		s.history(nop(c), false)
	case *instructions.UserCommand:
		cfg.User = c.User
		s.history(nop(c), false)
	case *instructions.StopSignalCommand:
		cfg.StopSignal = c.Signal
		s.history(nop(c), false)
	case *instructions.ExposeCommand:
		if cfg.ExposedPorts == nil {
			cfg.ExposedPorts = map[string]struct{}{}
		}
		env := shell.EnvsFromSlice(s.env())
		for _, port := range c.Ports {
			port, _, err := p.lex.ProcessWord(port, env)
			if err != nil {
				return errdefs.InvalidParameterf("%s: %v", c, err)
			}
			if !strings.Contains(port, "/") {
				port += "/tcp"
			}
			cfg.ExposedPorts[port] = struct{}{}
		}
		s.history(nop(c), false)
	case *instructions.VolumeCommand:
		if cfg.Volumes == nil {
			cfg.Volumes = map[string]struct{}{}
		}
		for _, v := range c.Volumes {
			if v == "" {
				return errdefs.InvalidParameterf("VOLUME specified can not be an empty string")
			}
			cfg.Volumes[v] = struct{}{}
		}
		s.history(nop(c), false)
	case *instructions.HealthCheckCommand:
		h := c.Health
		cfg.Healthcheck = &v1.HealthConfig{Test: h.Test, Interval: h.Interval, Timeout: h.Timeout, StartPeriod: h.StartPeriod, Retries: h.Retries}
		s.history(nop(c), false)
	case *instructions.WorkdirCommand:
		dir := c.Path
		if !path.IsAbs(dir) {
			dir = path.Join("/", cfg.WorkingDir, dir)
		}
		cfg.WorkingDir = path.Clean(dir)
		if err := s.fs.MkdirAll(cfg.WorkingDir, 0o755); err != nil {
			return errdefs.InvalidParameterf("WORKDIR %s: %v", cfg.WorkingDir, err)
		}
		return p.commit(s, nop(c), false)
	case *instructions.RunCommand:
		return p.run(ctx, o, s, c)
	case *instructions.CopyCommand:
		chmod, err := parseChmod(c.Chmod)
		if err != nil {
			return err
		}
		if err := p.copy(ctx, s, c.From, c.SourcePaths, c.DestPath, chmod, false, done); err != nil {
			return err
		}
		return p.commit(s, nop(c), true)
	case *instructions.AddCommand:
		chmod, err := parseChmod(c.Chmod)
		if err != nil {
			return err
		}
		if err := p.copy(ctx, s, "", c.SourcePaths, c.DestPath, chmod, true, done); err != nil {
			return err
		}
		return p.commit(s, nop(c), true)
	default:
		return errdefs.NotImplementedf("%s is not supported by the sockerless builder", c)
	}
	return nil
}

// commandLine is CMD's or ENTRYPOINT's argv: exec form as written, shell
// form through the stage's SHELL.
func (p *Plan) commandLine(s *stage, c instructions.ShellDependantCmdLine) []string {
	if !c.PrependShell {
		return append([]string{}, c.CmdLine...)
	}
	return append(s.shell(), strings.Join(c.CmdLine, " "))
}

func (s *stage) shell() []string {
	if len(s.cfg.Config.Shell) > 0 {
		return append([]string{}, s.cfg.Config.Shell...)
	}
	return []string{"/bin/sh", "-c"}
}

func parseChmod(s string) (fs.FileMode, error) {
	if s == "" {
		return 0, nil
	}
	n, err := strconv.ParseUint(s, 8, 32)
	if err != nil || n > 0o7777 {
		return 0, errdefs.InvalidParameterf("invalid --chmod %q: only octal modes are supported", s)
	}
	return fs.FileMode(n), nil
}

// run executes a RUN step in the stage's root and commits what it changed.
func (p *Plan) run(ctx context.Context, o *output, s *stage, c *instructions.RunCommand) error {
	argv := p.commandLine(s, c.ShellDependantCmdLine)
	cid := randomHex(32)
	o.printf(" ---> Running in %s\n", cid[:12])
	dir := s.cfg.Config.WorkingDir
	if dir != "" {
		if err := s.fs.MkdirAll(dir, 0o755); err != nil {
			return errdefs.InvalidParameterf("working directory %s: %v", dir, err)
		}
	}
	env := s.env()
	if !hasKey(env, "PATH") {
		env = append(env, "PATH="+defaultPath)
	}
	code, err := p.b.cfg.Runner.RunInRoot(ctx, s.root, providers.RootProcess{
		Argv: argv, Env: env, Dir: dir, User: s.cfg.Config.User, Stdout: o, Stderr: o,
	})
	if err != nil {
		return fmt.Errorf("RUN: %w", err)
	}
	if code != 0 {
		return &RunError{Cmd: argv, Code: code}
	}
	createdBy := strings.Join(argv, " ")
	if len(s.args) > 0 {
		// The classic builder's record of the build args a RUN saw.
		createdBy = fmt.Sprintf("|%d %s %s", len(s.args), strings.Join(envList(s.args), " "), createdBy)
	}
	if err := p.commit(s, createdBy, true); err != nil {
		return err
	}
	o.printf(" ---> Removed intermediate container %s\n", cid[:12])
	return nil
}

func hasKey(env []string, key string) bool {
	for _, e := range env {
		if strings.HasPrefix(e, key+"=") {
			return true
		}
	}
	return false
}

// copy runs COPY (or ADD, which also unpacks local archives).
func (p *Plan) copy(ctx context.Context, s *stage, from string, sources []string, dest string, chmod fs.FileMode, add bool, done []*stage) error {
	srcDir := p.ctxDir
	if from != "" {
		switch prev := findStage(done[:len(done)-1], from); {
		case prev != nil:
			srcDir = prev.root
		default:
			dir, err := p.imageRoot(ctx, from)
			if err != nil {
				return err
			}
			srcDir = dir
		}
	}
	src, err := rootfs.New(srcDir, nil)
	if err != nil {
		return err
	}
	defer src.Close()
	paths, err := expandSources(src, srcDir, sources)
	if err != nil {
		return err
	}
	if !path.IsAbs(dest) {
		dest = path.Join("/", s.cfg.Config.WorkingDir, dest)
	}
	destIsDir := strings.HasSuffix(dest, "/") || len(paths) > 1
	if fi, err := s.fs.Stat(dest); err == nil && fi.IsDir() {
		destIsDir = true
	}
	dest = path.Clean(dest)
	for _, sp := range paths {
		if add && isArchive(src, sp) {
			f, err := src.Open(sp)
			if err != nil {
				return err
			}
			if err := s.fs.MkdirAll(dest, 0o755); err != nil {
				f.Close()
				return err
			}
			err = rootfs.ExtractTar(s.fs, dest, f, rootfs.ExtractOptions{})
			f.Close()
			if err != nil {
				return errdefs.InvalidParameterf("ADD %s: %v", sp, err)
			}
			continue
		}
		if err := copyInto(src, s.fs, sp, dest, destIsDir, chmod); err != nil {
			if errors.Is(err, rootfs.ErrUnsafeEntry) {
				return errdefs.InvalidParameter(err)
			}
			return fmt.Errorf("COPY %s: %w", sp, err)
		}
	}
	return nil
}

// imageRoot unpacks the image ref into a directory of the build, for
// COPY --from=image.
func (p *Plan) imageRoot(ctx context.Context, ref string) (string, error) {
	_, cfg, err := p.b.cfg.Resolver.Resolve(ctx, ref, false)
	if err != nil {
		return "", err
	}
	dir, err := os.MkdirTemp(p.dir, "from-")
	if err != nil {
		return "", err
	}
	f, err := rootfs.New(dir, nil)
	if err != nil {
		return "", err
	}
	defer f.Close()
	for _, d := range cfg.RootFS.DiffIDs {
		r, err := p.b.cfg.Layers.Open(d.String())
		if err != nil {
			return "", errdefs.InvalidParameterf("COPY --from=%s: the image's layers are not stored here", ref)
		}
		err = rootfs.ExtractLayer(f, r)
		r.Close()
		if err != nil {
			return "", errdefs.InvalidParameterf("COPY --from=%s: %v", ref, err)
		}
	}
	return dir, nil
}

// commit turns what changed in the stage's root since the last snapshot
// into a layer. A step that always makes a layer (RUN, COPY, ADD) makes
// one even when nothing changed, as the classic builder does; others
// only when something did.
func (p *Plan) commit(s *stage, createdBy string, always bool) error {
	after, err := takeSnapshot(s.root)
	if err != nil {
		return err
	}
	changes := diffSnapshots(s.snap, after)
	s.snap = after
	if len(changes) == 0 && !always {
		s.history(createdBy, false)
		return nil
	}
	pr, pw := io.Pipe()
	go func() { pw.CloseWithError(writeLayer(pw, s.root, changes)) }()
	info, err := p.b.cfg.Layers.Put(pr, "")
	pr.CloseWithError(err)
	if err != nil {
		return fmt.Errorf("storing layer: %w", err)
	}
	s.layers = append(s.layers, info)
	h, _ := v1.NewHash(info.DiffID)
	s.cfg.RootFS.DiffIDs = append(s.cfg.RootFS.DiffIDs, h)
	s.history(createdBy, true)
	return nil
}

// configID is the image id of cfg: the digest of its JSON.
func configID(cfg *v1.ConfigFile) string {
	b, _ := json.Marshal(cfg)
	sum := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(sum[:])
}

func shortID(id string) string {
	id = strings.TrimPrefix(id, "sha256:")
	if len(id) > 12 {
		return id[:12]
	}
	return id
}

func randomHex(n int) string {
	b := make([]byte, n/2)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// prevless reports whether base names no earlier stage.
func prevless(done []*stage, base string) bool { return findStage(done, base) == nil }
