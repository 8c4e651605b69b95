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

	t.Run("applets", func(t *testing.T) {
		// busybox top -b -n1: the host's memory, CPU and load, then the
		// container's processes.
		runSteps(t, s, []step{d(0, ``, "run", "-d", "--name", "topc", "alpine:3.20", "sh", "-c", "echo ready; sleep 1000")})
		waitLogs(t, s, "topc", "ready")
		runSteps(t, s, []step{
			d(0, `(?s)^Mem: \d+K used, \d+K free, \d+K shrd, \d+K buff, \d+K cached\n`+
				`CPU: +\d+% usr +\d+% sys +\d+% nic +\d+% idle +\d+% io +\d+% irq +\d+% sirq\n`+
				`Load average: [\d.]+ [\d.]+ [\d.]+ \d+/\d+ \d+\n`+
				`  PID  PPID USER     STAT   VSZ %VSZ %CPU COMMAND\n`+
				`    1     0 root     S +\d+m? +\d+% +\d+% sh -c echo ready; sleep 1000\n`+
				`    \d     1 root     S +\d+m? +\d+% +\d+% sleep 1000\n`+
				` +\d+ +\d+ root     R +\d+m? +\d+% +\d+% top -b -n1$`, "exec", "topc", "top", "-b", "-n1"),
			d(0, ``, "rm", "-f", "topc"),
			// stty size: only on a terminal; its size follows resize.
			d(1, `^stty: standard input: Inappropriate ioctl for device$`, "run", "--rm", "alpine:3.20", "stty", "size"),
			d(0, `^0 0\r?$`, "run", "--rm", "-t", "alpine:3.20", "stty", "size"),
			// tty.
			d(1, `^not a tty$`, "run", "--rm", "alpine:3.20", "tty"),
			d(0, `^/dev/pts/0\r?$`, "run", "--rm", "-t", "alpine:3.20", "tty"),
			// mount lists the container's mounts.
			d(0, `^overlay on / type overlay \(ro,relatime\)\n\S+ on /data type \S+ \(rw,relatime\)\n`+
				`tmpfs on /scratch type tmpfs \(rw,nosuid,nodev,noexec,relatime\)$`,
				"run", "--rm", "--read-only", "-v", "fidvol:/data", "--tmpfs", "/scratch", "alpine:3.20", "mount"),
			d(255, `permission denied \(are you root\?\)`, "run", "--rm", "alpine:3.20", "mount", "-t", "tmpfs", "tmpfs", "/mnt"),
			// ip addr: lo and the address the container was given.
			d(0, `(?s)^1: lo: <LOOPBACK,UP,LOWER_UP> mtu 65536 qdisc noqueue qlen 1000\n.*inet 127\.0\.0\.1/8 scope host lo\n.*`+
				`2: eth0: <BROADCAST,MULTICAST,UP,LOWER_UP,M-DOWN> mtu 1500 qdisc noqueue \n    link/ether 02:42:ac:11:[0-9a-f:]+ brd ff:ff:ff:ff:ff:ff\n`+
				`    inet 172\.17\.\d+\.\d+/16 brd 172\.17\.255\.255 scope global eth0\n`, "run", "--rm", "alpine:3.20", "ip", "addr"),
			d(0, `^1: lo: <LOOPBACK,UP,LOWER_UP> mtu 65536 qdisc noqueue qlen 1000\n    link/loopback 00:00:00:00:00:00 brd 00:00:00:00:00:00\n`+
				`    inet 127\.0\.0\.1/8 scope host lo\n       valid_lft forever preferred_lft forever$`, "run", "--rm", "--network", "none", "alpine:3.20", "ip", "addr"),
			// GroupAdd, seen by id and groups (busybox: no name, no parentheses).
			d(0, `^uid=0\(root\) gid=0\(root\) groups=0\(root\),10,65534\(nogroup\)\nroot 10 nogroup$`,
				"run", "--rm", "--group-add", "10", "--group-add", "nogroup", "alpine:3.20", "sh", "-c", "id; groups"),
		})
		// The terminal's size follows POST /containers/{id}/resize.
		runSteps(t, s, []step{d(0, ``, "run", "-d", "-t", "--name", "sttyc", "alpine:3.20", "sh", "-c",
			`echo ready; while [ "$(stty size)" = "0 0" ]; do sleep 0.02; done; stty size`)})
		waitLogs(t, s, "sttyc", "ready")
		resp, err := s.httpClient().Post("http://d/v1.50/containers/sttyc/resize?h=40&w=100", "", nil)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("resize: %s", resp.Status)
		}
		waitLogs(t, s, "sttyc", "40 100")
		runSteps(t, s, []step{d(0, ``, "rm", "-f", "sttyc")})
	})
}
