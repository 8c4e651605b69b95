package sandbox

import (
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// TestCPUGroupReleaseOutlivesSlowThreads: a container's goroutine that
// is still on its throttled thread when the container's last process
// ends (a pipeline stage waiting for its next slice of 0.01 CPU on a busy
// host) is given back whenever it ends, however late: its thread stops
// counting against maxThreads and its extra P goes, and the group is
// removed. A release that gave up after a few seconds left both counted
// for the rest of the daemon's life.
func TestCPUGroupReleaseOutlivesSlowThreads(t *testing.T) {
	g := openCPUGroups()
	if g == nil {
		t.Log("no writable cgroup v1 cpu hierarchy: nothing to release")
		return
	}
	t.Cleanup(g.close)
	cg := g.newGroup("slow", 1e7)
	joined, end := make(chan error), make(chan struct{})
	go func() {
		if err := cg.join(); err != nil {
			joined <- err
			return
		}
		joined <- nil
		<-end
		// Ends still locked: Go ends the thread with the goroutine.
	}()
	if err := <-joined; err != nil {
		t.Fatal(err)
	}
	cg.release()
	time.Sleep(6 * time.Second) // longer than any fixed wait a release might give up after
	if _, err := os.Stat(cg.dir()); err != nil {
		t.Fatalf("group removed with a thread still in it: %v", err)
	}
	close(end)
	for deadline := time.Now().Add(time.Minute); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		g.mu.Lock()
		n := g.threads
		g.mu.Unlock()
		if _, err := os.Stat(cg.dir()); n == 0 && os.IsNotExist(err) {
			return
		}
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	t.Fatalf("%d threads still counted a minute after the last one ended (GOMAXPROCS %d)", g.threads, runtime.GOMAXPROCS(0))
}

// TestGoroutinesNeverOnMainThread: while the main goroutine lives, no
// other goroutine runs on the process's main thread (see init in
// cpu_linux.go), so none can join a container's group there: Go parks
// rather than ends a main thread whose goroutine ended locked, and the
// thread would stay in the group for good.
func TestGoroutinesNeverOnMainThread(t *testing.T) {
	pid := unix.Getpid()
	var wg sync.WaitGroup
	var onMain atomic.Int32
	for range 500 {
		wg.Go(func() {
			runtime.LockOSThread()
			defer runtime.UnlockOSThread()
			if unix.Gettid() == pid {
				onMain.Add(1)
			}
			runtime.Gosched()
		})
	}
	wg.Wait()
	if n := onMain.Load(); n > 0 {
		t.Fatalf("%d of 500 goroutines ran on the main thread", n)
	}
}
