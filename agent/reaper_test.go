package agent

import (
	"context"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sockerless/sockerless/relay/ticket"
)

// zombieChildren lists this process's children in state Z.
func zombieChildren(t *testing.T) []int {
	t.Helper()
	me := os.Getpid()
	var out []int
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		s := string(b)
		f := strings.Fields(s[strings.LastIndexByte(s, ')')+2:])
		if len(f) > 1 && f[0] == "Z" && f[1] == strconv.Itoa(me) {
			out = append(out, pid)
		}
	}
	return out
}

// TestReapOrphans makes the test process a child subreaper, so orphaned
// grandchildren become its children as they would a PID 1's, and checks
// that the reaper collects them while processes the agent runs itself
// still get their own exit codes.
func TestReapOrphans(t *testing.T) {
	if err := BecomeSubreaper(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	// Without the reaper an orphan stays a zombie: the check below can fail.
	if code, _ := RunProcess(ctx, ticket.Process{Cmd: []string{"sh", "-c", "(true &); exit 0"}}, Stdio{}); code != 0 {
		t.Fatalf("exit %d", code)
	}
	for deadline := time.Now().Add(5 * time.Second); len(zombieChildren(t)) == 0; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("no zombie appeared without the reaper")
		}
	}
	go Reap(ctx)
	// Each run leaves three orphans that exit after their parent.
	for i := 0; i < 5; i++ {
		code, err := RunProcess(ctx, ticket.Process{Cmd: []string{"sh", "-c", "(sleep 0.05 &); (sleep 0.05 &); (true &); exit 3"}}, Stdio{})
		if code != 3 || err != nil {
			t.Fatalf("RunProcess = %d, %v; the reaper must not take the exit status of the agent's own child", code, err)
		}
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		z := zombieChildren(t)
		if len(z) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("zombie children left: %v", z)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
