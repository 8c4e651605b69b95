// Package sandbox runs a container's processes in-process: a POSIX shell
// (mvdan.cc/sh/v3) interpreted on the host side, and coreutils-like applets
// compiled to WebAssembly (GOOS=wasip1) executed by wazero, each container
// confined to its own root directory and mounts (package rootfs).
//
// A [Sandbox] holds the wazero runtime and the compiled applet module; it is
// created once per process and shared. A [Container] is one container's
// filesystem and process table; [Container.Start] runs a [Process] and
// returns a [Proc] to wait on, signal or kill.
//
// See docs/sandbox.md for the design and its security argument.
package sandbox

import (
	"bufio"
	"bytes"
	"cmp"
	"context"
	"crypto/sha256"
	_ "embed"
	"errors"
	"fmt"
	"io"
	"runtime/debug"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/caarlos0/env/v11"
	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/imports/wasi_snapshot_preview1"
)

// appletsWasm is the multi-call applet module, built by `make applets`
// (GOOS=wasip1 GOARCH=wasm go build ./providers/memory/applets). It is a
// string so that it sits in the binary's read-only data, whose pages
// [releaseEmbedded] can hand back once the module is compiled.
//
//go:embed applets.wasm
var appletsWasm string

// Options configures a [Sandbox].
type Options struct {
	// CacheDir keeps wazero's compiled code across process restarts, so a
	// warm start skips compiling the applets. Empty means an in-memory
	// cache only.
	CacheDir string
	// CacheMaxBytes bounds the compilation cache on disk, least
	// recently used programs evicted first (the applets never); zero
	// means $SOCKERLESS_WASM_CACHE_MAX_BYTES, else DefaultCacheMaxBytes.
	CacheMaxBytes int64
	// MaxGoroutines is the daemon-wide number of goroutines past which
	// shell commands fail to start (`can't fork`): background jobs of
	// shell functions are goroutines of the interpreter that no
	// container limit sees. Zero means DefaultMaxGoroutines.
	MaxGoroutines int
	// MemoryLimitPages caps each WebAssembly instance's linear memory in
	// 64 KiB pages; zero means 16384 pages (1 GiB).
	MemoryLimitPages uint32
	// TempDir is the host directory where the shell interpreter creates
	// the FIFOs of process substitutions <(...) (inside a private
	// subdirectory per shell). Empty means os.TempDir().
	TempDir string
}

// Sandbox is the shared WebAssembly runtime with the compiled applets. It
// is safe for concurrent use; Close it when done.
type Sandbox struct {
	opts    Options
	rt      wazero.Runtime
	cache   wazero.CompilationCache
	applets wazero.CompiledModule
	names   map[string]bool // applets the module provides
	mem     *memoryPool
	disk    *diskCache // nil without a cache directory

	// running counts WebAssembly instances alive; when it drops to zero
	// and stays there for IdleRelease, idle returns the Go heap the
	// instances' linear memories used to the OS (the scavenger alone
	// takes minutes), so an idle daemon holds only what it needs.
	running atomic.Int64
	idle    *time.Timer

	// closing is cancelled by Close: every process started in the
	// sandbox is then killed (Container.Start watches it), so guests stop
	// on their own goroutines where wazero checks for termination.
	closing   context.Context
	terminate context.CancelFunc

	mu       sync.Mutex
	binaries map[[32]byte]wazero.CompiledModule // WASI programs found in images

	// census counts goroutines by container (see census.go) and
	// containers numbers the containers' labels.
	census     goroutineCensus
	containers atomic.Int64

	// cpu holds the containers' cpu cgroups; nil where CPU limits
	// cannot be applied (see CPULimits).
	cpu *cpuGroups
}

// CPULimits reports whether Limits.NanoCPUs is applied: the host has a
// writable cgroup v1 cpu hierarchy (see cpu_linux.go).
func (s *Sandbox) CPULimits() bool { return s.cpu != nil }

// New compiles the applets (or loads them from the cache) and prepares the
// runtime.
func New(ctx context.Context, o Options) (*Sandbox, error) {
	if len(appletsWasm) == 0 {
		return nil, errors.New("sandbox: applets.wasm is empty; run `make applets`")
	}
	if o.MemoryLimitPages == 0 {
		o.MemoryLimitPages = 16384
	}
	if o.MaxGoroutines == 0 {
		o.MaxGoroutines = DefaultMaxGoroutines
	}
	if o.CacheMaxBytes == 0 {
		var e struct {
			Max int64 `env:"SOCKERLESS_WASM_CACHE_MAX_BYTES"`
		}
		if err := env.Parse(&e); err != nil {
			return nil, fmt.Errorf("sandbox: %w", err)
		}
		o.CacheMaxBytes = cmp.Or(e.Max, DefaultCacheMaxBytes)
	}
	var cache wazero.CompilationCache
	if o.CacheDir != "" {
		c, err := wazero.NewCompilationCacheWithDir(o.CacheDir)
		if err != nil {
			return nil, fmt.Errorf("sandbox: compilation cache: %w", err)
		}
		cache = c
	} else {
		cache = wazero.NewCompilationCache()
	}
	cfg := wazero.NewRuntimeConfig().
		WithCompilationCache(cache).
		WithCloseOnContextDone(true).
		WithMemoryLimitPages(o.MemoryLimitPages)
	rt := wazero.NewRuntimeWithConfig(ctx, cfg)
	s := &Sandbox{opts: o, rt: rt, cache: cache, binaries: map[[32]byte]wazero.CompiledModule{}, mem: newMemoryPool()}
	if o.CacheDir != "" {
		s.disk = newDiskCache(o.CacheDir, o.CacheMaxBytes)
	}
	s.closing, s.terminate = context.WithCancel(context.Background())
	fail := func(err error) (*Sandbox, error) {
		s.terminate()
		s.mem.stop()
		_ = rt.Close(ctx)
		_ = cache.Close(ctx)
		return nil, err
	}
	if _, err := wasi_snapshot_preview1.Instantiate(ctx, rt); err != nil {
		return fail(fmt.Errorf("sandbox: wasi: %w", err))
	}
	if err := instantiateHostModule(ctx, rt); err != nil {
		return fail(fmt.Errorf("sandbox: host module: %w", err))
	}
	// wazero only reads the bytes (and copies what it keeps), so the
	// embedded string is passed without a 6 MB copy.
	var mod wazero.CompiledModule
	err := s.disk.compile("applets", true, func() (err error) {
		mod, err = rt.CompileModule(ctx, unsafe.Slice(unsafe.StringData(appletsWasm), len(appletsWasm)))
		return err
	})
	if err != nil {
		return fail(fmt.Errorf("sandbox: compile applets: %w", err))
	}
	s.applets = mod
	names, err := s.listApplets(ctx)
	if err != nil {
		return fail(err)
	}
	s.names = names
	// Loading the compiled module from the cache (or compiling it) leaves
	// tens of MiB of buffers behind; return them now rather than hold
	// them until the scavenger gets there. The embedded module itself was
	// read once to decode it and is not read again.
	debug.FreeOSMemory()
	releaseEmbedded(appletsWasm)
	s.idle = time.AfterFunc(time.Hour, func() {
		if s.running.Load() == 0 {
			s.mem.release()
			debug.FreeOSMemory()
		}
	})
	s.idle.Stop()
	s.cpu = openCPUGroups()
	return s, nil
}

// DefaultMaxGoroutines is Options.MaxGoroutines by default: far above
// what thousands of containers use, far below what exhausts the daemon's
// memory (each interpreter subshell costs tens of KiB).
const DefaultMaxGoroutines = 20000

// IdleRelease is how long the sandbox must be without running instances
// before it returns their memory to the OS.
const IdleRelease = 250 * time.Millisecond

// instanceStarted and instanceEnded track running instances for the idle
// release.
func (s *Sandbox) instanceStarted() { s.running.Add(1) }

func (s *Sandbox) instanceEnded() {
	if s.running.Add(-1) == 0 {
		s.idle.Reset(IdleRelease)
	}
}

// listApplets asks the module which applets it provides.
func (s *Sandbox) listApplets(ctx context.Context) (map[string]bool, error) {
	var out, errb bytes.Buffer
	cfg := wazero.NewModuleConfig().WithName("").WithArgs("applets", "--list").
		WithStdout(&out).WithStderr(&errb)
	m, err := s.rt.InstantiateModule(ctx, s.applets, cfg)
	if m != nil {
		_ = m.Close(ctx)
	}
	if code, ok := exitCode(err); !ok || code != 0 {
		return nil, fmt.Errorf("sandbox: listing applets: %v %s", err, errb.String())
	}
	names := map[string]bool{}
	sc := bufio.NewScanner(&out)
	for sc.Scan() {
		if n := strings.TrimSpace(sc.Text()); n != "" {
			names[n] = true
		}
	}
	return names, nil
}

// Close releases the runtime. Running processes are terminated first, each
// on its own goroutine (wazero closing a module that is still executing
// would release its files under the running guest), for up to
// closeGrace; whatever is still running then is closed with the runtime.
func (s *Sandbox) Close(ctx context.Context) error {
	s.idle.Stop()
	s.terminate()
	for deadline := time.Now().Add(closeGrace); s.running.Load() > 0 && time.Now().Before(deadline); {
		time.Sleep(2 * time.Millisecond)
	}
	s.mem.stop()
	s.cpu.close()
	return errors.Join(s.rt.Close(ctx), s.cache.Close(ctx))
}

// closeGrace bounds how long Close waits for running instances to stop.
const closeGrace = 5 * time.Second

// Applets lists the commands the sandbox provides itself (the WebAssembly
// applets and the shells), sorted.
func (s *Sandbox) Applets() []string {
	out := make([]string, 0, len(s.names)+4)
	for n := range s.names {
		out = append(out, n)
	}
	out = append(out, "ash", "bash", "dash", "sh")
	sortStrings(out)
	return out
}

// isApplet reports whether name is provided by the applet module.
func (s *Sandbox) isApplet(name string) bool { return s.names[name] }

// isShell reports whether name is one of the shells the host interprets.
func isShell(name string) bool {
	switch name {
	case "sh", "bash", "ash", "dash":
		return true
	}
	return false
}

// compileBinary compiles a WASI program found in a container, caching it
// by content.
func (s *Sandbox) compileBinary(ctx context.Context, code []byte) (wazero.CompiledModule, error) {
	key := sha256.Sum256(code)
	s.mu.Lock()
	m, ok := s.binaries[key]
	s.mu.Unlock()
	if ok {
		s.disk.used(programKey(key))
		return m, nil
	}
	err := s.disk.compile(programKey(key), false, func() (err error) {
		m, err = s.rt.CompileModule(ctx, code)
		return err
	})
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	if old, ok := s.binaries[key]; ok {
		s.mu.Unlock()
		_ = m.Close(ctx)
		return old, nil
	}
	if len(s.binaries) >= 64 {
		for k, v := range s.binaries {
			_ = v.Close(ctx)
			delete(s.binaries, k)
			break
		}
	}
	s.binaries[key] = m
	s.mu.Unlock()
	return m, nil
}

// readHead returns up to n bytes from the start of r.
func readHead(r io.Reader, n int) []byte {
	buf := make([]byte, n)
	k, _ := io.ReadFull(r, buf)
	return buf[:k]
}
