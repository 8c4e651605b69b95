package agent

import (
	"bufio"
	"os"
	"path"
	"strings"

	"github.com/sockerless/sockerless/internal/rootfs"
)

// pseudoFS are the filesystem types a container's runtime mounts that
// hold no files of the container: Docker's archive of "/" shows their
// mount points as empty folders (its view of the root has none of them
// mounted).
var pseudoFS = map[string]bool{
	"proc": true, "sysfs": true, "devpts": true, "mqueue": true, "cgroup": true, "cgroup2": true,
	"securityfs": true, "debugfs": true, "tracefs": true, "pstore": true, "bpf": true,
	"fusectl": true, "configfs": true, "hugetlbfs": true, "binfmt_misc": true,
}

// liveTarOptions are the options of an archive of the live filesystem
// the agent runs in (Root "/"): hard links as Docker writes them, the
// pseudo filesystems' mount points without their content, and the
// agent's own binary left out when the platform mounted it in (the
// docker provider's /.sockerless/sockerless-agent), with its folder when
// that holds nothing else. mountinfo is /proc/self/mountinfo's text.
func liveTarOptions(mountinfo string, exe string) rootfs.TarOptions {
	shallow := map[string]bool{}
	skip := map[string]bool{}
	sc := bufio.NewScanner(strings.NewReader(mountinfo))
	for sc.Scan() {
		// id parent major:minor root mountpoint options [optional...] - fstype source super
		pre, post, ok := strings.Cut(sc.Text(), " - ")
		f, g := strings.Fields(pre), strings.Fields(post)
		if !ok || len(f) < 5 || len(g) < 1 {
			continue
		}
		mp := unescapeMount(f[4])
		switch {
		case pseudoFS[g[0]]:
			shallow[mp] = true
		case exe != "" && mp == exe:
			skip[mp] = true
			if ents, err := os.ReadDir(path.Dir(mp)); err == nil && len(ents) == 1 && path.Dir(mp) != "/" {
				skip[path.Dir(mp)] = true
			}
		}
	}
	return rootfs.TarOptions{
		HardLinks: true,
		Skip:      func(p string) bool { return skip[path.Clean(p)] },
		Shallow:   func(p string) bool { return shallow[path.Clean(p)] },
	}
}

// unescapeMount undoes mountinfo's octal escapes (\040 for a space).
func unescapeMount(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) {
			if n, ok := octal(s[i+1 : i+4]); ok {
				b.WriteByte(n)
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

func octal(s string) (byte, bool) {
	if len(s) != 3 {
		return 0, false
	}
	var n int
	for _, c := range s {
		if c < '0' || c > '7' {
			return 0, false
		}
		n = n*8 + int(c-'0')
	}
	return byte(n), n < 256
}
