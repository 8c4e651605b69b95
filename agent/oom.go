package agent

import (
	"bufio"
	"bytes"
	"os"
	"path/filepath"
	"strconv"
)

// CgroupRoot is where a container sees its own cgroup (a private cgroup
// namespace, as Docker, Fargate and Lambda give).
const CgroupRoot = "/sys/fs/cgroup"

// OOMKills returns how many processes the kernel's OOM killer has killed
// in the container's memory cgroup under root (CgroupRoot): the oom_kill
// count of cgroup v2's memory.events, or of cgroup v1's
// memory/memory.oom_control. ok is false when neither can be read (no
// memory controller, an old kernel): then the agent cannot tell an OOM
// kill from any other SIGKILL and reports none, as it must not guess.
//
// The agent compares the count before the main process starts and after
// it ends: a rise means the container passed its memory limit, which
// Docker shows as State.OOMKilled.
func OOMKills(root string) (n uint64, ok bool) {
	for _, f := range []string{filepath.Join(root, "memory.events"), filepath.Join(root, "memory", "memory.oom_control")} {
		b, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		sc := bufio.NewScanner(bytes.NewReader(b))
		for sc.Scan() {
			k, v, found := bytes.Cut(sc.Bytes(), []byte(" "))
			if !found || string(k) != "oom_kill" {
				continue
			}
			if n, err := strconv.ParseUint(string(bytes.TrimSpace(v)), 10, 64); err == nil {
				return n, true
			}
		}
	}
	return 0, false
}
