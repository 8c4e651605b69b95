package integration

import "testing"

// TestHardeningSizeLimits is issue 12 finding 17's size limits through
// the real docker CLI: --tmpfs PATH:size= and --storage-opt size= are
// enforced in the memory provider's sandbox (writes past them fail,
// removal gives the space back, df shows the limit) and so no longer
// answered with a create Warning. The guest's write fails with EIO (WASI
// as wazero implements it has no ENOSPC); the applets ask the sandbox
// why and say "No space left on device" (docs/sandbox.md).
func TestHardeningSizeLimits(t *testing.T) {
	s := memoryServer(t)
	runSteps(t, s, []step{
		// Docker (busybox on a 64k tmpfs): "dd: error writing '/t/x': No
		// space left on device", status 1.
		d(1, `dd: error writing '/t/x': No space left on device`, "run", "--rm", "--tmpfs", "/t:size=64k", "alpine:3.20", "dd", "if=/dev/zero", "of=/t/x", "bs=1k", "count=100"),
		d(0, `^65536\n60000$`, "run", "--rm", "--tmpfs", "/t:size=64k", "alpine:3.20", "sh", "-c",
			"dd if=/dev/zero of=/t/x bs=1k count=100 2>/dev/null; wc -c < /t/x; rm /t/x; head -c 60000 /dev/zero > /t/y && wc -c < /t/y"),
		d(0, `^tmpfs\s+64\s+0\s+64\s+0% /t$`, "run", "--rm", "--tmpfs", "/t:size=64k", "alpine:3.20", "sh", "-c", "df /t | tail -n 1"),
		// The root's writable layer, outside the tmpfs.
		d(0, `(?s)^head: /dev/stdout: No space left on device\n1 bounded$`, "run", "--rm", "--storage-opt", "size=64k", "alpine:3.20", "sh", "-c",
			"head -c 100000 /dev/zero > /big; echo $? $(test $(wc -c < /big) -le 65536 && echo bounded)"),
		// The shell's own echo and printf (busybox on a full 4k tmpfs:
		// echo says why, printf nothing, both fail).
		d(0, `^sh: write error: No space left on device\ncode=1\ncode=1$`, "run", "--rm", "--tmpfs", "/t:size=4k", "alpine:3.20", "sh", "-c",
			"exec 2>&1; head -c 4096 /dev/zero > /t/a; echo hi > /t/b; echo code=$?; printf '%s\\n' x >> /t/a; echo code=$?"),
		// Enforced, so no Warning (only the id is printed).
		d(0, `^[0-9a-f]{64}$`, "create", "--name", "sized", "--storage-opt", "size=1g", "--tmpfs", "/t:size=1m", "alpine:3.20"),
		d(0, ``, "rm", "sized"),
		d(1, `invalid tmpfs size`, "create", "--tmpfs", "/t:size=lots", "alpine:3.20"),
	})
}
