package integration

import (
	"bufio"
	"encoding/json"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/moby/moby/api/types/container"
)

// cpuLimitsApply reports whether this host lets the daemon (this test
// process) make cgroup v1 cpu groups, where the memory provider applies
// --cpus; elsewhere it warns that --cpus is ignored.
func cpuLimitsApply() bool {
	f, err := os.Open("/proc/self/cgroup")
	if err != nil {
		return false
	}
	defer f.Close()
	for sc := bufio.NewScanner(f); sc.Scan(); {
		parts := strings.SplitN(sc.Text(), ":", 3)
		if len(parts) == 3 && strings.Contains(","+parts[1]+",", ",cpu,") {
			w, err := os.OpenFile("/sys/fs/cgroup/cpu"+parts[2]+"/tasks", os.O_WRONLY, 0)
			if err != nil {
				return false
			}
			w.Close()
			return true
		}
	}
	return false
}

// testCPULimit is finding 3's --cpus: a busy container limited to 0.01
// CPU is throttled by the kernel, as `docker stats`' throttling data
// shows (the same fields dockerd reports from the container's cgroup),
// and create says nothing about --cpus being ignored. Where the host has
// no writable cgroup v1 cpu hierarchy, create warns instead.
func testCPULimit(t *testing.T, s *server) {
	if !cpuLimitsApply() {
		runSteps(t, s, []step{
			d(0, `WARNING: The memory provider does not apply --cpus; it is ignored.`, "create", "--name", "cpus", "--cpus", "1", "alpine:3.20"),
			d(0, ``, "rm", "cpus"),
		})
		return
	}
	out, code := s.docker(t, "", "run", "-d", "--name", "cpus", "--cpus", "0.01", "alpine:3.20", "sh", "-c", "while :; do :; done")
	if code != 0 || strings.Contains(out, "WARNING") {
		t.Fatalf("run --cpus: exit %d: %s", code, out)
	}
	defer s.docker(t, "", "rm", "-f", "cpus")
	var st container.StatsResponse
	for deadline := time.Now().Add(2 * time.Minute); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		res, err := s.httpClient().Get("http://docker/containers/cpus/stats?stream=false")
		if err != nil {
			t.Fatal(err)
		}
		err = json.NewDecoder(res.Body).Decode(&st)
		res.Body.Close()
		if err != nil || res.StatusCode != http.StatusOK {
			t.Fatalf("stats: %d %v", res.StatusCode, err)
		}
		if td := st.CPUStats.ThrottlingData; td.ThrottledPeriods >= 3 && td.ThrottledTime > 0 {
			break
		}
	}
	td := st.CPUStats.ThrottlingData
	t.Logf("throttling data: %+v", td)
	if td.ThrottledPeriods < 3 || td.ThrottledTime == 0 || td.Periods < td.ThrottledPeriods {
		t.Fatalf("a busy container under --cpus 0.01 was not throttled: %+v", td)
	}
}
