package sandbox_test

import (
	"os"
	"path/filepath"
	"testing"
)

// TestInstallApplets: a root without image content gets the busybox
// layout, so scripts that probe for a shell by path (gitlab-ci-local's
// `[ -x /bin/bash ]`), `ls /bin` and `busybox NAME` see what runs; an
// image's own files are kept.
func TestInstallApplets(t *testing.T) {
	c := newContainer(t)
	if err := c.FS().WriteFile("/bin/cat", []byte("image's own cat"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := sb.InstallApplets(c.FS()); err != nil {
		t.Fatal(err)
	}
	if err := sb.InstallApplets(c.FS()); err != nil {
		t.Fatalf("second install: %v", err)
	}
	for _, tc := range []struct{ script, want string }{
		{`for s in /bin/sh /bin/bash /bin/ls /usr/bin/env /bin/busybox; do [ -x $s ] || echo "missing $s"; done; echo ok`, "ok\n"},
		{`[ "$(stat -c %i /bin/sh)" = "$(stat -c %i /bin/busybox)" ] && echo same; [ "$(stat -c %i /bin/cat)" = "$(stat -c %i /bin/busybox)" ] || echo own`, "same\nown\n"},
		{`ls /bin | grep -c -x -e sh -e bash -e sed -e busybox`, "4\n"},
		{`/bin/busybox echo via-busybox; busybox sh -c 'echo "shell $0"' zero; busybox --list | grep -x wc`, "via-busybox\nshell zero\nwc\n"},
		{`command -v bash; which env`, "/bin/bash\n/bin/env\n"},
		{`/usr/bin/env sh -c 'echo env-ok'`, "env-ok\n"},
	} {
		if r := sh(t, c, tc.script); r.code != 0 || r.stdout != tc.want {
			t.Errorf("%s: %+v, want %q", tc.script, r, tc.want)
		}
	}
	if b, err := os.ReadFile(filepath.Join(c.FS().RootDir(), "bin", "cat")); err != nil || string(b) != "image's own cat" {
		t.Errorf("image file replaced: %q %v", b, err)
	}
}
