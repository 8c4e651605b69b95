package agent

import "testing"

func TestLiveTarOptions(t *testing.T) {
	mountinfo := `1 0 0:1 / / rw - overlay overlay rw
2 1 0:2 / /proc rw - proc proc rw
3 1 0:3 / /sys ro - sysfs sysfs ro
4 1 0:4 / /dev rw - tmpfs tmpfs rw
5 4 0:5 / /dev/pts rw - devpts devpts rw
6 1 8:1 /data /with\040space rw - ext4 /dev/sda1 rw
7 1 8:1 /agent /opt/agent/bin/agent ro - ext4 /dev/sda1 ro
`
	o := liveTarOptions(mountinfo, "/opt/agent/bin/agent")
	if !o.HardLinks {
		t.Error("HardLinks off")
	}
	for _, tc := range []struct {
		p             string
		shallow, skip bool
	}{
		{"/proc", true, false},
		{"/sys", true, false},
		{"/dev/pts", true, false},
		{"/dev", false, false},
		{"/with space", false, false},
		{"/opt/agent/bin/agent", false, true},
		{"/etc", false, false},
	} {
		if got := o.Shallow(tc.p); got != tc.shallow {
			t.Errorf("Shallow(%q) = %v, want %v", tc.p, got, tc.shallow)
		}
		if got := o.Skip(tc.p); got != tc.skip {
			t.Errorf("Skip(%q) = %v, want %v", tc.p, got, tc.skip)
		}
	}
	if got := unescapeMount(`/with\040space`); got != "/with space" {
		t.Errorf("unescapeMount = %q", got)
	}
}
