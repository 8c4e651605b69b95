package sandbox_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sockerless/sockerless/internal/rootfs"
	"github.com/sockerless/sockerless/providers/memory/sandbox"
)

// TestQuota: writes past a sized mount's quota fail (the shell's
// redirections with ENOSPC, as Linux reports it; applets' WASI writes
// with the error wazero has for it), removal and truncation give the
// space back, and the mount's neighbours are not limited by it.
func TestQuota(t *testing.T) {
	tmp := t.TempDir()
	c := newContainer(t, rootfs.Mount{Target: "/t", Source: tmp})
	c.SetQuotas([]sandbox.Quota{{Target: "/t", Limit: 64 << 10}})
	tests := []struct {
		name, script string
		code         int
		stdout       string
		stderr       string // substring
		used         int64
	}{
		{"dd past the limit fails", `dd if=/dev/zero of=/t/x bs=1k count=100 2>&1; echo code=$?; wc -c < /t/x`, 0, "", "", 64 << 10},
		{"removal gives the space back", `rm /t/x && dd if=/dev/zero of=/t/y bs=1k count=60 2>/dev/null && echo ok`, 0, "ok\n", "", 60 << 10},
		{"redirection past the limit", `head -c 8192 /dev/zero > /t/z; echo code=$?`, 0, "", "", 64 << 10},
		// The shell's printf writes what fits and fails (silently, as
		// busybox's; see TestBuiltinWriteErrors).
		{"shell builtin past the limit", `printf %05000d 0 >> /t/y; echo code=$?; wc -c < /t/y`, 0, "code=1\n61440\n", "", 64 << 10},
		{"truncation gives the space back", `: > /t/y; wc -c < /t/y; rm /t/z`, 0, "0\n", "", 0},
		{"symlink into the mount is counted", `ln -s /t/y /l && head -c 70000 /dev/zero > /l; echo code=$?`, 0, "code=1\n", "No space left on device", 64 << 10},
		{"outside the mount is not limited", `rm /t/y; head -c 100000 /dev/zero > /big && wc -c < /big`, 0, "100000\n", "", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := sh(t, c, tt.script)
			if r.code != tt.code || (tt.stdout != "" && r.stdout != tt.stdout) || !strings.Contains(r.stderr, tt.stderr) {
				t.Fatalf("got %+v", r)
			}
			if limit, used, ok := c.QuotaUsage("/t"); !ok || limit != 64<<10 || used != tt.used {
				t.Fatalf("quota: limit %d used %d ok %v; want used %d (%+v)", limit, used, ok, tt.used, r)
			}
			if st := hostUsage(t, tmp); st != tt.used {
				t.Fatalf("files hold %d bytes, the quota counts %d", st, tt.used)
			}
		})
	}
	// dd fails as busybox's does on a full tmpfs, with the error WASI
	// has for ENOSPC.
	r := sh(t, c, `dd if=/dev/zero of=/t/x bs=1k count=100; echo code=$?`)
	if r.stdout != "code=1\n" || !strings.HasPrefix(r.stderr, "dd: error writing '/t/x': No space left on device\n65+0 records in\n64+0 records out\n65536 bytes copied") {
		t.Fatalf("dd past the limit: %+v", r)
	}
}

// TestQuotaRoot: a quota on "/" bounds the root outside its mounts.
func TestQuotaRoot(t *testing.T) {
	tmp := t.TempDir()
	c := newContainer(t, rootfs.Mount{Target: "/m", Source: tmp})
	c.SetQuotas([]sandbox.Quota{{Target: "/", Limit: 10000, Used: 4000}})
	if r := sh(t, c, `head -c 7000 /dev/zero > /a; echo code=$?; wc -c < /a; head -c 20000 /dev/zero > /m/b && echo mount-ok`); r.stdout != "code=1\n6000\nmount-ok\n" || !strings.Contains(r.stderr, "No space left on device") {
		t.Fatalf("got %+v", r)
	}
}

func hostUsage(t *testing.T, dir string) int64 {
	t.Helper()
	var n int64
	err := filepath.Walk(dir, func(_ string, fi os.FileInfo, err error) error {
		if err == nil && fi.Mode().IsRegular() {
			n += fi.Size()
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// TestQuotaDF: df shows a sized mount's limit and use, and a root
// quota as the root's size.
func TestQuotaDF(t *testing.T) {
	tmp := t.TempDir()
	c := newContainer(t, rootfs.Mount{Target: "/t", Source: tmp})
	c.SetQuotas([]sandbox.Quota{{Target: "/t", Limit: 64 << 10}, {Target: "/", Limit: 1 << 20, Used: 256 << 10}})
	tests := []struct{ script, want string }{
		{`head -c 16384 /dev/zero > /t/a; df /t/a | tail -n 1`, "tmpfs                 64        16        48  25% /t\n"},
		{`cd /t && df . | tail -n 1`, "tmpfs                 64        16        48  25% /t\n"},
		{`df -h /t | tail -n 1`, "tmpfs            64K   16K   48K  25% /t\n"},
		{`df / | tail -n 1`, "sandbox             1024       256       768  25% /\n"},
	}
	for _, tt := range tests {
		if r := sh(t, c, tt.script); r.stdout != tt.want {
			t.Errorf("%s: got %+v, want %q", tt.script, r, tt.want)
		}
	}
}

// BenchmarkQuotaWrite is the cost of a quota on writes: dd of 1,000
// 1 KiB blocks into a mount with and without one.
func BenchmarkQuotaWrite(b *testing.B) {
	for _, limited := range []bool{false, true} {
		b.Run(map[bool]string{false: "none", true: "quota"}[limited], func(b *testing.B) {
			c := newContainer(b, rootfs.Mount{Target: "/t", Source: b.TempDir()})
			if limited {
				c.SetQuotas([]sandbox.Quota{{Target: "/t", Limit: 1 << 30}})
			}
			for b.Loop() {
				if r := run(b, c, "", "dd", "if=/dev/zero", "of=/t/x", "bs=1k", "count=1000"); r.code != 0 {
					b.Fatalf("%+v", r)
				}
			}
		})
	}
}
