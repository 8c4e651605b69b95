package sandbox_test

import (
	"bufio"
	"context"
	"os"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/sockerless/sockerless/providers/memory/sandbox"
)

// cgroupV1CPU reports whether this host lets the test process make v1 cpu
// cgroups (a writable /sys/fs/cgroup/cpu), where --cpus must be applied.
func cgroupV1CPU(t *testing.T) bool {
	t.Helper()
	f, err := os.Open("/proc/self/cgroup")
	if err != nil {
		return false
	}
	defer f.Close()
	own := ""
	for sc := bufio.NewScanner(f); sc.Scan(); {
		parts := strings.SplitN(sc.Text(), ":", 3)
		if len(parts) == 3 && strings.Contains(","+parts[1]+",", ",cpu,") {
			own = parts[2]
		}
	}
	if own == "" {
		return false
	}
	return writable("/sys/fs/cgroup/cpu" + own + "/tasks")
}

func writable(p string) bool {
	f, err := os.OpenFile(p, os.O_WRONLY, 0)
	if err != nil {
		return false
	}
	f.Close()
	return true
}

// TestCPULimit runs CPU-bound code of each kind the sandbox runs (the
// shell itself, a pipeline stage on another of the interpreter's
// goroutines, an applet) in a container limited to 0.01 CPU and waits
// until the kernel reports it throttled: the code runs on threads in the
// container's cpu cgroup. A container without a limit reports no
// throttling. Where the host has no writable cgroup v1 cpu hierarchy the
// sandbox must say it does not apply CPU limits.
func TestCPULimit(t *testing.T) {
	if !cgroupV1CPU(t) {
		if sb.CPULimits() {
			t.Fatal("CPULimits() is true on a host without a writable cgroup v1 cpu hierarchy")
		}
		t.Log("no writable cgroup v1 cpu hierarchy: CPU limits are reported as not applied")
		return
	}
	if !sb.CPULimits() {
		t.Fatal("CPULimits() is false on a host with a writable cgroup v1 cpu hierarchy")
	}
	base := runtime.GOMAXPROCS(0) // before any thread is locked into a group
	for _, tc := range []struct{ name, script string }{
		{"shell loop", `while :; do :; done`},
		{"pipeline stage", `while :; do :; done | cat`},
		{"applet", `yes > /dev/null`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := newContainer(t)
			c.SetLimits(sandbox.Limits{NanoCPUs: 1e7}) // 0.01 CPU: 1 ms per 100 ms
			ctx, cancel := context.WithCancel(context.Background())
			p, err := c.Start(ctx, sandbox.Process{Argv: []string{"sh", "-c", tc.script}, Env: []string{"PATH=" + sandbox.DefaultPath}})
			if err != nil {
				t.Fatal(err)
			}
			// Poll until throttled (bounded only to fail rather than hang);
			// the kernel adds to throttled_time when a throttled period ends.
			var st sandbox.Throttling
			for deadline := time.Now().Add(2 * time.Minute); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
				if st = c.Stats().Throttle; st.ThrottledPeriods >= 3 && st.ThrottledNanos > 0 {
					break
				}
			}
			cancel()
			_, _ = p.Wait()
			t.Logf("%+v", st)
			if st.ThrottledPeriods < 3 || st.ThrottledNanos <= 0 || st.Periods < st.ThrottledPeriods {
				t.Fatalf("not throttled: %+v", st)
			}
		})
	}
	t.Run("others keep running", func(t *testing.T) {
		// A throttled thread keeps its goroutine's P while the kernel
		// stops it: each locked thread gets a P of its own, so as many
		// throttled busy containers as the daemon has Ps leave the
		// others theirs, and the Ps go back when they end.
		// The earlier subtests' threads are given back as their groups
		// are removed: start from the daemon's own count.
		for deadline := time.Now().Add(2 * time.Minute); runtime.GOMAXPROCS(0) != base && time.Now().Before(deadline); {
			time.Sleep(20 * time.Millisecond)
		}
		probe := func() time.Duration {
			c := newContainer(t)
			t0 := time.Now()
			for range 10 {
				sh(t, c, "echo hi")
			}
			return time.Since(t0) / 10
		}
		alone := probe()
		ctx, cancel := context.WithCancel(context.Background())
		var ps []*sandbox.Proc
		for range base {
			c := newContainer(t)
			c.SetLimits(sandbox.Limits{NanoCPUs: 1e7})
			p, err := c.Start(ctx, sandbox.Process{Argv: []string{"sh", "-c", "while :; do :; done"}, Env: []string{"PATH=" + sandbox.DefaultPath}})
			if err != nil {
				t.Fatal(err)
			}
			ps = append(ps, p)
			for deadline := time.Now().Add(2 * time.Minute); c.Stats().Throttle.ThrottledPeriods == 0 && time.Now().Before(deadline); {
				time.Sleep(20 * time.Millisecond)
			}
		}
		during, procs := probe(), runtime.GOMAXPROCS(0)
		cancel()
		for _, p := range ps {
			_, _ = p.Wait()
		}
		t.Logf("GOMAXPROCS %d -> %d with %d throttled containers; a bystander's sh -c 'echo hi' %v alone, %v beside them", base, procs, len(ps), alone, during)
		if procs < base+len(ps) {
			t.Fatalf("GOMAXPROCS %d with %d throttled threads: want at least %d", procs, len(ps), base+len(ps))
		}
		for deadline := time.Now().Add(2 * time.Minute); runtime.GOMAXPROCS(0) != base && time.Now().Before(deadline); {
			time.Sleep(20 * time.Millisecond)
		}
		if got := runtime.GOMAXPROCS(0); got != base {
			t.Fatalf("GOMAXPROCS %d after the containers ended, want %d back", got, base)
		}
	})
	t.Run("no limit", func(t *testing.T) {
		c := newContainer(t)
		if r := sh(t, c, `i=0; while [ $i -lt 20000 ]; do i=$((i+1)); done; echo $i`); r.stdout != "20000\n" {
			t.Fatalf("%+v", r)
		}
		if st := c.Stats().Throttle; st != (sandbox.Throttling{}) {
			t.Fatalf("throttling reported without a limit: %+v", st)
		}
	})
}
