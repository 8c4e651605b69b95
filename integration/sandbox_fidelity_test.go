package integration

import (
	"testing"
)

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
}
