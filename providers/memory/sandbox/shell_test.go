package sandbox_test

import (
	"strings"
	"testing"
)

func TestShellFeatures(t *testing.T) {
	c := newContainer(t)
	tests := []struct {
		name, script string
		code         int
		stdout       string
		stderrHas    string
	}{
		{"echo", `echo hi`, 0, "hi\n", ""},
		{"pipeline", `printf 'b\na\nc\n' | sort | head -n 2`, 0, "a\nb\n", ""},
		{"subshell", `(cd /etc && pwd); pwd`, 0, "/etc\n/\n", ""},
		{"cmdsubst", `x=$(echo inner | tr a-z A-Z); echo "[$x]"`, 0, "[INNER]\n", ""},
		{"heredoc", "cat <<EOF\nline $((1+2))\nEOF", 0, "line 3\n", ""},
		{"heredoc-quoted", "cat <<'EOF'\n$HOME\nEOF", 0, "$HOME\n", ""},
		{"function", `f() { echo "f:$1"; return 3; }; f x; echo $?`, 0, "f:x\n3\n", ""},
		{"set-e", `set -e; echo a; false; echo b`, 1, "a\n", ""},
		{"exit-code", `exit 42`, 42, "", ""},
		{"trap-exit", `trap 'echo bye' EXIT; echo hi`, 0, "hi\nbye\n", ""},
		{"not-found", `nosuchcmd arg`, 127, "", "sh: nosuchcmd: not found"},
		{"not-found-path", `/usr/bin/nosuch`, 127, "", "not found"},
		{"redirect", `echo data > /tmp/f; cat /tmp/f; echo more >> /tmp/f; wc -l < /tmp/f`, 0, "data\n2\n", ""},
		{"stderr-redirect", `ls /nonexistent 2>/dev/null; echo $?`, 0, "2\n", ""},
		{"dev-stderr", `echo oops >/dev/stderr`, 0, "", "oops"},
		{"glob", `mkdir -p /tmp/g && touch /tmp/g/a.txt /tmp/g/b.txt /tmp/g/c.log && echo /tmp/g/*.txt`, 0, "/tmp/g/a.txt /tmp/g/b.txt\n", ""},
		{"test-builtin", `[ -d /etc ] && [ -f /etc/passwd ] && [ ! -e /nope ] && echo ok`, 0, "ok\n", ""},
		{"while-read", `printf '1\n2\n3\n' | while read n; do echo "n=$n"; done`, 0, "n=1\nn=2\nn=3\n", ""},
		{"for", `for i in a b; do echo $i; done`, 0, "a\nb\n", ""},
		{"case", `case foo in f*) echo yes;; *) echo no;; esac`, 0, "yes\n", ""},
		{"arith", `echo $((6*7))`, 0, "42\n", ""},
		{"command-v-applet", `command -v ls`, 0, "/bin/ls\n", ""},
		{"command-v-missing", `command -v nosuch || echo missing`, 0, "missing\n", ""},
		{"command-v-builtin", `command -v cd`, 0, "cd\n", ""},
		{"type", `type ls`, 0, "ls is /bin/ls\n", ""},
		{"bin-sh-c", `/bin/sh -c 'echo nested $0' zero`, 0, "nested zero\n", ""},
		{"bash-e", `bash -e -c 'false; echo no'`, 1, "", ""},
		{"pipefail", `set -o pipefail; false | true`, 1, "", ""},
		{"exec", `exec echo replaced; echo never`, 0, "replaced\n", ""},
		{"xargs", `printf 'a b\nc\n' | xargs -n 1 echo x`, 0, "x a\nx b\nx c\n", ""},
		{"find-exec", `mkdir -p /tmp/fe/d && touch /tmp/fe/1 /tmp/fe/d/2 && find /tmp/fe -type f -exec echo F {} \; | sort`, 0, "F /tmp/fe/1\nF /tmp/fe/d/2\n", ""},
		{"env-cmd", `env -i FOO=bar printenv FOO`, 0, "bar\n", ""},
		{"env-export", `export X=1; sh -c 'echo $X'`, 0, "1\n", ""},
		{"sed", `echo hello world | sed -e 's/o/0/g' -e 's/^h/H/'`, 0, "Hell0 w0rld\n", ""},
		{"grep", `printf 'foo\nbar\nfoobar\n' | grep -n '^foo'`, 0, "1:foo\n3:foobar\n", ""},
		{"grep-nomatch", `echo x | grep y`, 1, "", ""},
		{"wc", `printf 'a b\nc\n' | wc -w`, 0, "3\n", ""},
		{"cut", `echo a:b:c | cut -d: -f2,3`, 0, "b:c\n", ""},
		{"uniq", `printf 'a\na\nb\n' | uniq -c`, 0, "      2 a\n      1 b\n", ""},
		{"tr", `echo abc | tr a-c x-z`, 0, "xyz\n", ""},
		{"tee", `echo t | tee /tmp/tee.txt; cat /tmp/tee.txt`, 0, "t\nt\n", ""},
		{"seq", `seq 3`, 0, "1\n2\n3\n", ""},
		{"expr", `expr 2 + 3`, 0, "5\n", ""},
		{"basename", `basename /a/b/c.txt .txt; dirname /a/b/c.txt`, 0, "c\n/a/b\n", ""},
		{"chmod-chown-flags-last", `mkdir -p /tmp/cm/d && touch /tmp/cm/d/f && chmod 700 -R /tmp/cm && chown 0:0 -R /tmp/cm && stat -c %a /tmp/cm/d/f`, 0, "700\n", ""},
		{"chmod-minus-mode", `touch /tmp/w && chmod 644 /tmp/w && chmod -w /tmp/w && stat -c %a /tmp/w`, 0, "444\n", ""},
		{"chown-missing", `chown 1000 -R /nope`, 1, "", "cannot access '/nope'"},
		{"hash-sha1-sha512-files", `printf abc > /tmp/abc && sha1sum /tmp/abc && sha512sum /tmp/abc | cut -c1-16 && seq 100000 | sha256sum | cut -c1-16`, 0, "a9993e364706816aba3e25717850c26c9cd0d89d  /tmp/abc\nddaf35a193617aba\nb2bc7d3f8b652d2e\n", ""},
		{"hash", `printf abc | sha256sum; printf abc | md5sum`, 0, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad  -\n900150983cd24fb0d6963f7d28e17f72  -\n", ""},
		{"base64", `echo hi | base64; echo aGkK | base64 -d`, 0, "aGkK\nhi\n", ""},
		{"id", `id -u; whoami`, 0, "0\nroot\n", ""},
		{"hostname", `hostname`, 0, "box\n", ""},
		{"chmod-x", `printf '#!/bin/sh\necho script $1\n' > /tmp/s.sh; /tmp/s.sh a; echo $?; chmod +x /tmp/s.sh; /tmp/s.sh b; [ -x /tmp/s.sh ] && echo exec`, 0, "126\nscript b\nexec\n", "Permission denied"},
		{"script-bash-e", `printf 'false\necho after\n' > /tmp/e.sh; bash -e /tmp/e.sh; echo rc=$?`, 0, "rc=1\n", ""},
		{"script-path", `mkdir -p /usr/local/bin; printf '#!/bin/sh\necho onpath\n' > /usr/local/bin/mytool; chmod 755 /usr/local/bin/mytool; mytool`, 0, "onpath\n", ""},
		{"env-shebang", `printf '#!/usr/bin/env sh\necho via env\n' > /tmp/v.sh; chmod +x /tmp/v.sh; /tmp/v.sh`, 0, "via env\n", ""},
		{"cp-mv-rm", `echo x > /tmp/a; cp /tmp/a /tmp/b; mv /tmp/b /tmp/c; cat /tmp/c; rm /tmp/a /tmp/c; ls /tmp/a 2>&1 >/dev/null | grep -c 'No such'`, 0, "x\n1\n", ""},
		{"ln-s", `echo tgt > /tmp/t; ln -s /tmp/t /tmp/l; cat /tmp/l; readlink /tmp/l`, 0, "tgt\n/tmp/t\n", ""},
		{"tar-gzip", `mkdir -p /tmp/tz/d && echo 1 > /tmp/tz/d/f && cd /tmp/tz && tar czf /tmp/x.tgz d && mkdir /tmp/out && tar xzf /tmp/x.tgz -C /tmp/out && cat /tmp/out/d/f`, 0, "1\n", ""},
		{"gzip", `echo zz > /tmp/z && gzip /tmp/z && gunzip -c /tmp/z.gz`, 0, "zz\n", ""},
		{"mktemp", `d=$(mktemp -d) && [ -d "$d" ] && echo ok`, 0, "ok\n", ""},
		{"stat", `echo 12345 > /tmp/st; chmod 640 /tmp/st; stat -c '%s %a' /tmp/st`, 0, "6 640\n", ""},
		{"ls-l", `touch /tmp/ll; chmod 755 /tmp/ll; ls -l /tmp/ll | cut -c1-10`, 0, "-rwxr-xr-x\n", ""},
		{"timeout", `timeout 1 sleep 10; echo rc=$?`, 0, "rc=124\n", ""},
		{"yes-head", `yes | head -n 2`, 0, "y\ny\n", ""},
		{"date", `date -u -d @0 +%Y-%m-%dT%H:%M:%S`, 0, "1970-01-01T00:00:00\n", ""},
		{"printf", `printf '%s-%03d\n' a 7 b 8`, 0, "a-007\nb-008\n", ""},
		{"uname", `uname -s`, 0, "Linux\n", ""},
		{"du-df", `du -s /etc >/dev/null && df >/dev/null && echo ok`, 0, "ok\n", ""},
		{"sort-n", `printf '10\n9\n100\n' | sort -n`, 0, "9\n10\n100\n", ""},
		{"tail", `seq 5 | tail -n 2; seq 5 | tail -n +4`, 0, "4\n5\n4\n5\n", ""},
		{"sed-N", "printf 'a\\nb\\nc\\n' | sed ':a;N;$!ba;s/\\n/,/g'", 0, "a,b,c\n", ""},
		{"which", `which sh`, 0, "/bin/sh\n", ""},
		{"proc-subst", `cat <(echo ps)`, 0, "ps\n", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := sh(t, c, tc.script)
			if r.code != tc.code || r.stdout != tc.stdout || !strings.Contains(r.stderr, tc.stderrHas) {
				t.Errorf("script %q:\n got code=%d stdout=%q stderr=%q\nwant code=%d stdout=%q stderr~%q", tc.script, r.code, r.stdout, r.stderr, tc.code, tc.stdout, tc.stderrHas)
			}
		})
	}
}

// TestShellStdinLastLine: commands read from stdin run even when the last
// line has no newline, as in every POSIX shell (gitlab-ci-local feeds
// ". /gcl-cmd" without one).
func TestShellStdinLastLine(t *testing.T) {
	c := newContainer(t)
	for _, argv := range [][]string{{"sh"}, {"bash", "-s"}} {
		r := run(t, c, "echo a\necho last; exit 3", argv...)
		if r.code != 3 || r.stdout != "a\nlast\n" {
			t.Errorf("%v: %+v", argv, r)
		}
	}
	if r := run(t, c, "echo only", "sh"); r.code != 0 || r.stdout != "only\n" {
		t.Errorf("single line: %+v", r)
	}
}

// TestRsync: the local rsync applet, as CI helpers use it.
func TestRsync(t *testing.T) {
	c := newContainer(t)
	setup := `mkdir -p /b/out/sub /b/.gitlab-ci-local/x /b/logs && echo r > /b/out/result.txt && echo s > /b/out/sub/s.txt && ln -s result.txt /b/out/link && echo l > /b/logs/a.log && echo k > /b/logs/keep.txt`
	if r := sh(t, c, setup); r.code != 0 {
		t.Fatalf("setup: %+v", r)
	}
	tests := []struct {
		name, script string
		code         int
		stdout       string
	}{
		// gitlab-ci-local's artifact collection, verbatim.
		{"gitlab-artifacts", "cd /b\nshopt -s globstar nullglob dotglob\nmkdir -p /artifacts/build\nrsync --exclude '.gitlab-ci-local/**' -Ra ./out/ /artifacts/build/. || true\nfind /artifacts | sort; readlink /artifacts/build/out/link",
			0, "/artifacts\n/artifacts/build\n/artifacts/build/out\n/artifacts/build/out/link\n/artifacts/build/out/result.txt\n/artifacts/build/out/sub\n/artifacts/build/out/sub/s.txt\nresult.txt\n"},
		{"relative-dot", `cd / && rsync -aR /b/./out/sub /r1 && find /r1 | sort`, 0, "/r1\n/r1/out\n/r1/out/sub\n/r1/out/sub/s.txt\n"},
		{"contents", `rsync -a /b/logs/ /c1 && ls /c1`, 0, "a.log\nkeep.txt\n"},
		{"dir-into", `mkdir /c2 && rsync -a /b/logs /c2 && ls /c2/logs`, 0, "a.log\nkeep.txt\n"},
		{"exclude-name", `rsync -a --exclude='*.log' /b/logs/ /c3 && ls /c3`, 0, "keep.txt\n"},
		{"exclude-dir-whole-tree", `cd /b && rsync -a --exclude .gitlab-ci-local/ ./ /c4 && ls -A /c4`, 0, "logs\nout\n"},
		{"delete", `mkdir -p /c5 && echo x > /c5/stale && rsync -a --delete /b/logs/ /c5 && ls /c5`, 0, "a.log\nkeep.txt\n"},
		{"delete-protects-excluded", `mkdir -p /c6 && echo x > /c6/x.log && rsync -a --delete --exclude '*.log' /b/logs/ /c6 && ls /c6`, 0, "keep.txt\nx.log\n"},
		{"file-to-file", `rsync /b/out/result.txt /copy.txt && cat /copy.txt`, 0, "r\n"},
		{"verbose", `rsync -av /b/out/sub/ /c7`, 0, "s.txt\n"},
		{"quick-check", `rsync -av /b/out/sub/ /c7`, 0, ""},
		{"dir-without-r", `rsync /b/logs /c8; echo $?; test -e /c8/logs || echo none`, 0, "0\nnone\n"},
		{"missing", `rsync -a /nope /c9`, 23, ""},
		{"remote", `rsync -a host:/x /c10`, 1, ""},
	}
	for _, tc := range tests {
		if r := sh(t, c, tc.script); r.code != tc.code || r.stdout != tc.stdout {
			t.Errorf("%s: %+v, want %d %q", tc.name, r, tc.code, tc.stdout)
		}
	}
}
