package integration

import (
	"strings"
	"testing"
	"time"
)

// waitLogs waits until container name's logs contain want (a hang guard
// of a minute, not a timing).
func waitLogs(t *testing.T, s *server, name, want string) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for {
		out, _ := s.docker(t, "", "logs", name)
		if strings.Contains(out, want) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("logs of %s never showed %q:\n%s", name, want, out)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestSandboxFidelity is the sandbox part of issue 14 item 4: the memory
// provider's shell and applets behave as busybox and bash do in a Docker
// container (outputs checked against dockerd 28.2.2 with busybox and
// Debian images), each through the real docker CLI.
func TestSandboxFidelity(t *testing.T) {
	s := memoryServer(t)

	t.Run("path_before_applets", func(t *testing.T) {
		// busybox: a script `ls` earlier on PATH runs, and `command -v`
		// finds it; with the standard PATH the applet runs.
		script := `mkdir -p /opt/bin; printf '#!/bin/sh\necho mine "$@"\n' > /opt/bin/ls; chmod +x /opt/bin/ls; ` +
			`command -v ls; ls -d /; PATH=/opt/bin:$PATH; ls -d /; command -v ls; type ls; which ls`
		runSteps(t, s, []step{
			d(0, `^/bin/ls\n/\nmine -d /\n/opt/bin/ls\nls is /opt/bin/ls\n/opt/bin/ls$`, "run", "--rm", "alpine:3.20", "sh", "-c", script),
			// A script named like a shell, too.
			d(0, `^fake$`, "run", "--rm", "-e", "PATH=/opt/bin:/bin", "alpine:3.20", "sh", "-c",
				`mkdir -p /opt/bin; printf 'echo fake\n' > /opt/bin/bash; chmod +x /opt/bin/bash; bash -c 'echo real'`),
		})
	})

	t.Run("bash_variables", func(t *testing.T) {
		runSteps(t, s, []step{
			// bash sets $BASH and $BASH_VERSION (Debian: /usr/bin/bash,
			// 5.2.15(1)-release) and $SHELL from the user's passwd entry
			// when the environment has none; sh does not.
			d(0, `^/bin/bash\|5\.[0-9]+\.[0-9]+\([0-9]+\)-release\|/bin/sh$`, "run", "--rm", "alpine:3.20", "bash", "-c", `echo "$BASH|$BASH_VERSION|$SHELL"`),
			d(0, `^/usr/sbin/nologin$`, "run", "--rm", "--user", "65534", "alpine:3.20", "bash", "-c", `echo "$SHELL"`),
			d(0, `^/x$`, "run", "--rm", "-e", "SHELL=/x", "alpine:3.20", "bash", "-c", `echo "$SHELL"`),
			d(0, `^\|\|$`, "run", "--rm", "alpine:3.20", "sh", "-c", `echo "$BASH|$BASH_VERSION|$SHELL"`),
			// Not exported.
			d(0, `^n=1$`, "run", "--rm", "alpine:3.20", "bash", "-c", `env | grep BASH; echo n=$?`),
		})
	})

	t.Run("signal_traps", func(t *testing.T) {
		// busybox sh: traps run between commands when docker kill or
		// docker stop delivers the signal to PID 1.
		script := `trap 'echo got HUP' HUP; trap 'echo got INT' INT; trap 'echo got USR1' USR1; trap 'echo got USR2' SIGUSR2; ` +
			`trap 'echo bye; exit 3' TERM; echo ready; while :; do sleep 0.02; done`
		runSteps(t, s, []step{d(0, ``, "run", "-d", "--name", "traps", "alpine:3.20", "sh", "-c", script)})
		waitLogs(t, s, "traps", "ready")
		for _, sig := range []string{"HUP", "INT", "USR1", "USR2"} {
			runSteps(t, s, []step{d(0, ``, "kill", "-s", sig, "traps")})
			waitLogs(t, s, "traps", "got "+sig)
		}
		runSteps(t, s, []step{
			d(0, `^true$`, "inspect", "-f", "{{.State.Running}}", "traps"),
			d(0, ``, "stop", "traps"),
			d(0, `^3$`, "inspect", "-f", "{{.State.ExitCode}}", "traps"),
			d(0, `^ready\ngot HUP\ngot INT\ngot USR1\ngot USR2\nbye$`, "logs", "traps"),
			d(0, ``, "rm", "traps"),
			// trap without arguments lists them.
			d(0, `^trap -- 'echo hi' TERM$`, "run", "--rm", "alpine:3.20", "sh", "-c", `trap 'echo hi' TERM; trap`),
		})
	})

	t.Run("pid1_ignores_term", func(t *testing.T) {
		// PID 1 with no handler ignores SIGTERM: docker stop kills it
		// after the timeout (137); a trap '' TERM shell too.
		for _, argv := range [][]string{{"sleep", "1000"}, {"sh", "-c", "trap '' TERM; echo ready; while :; do sleep 0.02; done"}} {
			runSteps(t, s, []step{
				d(0, ``, append([]string{"run", "-d", "--name", "pid1", "alpine:3.20"}, argv...)...),
				d(0, ``, "kill", "-s", "TERM", "pid1"),
				d(0, `^true$`, "inspect", "-f", "{{.State.Running}}", "pid1"),
				d(0, ``, "stop", "-t", "1", "pid1"),
				d(0, `^137$`, "inspect", "-f", "{{.State.ExitCode}}", "pid1"),
				d(0, ``, "rm", "pid1"),
			})
		}
	})
}
