package integration

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"runtime/metrics"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sockerless/sockerless/internal/embedded"
)

// wasmNoMemory writes the 36-byte WASI module of issue 12 finding 1 (it
// declares no memory) to /x in a container and runs it.
const wasmNoMemory = `printf "\0asm\1\0\0\0\1\4\1\140\0\0\3\2\1\0\7\12\1\6_start\0\0\12\4\1\2\0\13" > /x; chmod +x /x; /x`

// memoryServer is an embedded Sockerless with the memory provider.
func memoryServer(t *testing.T) *server {
	t.Helper()
	s := startServer(t, embedded.Options{StateDir: t.TempDir(), CacheDir: filepath.Join(os.TempDir(), "sockerless-test-wazero")})
	if out, rc := s.docker(t, "", "pull", "alpine:3.20"); rc != 0 {
		t.Fatalf("pull: %s", out)
	}
	return s
}

// TestHardening is issue 12 ("No container can harm Sockerless, the host
// or another container"), the findings inside the memory provider's
// sandbox, each through the real docker CLI.
func TestHardening(t *testing.T) {
	// The per-container ceiling every container gets without --memory.
	t.Setenv("SOCKERLESS_CONTAINER_MEMORY", "96m")
	s := memoryServer(t)
	alive := func(t *testing.T) {
		t.Helper()
		if out, rc := s.docker(t, "", "version", "--format", "{{.Server.Version}}"); rc != 0 {
			t.Fatalf("daemon no longer answers: %s", out)
		}
	}

	t.Run("finding01_wasm_nomem", func(t *testing.T) {
		ctx := writeContext(t, map[string]string{"Dockerfile": "FROM alpine:3.20\nRUN " + wasmNoMemory + "\n"})
		runSteps(t, s, []step{
			d(126, `not a WASI command`, "run", "--rm", "alpine:3.20", "sh", "-c", wasmNoMemory),
			// From a Dockerfile RUN too: the step fails, the daemon stays.
			d(126, `returned a non-zero code: 126`, "build", "-q", ctx),
		})
		alive(t)
	})

	t.Run("finding02_recursion", func(t *testing.T) {
		runSteps(t, s, []step{
			d(1, `f: maximum function nesting level exceeded \(1000\)`, "run", "--rm", "alpine:3.20", "sh", "-c", "f(){ f; }; f"),
			d(1, `maximum function nesting level exceeded`, "run", "--rm", "alpine:3.20", "sh", "-c", "g(){ eval g; }; g"),
		})
		alive(t)
	})

	t.Run("finding03_limits", func(t *testing.T) {
		since := time.Now().Add(-time.Second).Format(time.RFC3339Nano)
		runSteps(t, s, []step{
			d(137, ``, "run", "--name", "memhog", "--memory", "32m", "alpine:3.20", "sh", "-c", `s=x; while :; do s="$s$s"; done`),
			d(0, `^true 137$`, "inspect", "-f", "{{.State.OOMKilled}} {{.State.ExitCode}}", "memhog"),
		})
		// The bound is taken after the run (which may take seconds on a
		// loaded machine), so the oom event lies within it.
		runSteps(t, s, []step{
			d(0, `oom.*memhog`, "events", "--since", since, "--until", time.Now().Add(time.Second).Format(time.RFC3339Nano), "--filter", "event=oom"),
			d(0, ``, "rm", "memhog"),
			// Without --memory, the ceiling (here 96 MiB) holds: an
			// applet allocating 1 GiB is killed.
			d(137, ``, "run", "--rm", "alpine:3.20", "sh", "-c", "head -c 1073741824 /dev/zero | sort >/dev/null"),
			// Within the limit, work is untouched.
			d(0, `^1024$`, "run", "--rm", "--memory", "64m", "alpine:3.20", "sh", "-c", `s=x; for i in 1 2 3 4 5 6 7 8 9 10; do s="$s$s"; done; echo ${#s}`),
			// --pids-limit: six processes at once do not fit in 4.
			d(0, `(?s)can't fork: Resource temporarily unavailable.*rc=2`, "run", "--rm", "--pids-limit", "4", "alpine:3.20", "sh", "-c", "set -o pipefail; yes | head -c 1000000 | cat | cat | wc -c; echo rc=$?"),
			// docker stats reports the real limit.
			d(0, ``, "run", "-d", "--name", "limited", "--memory", "48m", "alpine:3.20", "sleep", "600"),
			d(0, `/ 48MiB$`, "stats", "--no-stream", "--format", "{{.MemUsage}}", "limited"),
			d(0, ``, "run", "-d", "--name", "ceiling", "alpine:3.20", "sleep", "600"),
			d(0, `/ 96MiB$`, "stats", "--no-stream", "--format", "{{.MemUsage}}", "ceiling"),
			d(0, ``, "rm", "-f", "limited", "ceiling"),
		})
		alive(t)
	})

	t.Run("finding04_nofile", func(t *testing.T) {
		var files []string
		for i := range 40 {
			files = append(files, fmt.Sprintf("/tmp/f%d", i))
		}
		before := openFDs(t)
		runSteps(t, s, []step{
			d(1, `f39: Try again`, "run", "--rm", "--ulimit", "nofile=16", "alpine:3.20", "sh", "-c", "echo x | tee "+strings.Join(files, " ")+" >/dev/null"),
			// Background pipelines pile up until the PIDs cap; the
			// daemon keeps serving and the container can be removed.
			d(0, ``, "run", "-d", "--name", "fdloop", "--pids-limit", "24", "alpine:3.20", "sh", "-c", "i=0; while [ $i -lt 300 ]; do sleep 600 | cat & i=$((i+1)); done; echo looped; wait"),
			d(0, `^ok$`, "run", "--rm", "alpine:3.20", "echo", "ok"),
			d(0, ``, "rm", "-f", "fdloop"),
		})
		// Whatever the loop opened is closed again (within a margin
		// for the CLI's own connections).
		if after := openFDs(t); after > before+16 {
			t.Fatalf("daemon descriptors %d before, %d after", before, after)
		}
		alive(t)
	})

	t.Run("finding10_shell_sees_container", func(t *testing.T) {
		runSteps(t, s, []step{
			d(0, `^~www-data ~daemon2 /root$`, "run", "--rm", "alpine:3.20", "sh", "-c", "echo ~www-data ~daemon2 ~root"),
			d(0, `^absent$`, "run", "--rm", "alpine:3.20", "sh", "-c", "command -v /usr/bin/git go >/dev/null || echo absent"),
			d(0, `^rc=1$`, "run", "--rm", "alpine:3.20", "sh", "-c", "type -p git go; echo rc=$?"),
			d(0, `^1$`, "run", "--rm", "alpine:3.20", "sh", "-c", "echo $$"),
			d(0, `^same$`, "run", "--rm", "alpine:3.20", "sh", "-c", `a=$(PATH=/usr/bin . git 2>&1 | sed 's/:.*//'); b=$(PATH=/usr/bin . nosuch 2>&1 | sed 's/:.*//'); [ "$a" = "$b" ] && echo same`),
		})
	})

	t.Run("finding16_logs", func(t *testing.T) {
		runSteps(t, s, []step{
			d(0, ``, "run", "--name", "lg", "alpine:3.20", "sh", "-c", `printf x; printf x; printf "x\n"; echo y; printf z`),
			d(0, `^y\nz$`, "logs", "--tail", "2", "lg"),
			d(0, `^\d{4}-\d\d-\d\dT[^ ]+ xxx\n\d{4}-\d\d-\d\dT[^ ]+ y\n\d{4}-\d\d-\d\dT[^ ]+ z$`, "logs", "-t", "lg"),
			d(0, ``, "rm", "lg"),
			// max-size/max-file: 1000 lines (3893 bytes) in files of
			// at most 1 KiB, two kept: only the newest lines remain.
			d(0, ``, "run", "--name", "rot", "--log-opt", "max-size=1k", "--log-opt", "max-file=2", "alpine:3.20", "seq", "1000"),
		})
		out, _ := s.docker(t, "", "logs", "rot")
		lines := strings.Fields(out)
		if len(lines) == 0 || len(lines) > 2048/4 || lines[len(lines)-1] != "1000" {
			t.Fatalf("rotated log: %d lines, ending %q", len(lines), lines[max(0, len(lines)-1):])
		}
		runSteps(t, s, []step{d(0, ``, "rm", "rot")})
		// Output is kept on disk, not in the heap: 100,000 writes of one
		// byte grow the heap by far less than their entries once did.
		before := heapMiB()
		runSteps(t, s, []step{d(0, ``, "run", "--name", "many", "alpine:3.20", "sh", "-c", `i=0; while [ $i -lt 100000 ]; do printf x; i=$((i+1)); done`)})
		after := heapMiB()
		t.Logf("heap %d MiB before, %d MiB after 100,000 writes", before, after)
		if after > before+8 {
			t.Fatalf("heap grew from %d to %d MiB while the container's log exists", before, after)
		}
		if out, _ := s.docker(t, "", "logs", "many"); len(strings.TrimSpace(out)) != 100000 {
			t.Fatalf("log holds %d bytes", len(strings.TrimSpace(out)))
		}
		runSteps(t, s, []step{d(0, ``, "rm", "many")})
	})

	t.Run("finding17_flags_applied", func(t *testing.T) {
		runSteps(t, s, []step{
			d(1, `Read-only file system`, "run", "--rm", "--read-only", "alpine:3.20", "touch", "/x"),
			d(0, `^yes$`, "run", "--rm", "--read-only", "--tmpfs", "/scratch", "alpine:3.20", "sh", "-c", "touch /scratch/f && test -d /scratch && echo yes"),
			d(0, `^`+strconv.FormatBool(cpuLimitsApply())+` false true$`, "info", "--format", "{{.CPUCfsQuota}} {{.CPUCfsPeriod}} {{.MemoryLimit}}"),
			// What cannot be applied is said, as Docker's Warnings.
			d(0, `(?s)WARNING: The memory provider does not apply --cpu-shares; it is ignored.*WARNING: The memory provider does not apply --privileged`, "create", "--name", "warned", "--privileged", "--cpu-shares", "512", "--memory", "64m", "--ulimit", "nofile=100", "alpine:3.20"),
			d(0, ``, "rm", "warned"),
		})
		testCPULimit(t, s)
	})

	t.Run("finding18_real_values", func(t *testing.T) {
		machine := map[string]string{"amd64": "x86_64", "arm64": "aarch64"}[runtime.GOARCH]
		runSteps(t, s, []step{
			d(0, ``, "run", "-d", "--name", "real", "alpine:3.20", "sleep", "600"),
			d(0, `(?m)^\s*1 root\s+sleep 600$`, "exec", "real", "ps"),
			d(0, `(?m)^root\s+1\s+0\s+.*sleep 600$`, "top", "real"),
			d(0, "^"+machine+" "+machine+" "+strconv.Itoa(runtime.NumCPU())+"$", "exec", "real", "sh", "-c", "echo $(uname -m) $(arch) $(nproc)"),
			// ps -s: what the container wrote, and its whole root.
			d(0, ``, "exec", "real", "sh", "-c", "head -c 100000 /dev/zero > /big"),
			d(0, `^100kB \(virtual [0-9.]+[kMG]B\)$`, "ps", "-s", "--filter", "name=real", "--format", "{{.Size}}"),
			d(0, ``, "rm", "-f", "real"),
			d(0, ``, "run", "--name", "pruned", "alpine:3.20", "sh", "-c", "head -c 200000 /dev/zero > /big"),
			d(0, `Total reclaimed space: 200kB`, "container", "prune", "-f"),
		})
	})
}

// TestHardeningCompileCache is finding 19: distinct WASI programs run in
// containers no longer grow the compilation cache without bound.
func TestHardeningCompileCache(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "cache")
	// From the shared cache, so the applets load compiled.
	if out, err := exec.Command("cp", "-r", filepath.Join(os.TempDir(), "sockerless-test-wazero"), dir).CombinedOutput(); err != nil {
		t.Fatalf("%v %s", err, out)
	}
	t.Setenv("SOCKERLESS_WASM_CACHE_MAX_BYTES", "1") // room for nothing but the applets
	s := startServer(t, embedded.Options{StateDir: t.TempDir(), CacheDir: dir})
	runSteps(t, s, []step{d(0, ``, "pull", "alpine:3.20")})
	for _, tag := range []string{"p1", "p2", "p3"} {
		runSteps(t, s, []step{d(0, ``, "run", "--rm", "alpine:3.20", "sh", "-c", "printf '"+octal(wasiCommand(tag))+"' > /p; chmod +x /p; /p")})
	}
	var files []string
	_ = filepath.WalkDir(dir, func(p string, e os.DirEntry, err error) error {
		if err == nil && !e.IsDir() && !strings.HasPrefix(e.Name(), "sockerless-lru") {
			files = append(files, p)
		}
		return nil
	})
	if len(files) != 1 {
		t.Fatalf("cache holds %d files, want only the applets': %v", len(files), files)
	}
}

// wasiCommand is a minimal WASI command (exported _start and memory)
// made distinct by a custom section named tag.
func wasiCommand(tag string) []byte {
	m := []byte("\x00asm\x01\x00\x00\x00\x01\x04\x01\x60\x00\x00\x03\x02\x01\x00\x05\x03\x01\x00\x01\x07\x13\x02\x06_start\x00\x00\x06memory\x02\x00\x0a\x04\x01\x02\x00\x0b")
	m = append(m, 0x00, byte(2+len(tag)), byte(len(tag)))
	return append(append(m, tag...), 0x00)
}

// octal writes b as printf(1) octal escapes.
func octal(b []byte) string {
	var s strings.Builder
	for _, c := range b {
		fmt.Fprintf(&s, "\\%03o", c)
	}
	return s.String()
}

// openFDs counts this process's open descriptors (the embedded daemon
// runs in the test process).
func openFDs(t *testing.T) int {
	t.Helper()
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatal(err)
	}
	return len(ents)
}

// heapMiB is the live heap after a collection, in MiB.
func heapMiB() int64 {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return int64(ms.HeapAlloc >> 20)
}

// rssMiB is this process's resident set in MiB.
func rssMiB(t *testing.T) int64 {
	t.Helper()
	f, err := os.Open("/proc/self/status")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmRSS:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return kb >> 10
		}
	}
	t.Fatal("no VmRSS")
	return 0
}

// goMemMiB is the memory the Go runtime has mapped and not handed back
// (heap, stacks, its own structures), in MiB: what the daemon itself
// holds, without the race detector's shadow memory, which the runtime
// does not count.
func goMemMiB() int64 {
	ms := []metrics.Sample{{Name: "/memory/classes/total:bytes"}, {Name: "/memory/classes/heap/released:bytes"}}
	metrics.Read(ms)
	return int64(ms[0].Value.Uint64()-ms[1].Value.Uint64()) >> 20
}

// rssBoundMiB is the daemon memory the survival test holds: two
// containers at the default 256 MiB ceiling (the allocation and the loop
// of sleeps), the garbage a doubling string leaves until the next GC, the
// daemon and the test's own heap. It bounds the RSS of a normal build.
const rssBoundMiB = 1536

// raceMemFactor multiplies rssBoundMiB for the RSS of a -race build (as
// `make test` runs): ThreadSanitizer keeps shadow memory twice the size
// of the memory it watches, and the doubling strings are written through
// instrumented code, so RSS grows up to 3x the memory the daemon holds
// (measured: 1.9-3.7 GiB with -race against 0.87-0.98 GiB without, on
// the loaded 2-core machine, and 4.75 GiB once while `make test` ran
// beside two CPU hogs, where the collector lags the doubling strings'
// garbage). The memory the Go runtime holds (goMemMiB, without the
// shadow) is printed beside it, not bounded: on a loaded machine the
// collector lags and it reached 2.3 GiB.
const raceMemFactor = 4

// TestHardeningDaemonSurvives runs the hostile workloads of issue 12 side
// by side — the 36-byte module, unbounded recursion, a 1 GiB allocation
// and a loop of background pipelines — while a bystander container keeps
// answering docker exec and the daemon's RSS stays under rssBoundMiB.
func TestHardeningDaemonSurvives(t *testing.T) {
	s := memoryServer(t)
	runSteps(t, s, []step{d(0, ``, "run", "-d", "--name", "bystander", "alpine:3.20", "sleep", "600")})
	hostile := map[string]string{
		"nomem":     wasmNoMemory,
		"recursion": "f(){ f; }; f",
		"alloc1g":   `s=x; while [ ${#s} -lt 1073741824 ]; do s="$s$s"; done`,
		"fdloop":    "i=0; while [ $i -lt 3000 ]; do sleep 600 | cat & i=$((i+1)); done; echo looped",
	}
	var wg sync.WaitGroup
	codes := map[string]int{}
	var mu sync.Mutex
	for name, script := range hostile {
		wg.Go(func() {
			// Four hostile containers at once under -race on a loaded
			// machine take minutes: the guard is against a hang only.
			_, rc := s.dockerWithin(t, 10*time.Minute, "", "run", "--name", name, "alpine:3.20", "sh", "-c", script)
			mu.Lock()
			codes[name] = rc
			mu.Unlock()
		})
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	var peak, goPeak int64
	execs := 0
	for running := true; running; {
		select {
		case <-done:
			running = false
		default:
		}
		out, rc := s.docker(t, "", "exec", "bystander", "echo", "still-here")
		if rc != 0 || strings.TrimSpace(out) != "still-here" {
			t.Fatalf("bystander exec: %d %q", rc, out)
		}
		execs++
		peak = max(peak, rssMiB(t))
		goPeak = max(goPeak, goMemMiB())
	}
	rssBound := int64(rssBoundMiB)
	if raceBuild {
		rssBound *= raceMemFactor
	}
	t.Logf("hostile exits %v; %d bystander execs answered; daemon peak RSS %d MiB (bound %d MiB, race build %v); Go runtime peak %d MiB",
		codes, execs, peak, rssBound, raceBuild, goPeak)
	fmt.Printf("hardening survival: daemon peak RSS %d MiB, bound %d MiB (%d MiB, x %d under -race; race build: %v); Go runtime peak %d MiB\n",
		peak, rssBound, rssBoundMiB, raceMemFactor, raceBuild, goPeak)
	// The descriptor loop ends by itself or is OOM-killed at the ceiling
	// (each sleep is a WebAssembly instance of a few MiB).
	for name, want := range map[string]string{"nomem": "^126$", "recursion": "^1$", "alloc1g": "^137$", "fdloop": "^(0|137)$"} {
		if !regexp.MustCompile(want).MatchString(strconv.Itoa(codes[name])) {
			t.Errorf("%s exited %d, want %s", name, codes[name], want)
		}
	}
	if peak > rssBound {
		t.Fatalf("daemon RSS reached %d MiB, over the %d MiB bound", peak, rssBound)
	}
	runSteps(t, s, []step{d(0, `^still-here$`, "exec", "bystander", "echo", "still-here"), d(0, ``, "rm", "-f", "bystander", "nomem", "recursion", "alloc1g", "fdloop")})
}
