package integration

import (
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestFidelityRestartingAgainstEngine: a container in its restart
// back-off answers the docker CLI as the reference engine's does: inspect
// says running and restarting, `docker ps` lists it, exec, pause, top and
// rm are refused with the engine's words, start changes nothing, a wait
// returns the next exit's code, and stop or kill cancel the restart and
// leave it exited with its last code.
//
// Each probe is made while the container is restarting: the probe counts
// only when inspect shows the same restart (status and count) before and
// after it, and is made again otherwise, so a slow machine retries instead
// of failing. Both sides back off 100 ms doubling per restart, so after a
// few restarts the windows last seconds.
func TestFidelityRestartingAgainstEngine(t *testing.T) {
	ref, sl, _ := againstEngine(t)
	mustRun(t, sl.do, "pull", "alpine:3.20")
	targets := []fidelityTarget{ref, sl}
	probes := []struct {
		name      string
		container string
		args      []string
		stays     bool // the container stays in the same restart
		after     bool // made at once, on what the probe before left
	}{
		{"inspect", "rs", []string{"inspect", "-f", "{{.State.Status}} {{.State.Running}} {{.State.Restarting}} {{.State.ExitCode}}", "rs"}, true, false},
		{"ps", "rs", []string{"ps", "--filter", "name=rs", "--format", "{{.Names}} {{.State}}"}, true, false},
		{"ps-restarting", "rs", []string{"ps", "--filter", "status=restarting", "--filter", "name=rs", "--format", "{{.Names}}"}, true, false},
		{"exec", "rs", []string{"exec", "rs", "true"}, true, false},
		{"pause", "rs", []string{"pause", "rs"}, true, false},
		{"top", "rs", []string{"top", "rs"}, true, false},
		{"rm", "rs", []string{"rm", "rs"}, true, false},
		{"start", "rs", []string{"start", "rs"}, true, false},
		{"wait", "rs", []string{"wait", "rs"}, false, false},
		{"stop", "rs", []string{"stop", "-t", "1", "rs"}, false, false},
		{"after-stop", "rs", []string{"inspect", "-f", "{{.State.Status}} {{.State.Running}} {{.State.Restarting}} {{.State.ExitCode}}", "rs"}, false, true},
		{"kill", "rk", []string{"kill", "rk"}, false, false},
		{"after-kill", "rk", []string{"inspect", "-f", "{{.State.Status}} {{.State.Running}} {{.State.Restarting}} {{.State.ExitCode}}", "rk"}, false, true},
	}
	answers := map[string][]string{}
	for _, tg := range targets {
		ids := map[string]string{}
		for _, name := range []string{"rs", "rk"} {
			ids[name] = strings.TrimSpace(mustRun(t, tg.do, "run", "-d", "--name", name, "--restart", "always", tg.image, "sh", "-c", "exit 3"))
		}
		// state is the container's status, restart count and how much of
		// its back-off is left (100 ms doubling per restart, on both).
		state := func(name string) (string, int, time.Duration) {
			out, _ := tg.do(t, "inspect", "-f", "{{.State.Status}} {{.RestartCount}} {{.State.FinishedAt}}", name)
			f := strings.Fields(out)
			if len(f) != 3 {
				return "", 0, 0
			}
			n, _ := strconv.Atoi(f[1])
			finished, err := time.Parse(time.RFC3339Nano, f[2])
			if err != nil || n < 1 {
				return f[0], n, 0
			}
			return f[0], n, 100*time.Millisecond<<(n-1) - time.Since(finished)
		}
		for _, p := range probes {
			deadline := time.Now().Add(3 * time.Minute) // a hang guard
			for {
				// A probe is made with two seconds or more of the back-off
				// left (from the sixth restart, 3.2 s and more).
				status, count, left := state(p.container)
				if !p.after && (status != "restarting" || left < 2*time.Second) {
					if time.Now().After(deadline) {
						t.Fatalf("%s: %s never restarting with 2 s of back-off left (%s %d)", tg.name, p.container, status, count)
					}
					time.Sleep(20 * time.Millisecond)
					continue
				}
				out, code := tg.do(t, p.args...)
				if p.stays {
					if s2, c2, _ := state(p.container); s2 != status || c2 != count {
						continue // the restart happened during the probe
					}
				}
				for name, id := range ids {
					out = strings.ReplaceAll(out, id, "<"+name+" id>")
				}
				answers[p.name] = append(answers[p.name], strconv.Itoa(code)+" "+strings.TrimSpace(out))
				break
			}
		}
	}
	for _, p := range probes {
		got := answers[p.name]
		if len(got) != 2 || got[0] != got[1] {
			t.Errorf("%s: the engine answered %q, sockerless %q", p.name, got[0], got[1])
		}
	}
	for _, want := range []string{"inspect 0 restarting true true 3", "exec 1 Error response from daemon: Container <rs id> is restarting, wait until the container is running", "wait 0 3", "after-stop 0 exited false false 3"} {
		name, w, _ := strings.Cut(want, " ")
		if got := answers[name]; len(got) == 0 || got[0] != w {
			t.Errorf("%s: the engine answered %q; this test expects %q of it", name, got, w)
		}
	}
}
