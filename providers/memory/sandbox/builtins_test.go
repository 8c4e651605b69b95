package sandbox_test

import (
	"testing"

	"github.com/sockerless/sockerless/internal/rootfs"
	"github.com/sockerless/sockerless/providers/memory/sandbox"
)

// TestBuiltinWriteErrors: the shell's echo and printf redirected into a
// full mount fail as the reference shells do (every expected text here
// was taken from busybox ash and Debian bookworm's bash 5.2 on dockerd
// 28.2.2 with `--tmpfs /t:size=4k`): busybox's echo prints "sh: write
// error: No space left on device", its printf nothing, bash "$0: line N:
// NAME: write error: ..." for both; the status is 1 and what fits is
// written. Everywhere else they behave as the interpreter's.
func TestBuiltinWriteErrors(t *testing.T) {
	c := newContainer(t, rootfs.Mount{Target: "/t", Source: t.TempDir()})
	c.SetQuotas([]sandbox.Quota{{Target: "/t", Limit: 4096}})
	const full = "rm -f /t/*; head -c 4096 /dev/zero > /t/a\n"
	const noSpace = "sh: write error: No space left on device\n"
	tests := []struct {
		name, shell, script string
		code                int
		stdout, stderr      string
	}{
		{"echo", "sh", `echo hi > /t/b; echo code=$?`, 0, "code=1\n", noSpace},
		{"echo -n", "sh", `echo -n hi > /t/b; echo code=$?`, 0, "code=1\n", noSpace},
		{"echo -e", "sh", `echo -e 'a\tb' > /t/b; echo code=$?`, 0, "code=1\n", noSpace},
		{"echo of a newline", "sh", `echo > /t/b; echo code=$?`, 0, "code=1\n", noSpace},
		{"printf with a format", "sh", `printf '%s-%d\n' x 3 > /t/b; echo code=$?`, 0, "code=1\n", ""},
		{"printf appending", "sh", `printf x >> /t/a; echo code=$?`, 0, "code=1\n", ""},
		{"printf of nothing", "sh", `printf '' > /t/b; echo code=$?`, 0, "code=0\n", ""},
		{"what fits is written", "sh", "rm /t/a; head -c 4000 /dev/zero > /t/a; echo $(head -c 200 /dev/zero | tr '\\0' x) >> /t/a; echo code=$?; wc -c < /t/a", 0, "code=1\n4096\n", noSpace},
		{"set -e stops", "sh", `set -e; echo hi > /t/b; echo after`, 1, "", noSpace},
		{"exec redirection", "sh", `exec > /t/b; echo hi; echo code=$? >&2`, 0, "", noSpace + "code=1\n"},
		{"group redirection", "sh", `{ echo hi; echo code=$? >&2; } > /t/b`, 0, "", noSpace + "code=1\n"},
		{"command echo", "sh", `command echo hi > /t/b; echo code=$?`, 0, "code=1\n", noSpace},
		{"builtin printf", "sh", `builtin printf hi > /t/b; echo code=$?`, 0, "code=1\n", ""},
		{"bash echo", "bash", `echo hi > /t/b; echo code=$?`, 0, "code=1\n", "bash: line 2: echo: write error: No space left on device\n"},
		{"bash printf", "bash", `printf '%s\n' a b > /t/b; echo code=$?`, 0, "code=1\n", "bash: line 2: printf: write error: No space left on device\n"},
		{"bash builtin echo", "bash", `builtin echo -n hi >> /t/a; echo code=$?`, 0, "code=1\n", "bash: line 2: echo: write error: No space left on device\n"},
		{"ash", "ash", `echo hi > /t/b; echo code=$?`, 0, "code=1\n", "ash: write error: No space left on device\n"},
		{"bash script", "bash", `printf 'f() {\n  echo in-f\n}\nf > /t/b\necho code=$?\n' > /s.sh; bash /s.sh`, 0, "code=1\n", "/s.sh: line 2: echo: write error: No space left on device\n"},
		{"bash -c with a name", "bash", `bash -c 'echo hi > /t/b' myname`, 1, "", "myname: line 1: echo: write error: No space left on device\n"},
		{"bash from stdin", "bash", `printf 'true\necho hi > /t/b\n' | bash`, 1, "", "bash: line 2: echo: write error: No space left on device\n"},
		// A function named echo or printf runs instead, wherever it was
		// declared.
		{"function", "sh", `echo() { builtin printf 'fn:%s\n' "$*" >&2; }; echo hi > /t/b; printf 'code=%s\n' $?`, 0, "code=0\n", "fn:hi\n"},
		{"sourced function", "sh", `printf 'echo() { builtin printf "fn:%%s\\n" "$*" >&2; }\n' > /lib.sh; . /lib.sh; echo hi > /t/b; printf 'code=%s\n' $?`, 0, "code=0\n", "fn:hi\n"},
		{"evaluated function", "sh", `eval 'printf() { builtin echo "fn:$*" >&2; }'; printf hi > /t/b; builtin echo code=$?`, 0, "code=0\n", "fn:hi\n"},
		{"sourced file without one", "sh", `printf 'f() { echo "in f"; }\n' > /lib2.sh; . /lib2.sh; echo hi > /t/b; echo code=$?`, 0, "code=1\n", noSpace},
		{"evaluated echo", "sh", `eval 'echo hi > /t/b'; echo code=$?`, 0, "code=1\n", noSpace},
		// Where the output fits, the interpreter's behaviour.
		{"into a file", "sh", `echo -e 'a\tb' -E > /f; echo -n c >> /f; printf '%s=%d\n' d 4 e 5 >> /f; cat /f`, 0, "a\tb -E\ncd=4\ne=5\n", ""},
		{"printf usage", "sh", `printf > /f; echo code=$?`, 0, "code=2\n", "usage: printf format [arguments]\n"},
		// A closed pipe stays silent, as before.
		{"closed pipe", "sh", `(i=0; while [ $i -lt 3 ]; do echo y || echo st=$? >&2; i=$((i+1)); done) | true; echo code=$?`, 0, "code=0\n", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := run(t, c, "", tt.shell, "-c", full+tt.script)
			if r.code != tt.code || r.stdout != tt.stdout || r.stderr != tt.stderr {
				t.Errorf("%s -c %q:\n got code=%d stdout=%q stderr=%q\nwant code=%d stdout=%q stderr=%q", tt.shell, tt.script, r.code, r.stdout, r.stderr, tt.code, tt.stdout, tt.stderr)
			}
		})
	}
}

// TestEchoCombinedOptions: echo takes combined options (-ne, -en, -nE) as
// busybox and bash do; a word with anything else is printed. The output
// is checked both to the process's stream and into a file (where the
// sandbox's own echo runs).
func TestEchoCombinedOptions(t *testing.T) {
	c := newContainer(t)
	for _, tc := range []struct{ script, want string }{
		{`echo -ne 'a\tb'`, "a\tb"},
		{`echo -en 'a\tb'; echo .`, "a\tb.\n"},
		{`echo -n -e 'x\n'`, "x\n"},
		{`echo -nE 'a\tb'; echo .`, "a\\tb.\n"},
		{`echo -nx y`, "-nx y\n"},
		{`echo -- -n`, "-- -n\n"},
		{`echo a -ne b`, "a -ne b\n"},
		{`echo() { printf 'f:%s\n' "$*"; }; echo -ne z`, "f:-ne z\n"},
	} {
		if r := sh(t, c, tc.script); r.stdout != tc.want {
			t.Errorf("%s: stdout %q, want %q (stderr %q)", tc.script, r.stdout, tc.want, r.stderr)
		}
		if r := sh(t, c, "{ "+tc.script+"; } > /out; cat /out"); r.stdout != tc.want {
			t.Errorf("%s into a file: %q, want %q (stderr %q)", tc.script, r.stdout, tc.want, r.stderr)
		}
	}
}
