package integration

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/moby/moby/api/pkg/stdcopy"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"

	"github.com/sockerless/sockerless/internal/testutil/emulators"
)

// The benchmarks in this file put the memory provider (the embedded
// default, cmd/sockerless as its own process) side by side with native
// /bin/sh and coreutils on the same machine, in one run. Each reports
// medians as metrics: sockerless-ms and native-ms (and x-native, their
// ratio). `make bench` runs them; docs/performance.md records results.

var (
	benchBinOnce sync.Once
	benchBin     string
	benchBinErr  error
)

// sockerlessBinary builds cmd/sockerless once per test binary run, or
// uses the binary named by $SOCKERLESS_BENCH_BIN (to measure a given
// build).
func sockerlessBinary(b *testing.B) string {
	b.Helper()
	benchBinOnce.Do(func() {
		if p := os.Getenv("SOCKERLESS_BENCH_BIN"); p != "" {
			benchBin = p
			return
		}
		root, err := emulators.RepoRoot()
		if err != nil {
			benchBinErr = err
			return
		}
		dir, err := os.MkdirTemp("", "sl-bench-bin-")
		if err != nil {
			benchBinErr = err
			return
		}
		benchBin = filepath.Join(dir, "sockerless")
		// Built as `make build` builds it (static, no cgo).
		cmd := exec.Command("go", "build", "-trimpath", "-o", benchBin, "./cmd/sockerless")
		cmd.Dir = root
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			benchBinErr = fmt.Errorf("go build ./cmd/sockerless: %v\n%s", err, out)
		}
	})
	if benchBinErr != nil {
		b.Fatal(benchBinErr)
	}
	return benchBin
}

// warmCache is the compilation cache the warm benchmarks share.
func warmCache() string { return filepath.Join(os.TempDir(), "sockerless-bench-wazero") }

// procServer is cmd/sockerless running as its own process.
type procServer struct {
	server
	cmd *exec.Cmd
}

// startProcServer starts cmd/sockerless (embedded, memory provider) with
// its compilation cache in cacheHome/sockerless/wazero and waits until it
// answers /_ping; it returns how long that took.
func startProcServer(b *testing.B, cacheHome string) (*procServer, time.Duration) {
	b.Helper()
	bin := sockerlessBinary(b)
	dir, err := os.MkdirTemp("", "sl-bench-")
	if err != nil {
		b.Fatal(err)
	}
	sock := filepath.Join(dir, "d.sock")
	cfg := filepath.Join(dir, "dockercfg")
	os.MkdirAll(cfg, 0o700)
	t0 := time.Now()
	cmd := exec.Command(bin)
	cmd.Env = append(os.Environ(), "SOCKERLESS_LISTEN=unix://"+sock, "SOCKERLESS_LOG_LEVEL=error", "XDG_CACHE_HOME="+cacheHome, "TMPDIR="+dir)
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	p := &procServer{server: server{sock: sock, dockerHost: "unix://" + sock, configDir: cfg}, cmd: cmd}
	b.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		done := make(chan struct{})
		go func() { _ = cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
		os.RemoveAll(dir)
	})
	hc := p.httpClient()
	for deadline := time.Now().Add(60 * time.Second); ; {
		resp, err := hc.Get("http://docker/_ping")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				break
			}
		}
		if time.Now().After(deadline) {
			b.Fatalf("sockerless did not answer /_ping: %v", err)
		}
		time.Sleep(5 * time.Millisecond)
	}
	return p, time.Since(t0)
}

// rssBytes reads VmRSS of pid from /proc.
func rssBytes(b *testing.B, pid int) int64 {
	b.Helper()
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmRSS:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			if err != nil {
				b.Fatal(err)
			}
			return kb << 10
		}
	}
	b.Fatal("no VmRSS")
	return 0
}

func (p *procServer) sdk(b *testing.B) *client.Client {
	b.Helper()
	cli, err := client.New(client.WithHost(p.dockerHost), client.WithHTTPClient(&http.Client{Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", p.sock)
		}}}))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { cli.Close() })
	return cli
}

// execAPI runs cmd in ctr through the Engine API (exec create, attach,
// inspect), as CI runners do, and returns stdout and the exit code.
func execAPI(b *testing.B, cli *client.Client, ctr string, env []string, cmd ...string) (string, int) {
	b.Helper()
	ctx := context.Background()
	r, err := cli.ExecCreate(ctx, ctr, client.ExecCreateOptions{Cmd: cmd, Env: env, AttachStdout: true, AttachStderr: true})
	if err != nil {
		b.Fatal(err)
	}
	a, err := cli.ExecAttach(ctx, r.ID, client.ExecAttachOptions{})
	if err != nil {
		b.Fatal(err)
	}
	var out, errb bytes.Buffer
	_, err = stdcopy.StdCopy(&out, &errb, a.Reader)
	a.Close()
	if err != nil {
		b.Fatal(err)
	}
	i, err := cli.ExecInspect(ctx, r.ID, client.ExecInspectOptions{})
	if err != nil {
		b.Fatal(err)
	}
	if i.ExitCode != 0 {
		b.Fatalf("exec %q: exit %d; stderr %s", cmd, i.ExitCode, errb.String())
	}
	return out.String(), i.ExitCode
}

// native runs argv on the host and returns its stdout.
func native(b *testing.B, dir string, argv ...string) string {
	b.Helper()
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Dir = dir
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		b.Fatalf("native %q: %v %s", argv, err, errb.String())
	}
	return out.String()
}

// sideBySide times sl and nat alternately b.N times and reports their
// medians and the ratio.
func sideBySide(b *testing.B, sl, nat func()) {
	b.Helper()
	var ts, tn []time.Duration
	for b.Loop() {
		t0 := time.Now()
		sl()
		ts = append(ts, time.Since(t0))
		t0 = time.Now()
		nat()
		tn = append(tn, time.Since(t0))
	}
	ms, mn := medianMS(ts), medianMS(tn)
	b.ReportMetric(ms, "sockerless-ms")
	b.ReportMetric(mn, "native-ms")
	if mn > 0 {
		b.ReportMetric(ms/mn, "x-native")
	}
}

func medianMS(ds []time.Duration) float64 {
	if len(ds) == 0 {
		return 0
	}
	s := append([]time.Duration(nil), ds...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return float64(s[len(s)/2].Microseconds()) / 1000
}

// BenchmarkNativeRunRm: the wall time of `docker run --rm alpine:3.20
// true` through the real CLI against a warm cmd/sockerless, end to end
// (CLI start-up, create, attach, wait, start, exit, auto-remove), next to
// native `/bin/sh -c true`. Target: under 60 ms.
func BenchmarkNativeRunRm(b *testing.B) {
	p, _ := startProcServer(b, warmCache())
	p.docker(b, "", "pull", "alpine:3.20")
	if out, rc := p.docker(b, "", "run", "--rm", "alpine:3.20", "true"); rc != 0 {
		b.Fatalf("warm-up run: %d %s", rc, out)
	}
	sideBySide(b, func() {
		if out, rc := p.docker(b, "", "run", "--rm", "alpine:3.20", "true"); rc != 0 {
			b.Fatalf("run: %d %s", rc, out)
		}
	}, func() { native(b, "", "/bin/sh", "-c", "true") })
}

// benchBox starts cmd/sockerless and a running container "box" with the
// host directory data bind-mounted at /data.
func benchBox(b *testing.B, data string) (*procServer, *client.Client) {
	p, _ := startProcServer(b, warmCache())
	p.docker(b, "", "pull", "alpine:3.20")
	if out, rc := p.docker(b, "", "run", "-d", "--name", "box", "-v", data+":/data", "alpine:3.20", "sleep", "100000"); rc != 0 {
		b.Fatalf("run box: %d %s", rc, out)
	}
	return p, p.sdk(b)
}

// BenchmarkNativeExec: `echo hi` by exec in a running container, through
// the Engine API (exec create → attach → inspect, as CI runners do) and
// through the real CLI (`docker exec box echo hi`, CLI start-up
// included), next to native `/bin/sh -c 'echo hi'`. Target: under 15 ms.
func BenchmarkNativeExec(b *testing.B) {
	p, cli := benchBox(b, b.TempDir())
	b.Run("api", func(b *testing.B) {
		sideBySide(b, func() {
			if out, _ := execAPI(b, cli, "box", nil, "echo", "hi"); out != "hi\n" {
				b.Fatalf("exec output %q", out)
			}
		}, func() { native(b, "", "/bin/sh", "-c", "echo hi") })
	})
	b.Run("cli", func(b *testing.B) {
		sideBySide(b, func() {
			if out, rc := p.docker(b, "", "exec", "box", "echo", "hi"); rc != 0 || out != "hi\n" {
				b.Fatalf("docker exec: %d %q", rc, out)
			}
		}, func() { native(b, "", "/bin/sh", "-c", "echo hi") })
	})
}

// script200 is a 200-line shell script of the kind CI steps are made of:
// variables, arithmetic, a function, case, appends to a log, and every
// tenth line an external command (grep, sed, wc, cut, tr, sort, head,
// tail). It runs under `sh script WORKDIR` and prints the same output
// natively and in the sandbox.
func script200() string {
	var s strings.Builder
	lines := []string{
		"set -e",
		`W=$1`,
		`mkdir -p "$W"`,
		`: > "$W/log"`,
		"count=0",
		`add() { count=$((count + $1)); }`,
	}
	ext := []string{
		`grep -c value "$W/log"`,
		`sed -n '1p' "$W/log"`,
		`wc -l < "$W/log"`,
		`cut -d ' ' -f 2 "$W/log" | tail -n 1`,
		`tr a-z A-Z < "$W/log" | head -n 1`,
		`sort -r "$W/log" | head -n 1`,
		`grep -v 7 "$W/log" | wc -l`,
		`tail -n 2 "$W/log" | head -n 1`,
	}
	for n := 1; len(lines) < 197; n++ {
		switch {
		case n%10 == 0:
			lines = append(lines, ext[(n/10)%len(ext)])
		case n%3 == 0:
			lines = append(lines, fmt.Sprintf("add %d", n))
		case n%7 == 0:
			lines = append(lines, fmt.Sprintf(`case %d in *7) echo "seven %d" ;; *) : ;; esac`, n, n))
		default:
			lines = append(lines, fmt.Sprintf(`echo "line %d value $((%d * 3))" >> "$W/log"`, n, n))
		}
	}
	lines = append(lines, `echo "count=$count"`, `test -f "$W/log" && echo done`, `rm -r "$W"`)
	for _, l := range lines {
		s.WriteString(l + "\n")
	}
	return s.String()
}

// BenchmarkNativeScript200 runs script200 by exec in a running container
// (Engine API) and with native /bin/sh, and checks both print the same.
func BenchmarkNativeScript200(b *testing.B) {
	data := b.TempDir()
	src := script200()
	if n := strings.Count(src, "\n"); n != 200 {
		b.Fatalf("script has %d lines", n)
	}
	if err := os.WriteFile(filepath.Join(data, "script.sh"), []byte(src), 0o644); err != nil {
		b.Fatal(err)
	}
	_, cli := benchBox(b, data)
	work := b.TempDir()
	want := native(b, "", "/bin/sh", filepath.Join(data, "script.sh"), filepath.Join(work, "w"))
	if got, _ := execAPI(b, cli, "box", nil, "sh", "/data/script.sh", "/tmp/w"); got != want {
		b.Fatalf("sandbox output differs from native:\n%s\nnative:\n%s", got, want)
	}
	sideBySide(b, func() {
		execAPI(b, cli, "box", nil, "sh", "/data/script.sh", "/tmp/w")
	}, func() {
		native(b, "", "/bin/sh", filepath.Join(data, "script.sh"), filepath.Join(work, "w"))
	})
}

// BenchmarkNativeFile100MiB: `wc -c` and `sha256sum` of a 100 MiB file
// (bind-mounted into the container) by exec, next to GNU coreutils on the
// same file. Target: within 5x native.
func BenchmarkNativeFile100MiB(b *testing.B) {
	data := b.TempDir()
	big := filepath.Join(data, "big")
	f, err := os.Create(big)
	if err != nil {
		b.Fatal(err)
	}
	rng := rand.NewChaCha8([32]byte{1})
	if _, err := io.CopyN(f, rng, 100<<20); err != nil {
		b.Fatal(err)
	}
	if err := f.Close(); err != nil {
		b.Fatal(err)
	}
	_, cli := benchBox(b, data)
	for _, tool := range []string{"wc", "sha256sum"} {
		b.Run(tool, func(b *testing.B) {
			args := []string{tool}
			if tool == "wc" {
				args = append(args, "-c")
			}
			first := func(s string) string { return strings.Fields(s + " x")[0] }
			got, _ := execAPI(b, cli, "box", nil, append(args, "/data/big")...)
			want := native(b, "", append(args, big)...)
			if first(got) != first(want) {
				b.Fatalf("sandbox %q, native %q", got, want)
			}
			sideBySide(b, func() {
				execAPI(b, cli, "box", nil, append(args, "/data/big")...)
			}, func() { native(b, "", append(args, big)...) })
		})
	}
}

// BenchmarkNativeIdleMemory: RSS of the cmd/sockerless process (from
// /proc) after start-up and one container run, then with 100 containers
// alive running `sleep`. Targets: base under 60 MiB, under 10 MiB per
// idle container.
func BenchmarkNativeIdleMemory(b *testing.B) {
	for b.Loop() {
		p, _ := startProcServer(b, warmCache())
		p.docker(b, "", "pull", "alpine:3.20")
		if out, rc := p.docker(b, "", "run", "--rm", "alpine:3.20", "true"); rc != 0 {
			b.Fatalf("warm-up: %d %s", rc, out)
		}
		time.Sleep(500 * time.Millisecond)
		pid := p.cmd.Process.Pid
		base := rssBytes(b, pid)
		cli := p.sdk(b)
		ctx := context.Background()
		const n = 100
		for i := 0; i < n; i++ {
			r, err := cli.ContainerCreate(ctx, client.ContainerCreateOptions{Config: &container.Config{Image: "alpine:3.20", Cmd: []string{"sleep", "100000"}}})
			if err != nil {
				b.Fatal(err)
			}
			if _, err := cli.ContainerStart(ctx, r.ID, client.ContainerStartOptions{}); err != nil {
				b.Fatal(err)
			}
		}
		time.Sleep(2 * time.Second)
		out, _ := p.docker(b, "", "ps", "-q")
		if got := len(strings.Fields(out)); got != n {
			b.Fatalf("%d containers running, want %d", got, n)
		}
		with := rssBytes(b, pid)
		b.ReportMetric(float64(base)/(1<<20), "base-MiB")
		b.ReportMetric(float64(with)/(1<<20), "with100-MiB")
		b.ReportMetric(float64(with-base)/n/(1<<20), "MiB/idle-container")
	}
}

// BenchmarkNativeColdStart: from starting cmd/sockerless to the end of
// the first `docker run --rm alpine:3.20 true`, with an empty compilation
// cache (cold: the applets are compiled) and again with the cache it
// left (warm). Target: cold under 5 s.
func BenchmarkNativeColdStart(b *testing.B) {
	var cold, warm []time.Duration
	for b.Loop() {
		cache := b.TempDir()
		for i := 0; i < 2; i++ {
			t0 := time.Now()
			p, _ := startProcServer(b, cache)
			p.docker(b, "", "pull", "alpine:3.20")
			if out, rc := p.docker(b, "", "run", "--rm", "alpine:3.20", "true"); rc != 0 {
				b.Fatalf("run: %d %s", rc, out)
			}
			d := time.Since(t0)
			_ = p.cmd.Process.Signal(syscall.SIGTERM)
			_ = p.cmd.Wait()
			if i == 0 {
				cold = append(cold, d)
			} else {
				warm = append(warm, d)
			}
		}
	}
	b.ReportMetric(medianMS(cold)/1000, "cold-s")
	b.ReportMetric(medianMS(warm)/1000, "warm-s")
}

// BenchmarkNativeContainment is what containment costs per shell command
// (issue 12): every command the interpreter runs first charges the
// shell's variables to the container's memory and checks the function
// nesting depth. 20,000 calls of a shell function by exec in a running
// container, next to native /bin/sh; run it against the binary before
// containment (SOCKERLESS_BENCH_BIN) for the difference.
func BenchmarkNativeContainment(b *testing.B) {
	_, cli := benchBox(b, b.TempDir())
	const script = `f(){ x=$1; }; i=0; while [ $i -lt 20000 ]; do f $i; i=$((i+1)); done; echo $x`
	sideBySide(b, func() {
		if out, _ := execAPI(b, cli, "box", nil, "sh", "-c", script); out != "19999\n" {
			b.Fatalf("exec output %q", out)
		}
	}, func() { native(b, "", "/bin/sh", "-c", script) })
}
