package dockerengine

import (
	"bufio"
	"context"
	"encoding/json"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

var shared Shared

func TestMain(m *testing.M) {
	code := m.Run()
	if err := shared.Stop(); err != nil {
		os.Stderr.WriteString(err.Error() + "\n")
		if code == 0 {
			code = 1
		}
	}
	os.Exit(code)
}

// docker runs the docker CLI against eng and returns its combined output.
func docker(t *testing.T, eng *Engine, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "docker", args...)
	cmd.Env = eng.Env()
	out, err := cmd.CombinedOutput()
	return string(out), err
}

func mustDocker(t *testing.T, eng *Engine, args ...string) string {
	t.Helper()
	out, err := docker(t, eng, args...)
	if err != nil {
		t.Fatalf("docker %s: %v\n%s\nengine log:\n%s", strings.Join(args, " "), err, out, eng.Log())
	}
	return out
}

func TestEngineVersion(t *testing.T) {
	eng := shared.Get(t)
	got := strings.TrimSpace(mustDocker(t, eng, "version", "--format", "{{.Server.Version}} {{.Server.APIVersion}}"))
	if got != Version+" 1.50" {
		t.Fatalf("server version = %q, want %q", got, Version+" 1.50")
	}
}

func TestBusyboxImage(t *testing.T) {
	eng := shared.Get(t)
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"true exits 0", []string{"true"}, ""},
		{"default command is sh", nil, ""},
		{"applet link", []string{"ls", "/bin/busybox"}, "/bin/busybox\n"},
		{"busybox binary kept", []string{"sh", "-c", "test -f /bin/busybox && ! test -L /bin/busybox && echo ok"}, "ok\n"},
		{"nobody user", []string{"id", "nobody"}, "uid=65534(nobody) gid=65534(nogroup) groups=65534(nogroup)\n"},
		{"run as daemon", []string{"sh", "-c", "id -un"}, "root\n"},
		{"tmp sticky", []string{"stat", "-c", "%a", "/tmp"}, "1777\n"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			args := append([]string{"run", "--rm", BusyboxImage}, tc.args...)
			if got := mustDocker(t, eng, args...); got != tc.want {
				t.Fatalf("output = %q, want %q", got, tc.want)
			}
		})
	}
	if got := mustDocker(t, eng, "run", "--rm", "-u", "daemon", BusyboxImage, "id"); got != "uid=1(daemon) gid=1(daemon) groups=1(daemon)\n" {
		t.Fatalf("id as daemon = %q", got)
	}
	if got := strings.TrimSpace(mustDocker(t, eng, "image", "inspect", "--format", "{{json .Config.Cmd}} {{json .Config.Env}}", BusyboxImage)); got != `["sh"] ["PATH=`+DefaultPath+`"]` {
		t.Fatalf("busybox Cmd and Env = %s", got)
	}
}

func TestExitCodeAndNetwork(t *testing.T) {
	eng := shared.Get(t)
	_, err := docker(t, eng, "run", "--rm", BusyboxImage, "sh", "-c", "exit 7")
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 7 {
		t.Fatalf("exit status = %v, want 7", err)
	}
	// The container's address is on the engine's own range.
	_, subnet, err := net.ParseCIDR(eng.Subnet)
	if err != nil {
		t.Fatal(err)
	}
	out := mustDocker(t, eng, "run", "--rm", BusyboxImage, "sh", "-c", "ip -4 -o addr show eth0")
	f := strings.Fields(out)
	if len(f) < 4 {
		t.Fatalf("ip addr: %q", out)
	}
	ip, _, err := net.ParseCIDR(f[3])
	if err != nil || !subnet.Contains(ip) {
		t.Fatalf("container address %q not in engine range %s", f[3], eng.Subnet)
	}
	// A user-defined network comes from the engine's pool too.
	mustDocker(t, eng, "network", "create", "sl-test-net")
	got := strings.TrimSpace(mustDocker(t, eng, "network", "inspect", "--format", "{{(index .IPAM.Config 0).Subnet}}", "sl-test-net"))
	if _, n, err := net.ParseCIDR(got); err != nil || !subnet.Contains(n.IP) {
		t.Fatalf("user network subnet %q not in engine range %s", got, eng.Subnet)
	}
	mustDocker(t, eng, "run", "--rm", "--network", "sl-test-net", BusyboxImage, "true")
}

// TestStopCleansUp starts a second engine of its own (while the shared one
// may be running: the two must not collide), uses it, stops it and checks
// that nothing it made is left.
func TestStopCleansUp(t *testing.T) {
	ctx := context.Background()
	eng, err := Start(ctx, Options{})
	if err != nil {
		t.Fatal(err)
	}
	stopped := false
	defer func() {
		if !stopped {
			_ = eng.Stop()
		}
	}()
	if other := shared.Get(t); other.Subnet == eng.Subnet || other.Bridge == eng.Bridge {
		t.Fatalf("two engines share a range or bridge: %s/%s and %s/%s", other.Subnet, other.Bridge, eng.Subnet, eng.Bridge)
	}
	mustDocker(t, eng, "run", "--rm", BusyboxImage, "true")
	// Leave things behind on purpose: a running container, a user network
	// with its own bridge, a published port (iptables rules, docker-proxy).
	mustDocker(t, eng, "network", "create", "leftover")
	mustDocker(t, eng, "run", "-d", "--network", "leftover", "-p", "127.0.0.1::80", BusyboxImage, "sleep", "600")
	mustDocker(t, eng, "run", "-d", BusyboxImage, "sh", "-c", "trap '' TERM; sleep 600")
	bridges := bridgesIn(eng.st)
	if len(bridges) < 2 {
		t.Fatalf("expected the default and the user network's bridge, got %v", bridges)
	}
	if len(rulesNaming(t, eng.st, bridges)) == 0 {
		t.Fatalf("no iptables rule names %v: the check below would prove nothing", bridges)
	}
	if len(enginePIDs(eng.st)) == 0 {
		t.Fatal("no engine process found: the check below would prove nothing")
	}
	st := eng.st
	if err := eng.Stop(); err != nil {
		t.Fatalf("Stop: %v", err)
	}
	stopped = true
	if pids := enginePIDs(st); len(pids) != 0 {
		t.Errorf("processes left: %v", pids)
	}
	for _, br := range bridges {
		if _, err := net.InterfaceByName(br); err == nil {
			t.Errorf("bridge %s left", br)
		}
	}
	if left := rulesNaming(t, st, bridges); len(left) != 0 {
		t.Errorf("iptables rules left:\n%s", strings.Join(left, "\n"))
	}
	if _, err := os.Stat(st.Dir); !os.IsNotExist(err) {
		t.Errorf("engine folder %s left (%v)", st.Dir, err)
	}
	mounts, _ := os.ReadFile("/proc/self/mountinfo")
	if strings.Contains(string(mounts), st.Dir) {
		t.Errorf("mounts left under %s", st.Dir)
	}
	for _, root := range cgroupRoots() {
		if _, err := os.Stat(filepath.Join(root, st.CgroupParent)); err == nil {
			t.Errorf("cgroup %s left in %s", st.CgroupParent, root)
		}
	}
	// The shared engine is untouched.
	mustDocker(t, shared.Get(t), "run", "--rm", BusyboxImage, "true")
}

// rulesNaming lists the iptables rules that name one of bridges or an
// address in the engine's range.
func rulesNaming(t *testing.T, st state, bridges []string) []string {
	t.Helper()
	_, subnet, _ := net.ParseCIDR(st.Subnet)
	var found []string
	for _, table := range []string{"filter", "nat", "raw", "mangle"} {
		out, err := exec.Command("iptables-save", "-t", table).Output()
		if err != nil {
			continue
		}
		for _, line := range strings.Split(string(out), "\n") {
			for _, tok := range splitRule(line) {
				hit := false
				for _, b := range bridges {
					hit = hit || tok == b
				}
				if ip, _, err := net.ParseCIDR(tok); err == nil && subnet.Contains(ip) {
					hit = true
				}
				if hit {
					found = append(found, table+": "+line)
					break
				}
			}
		}
	}
	return found
}

func TestSplitRule(t *testing.T) {
	tests := []struct {
		line string
		want []string
	}{
		{`-A DOCKER -d 10.1.0.2/32 ! -i br0 -o br0 -j ACCEPT`, []string{"-A", "DOCKER", "-d", "10.1.0.2/32", "!", "-i", "br0", "-o", "br0", "-j", "ACCEPT"}},
		{`-A X -m comment --comment "a b \"c\"" -j DROP`, []string{"-A", "X", "-m", "comment", "--comment", `a b "c"`, "-j", "DROP"}},
	}
	for _, tc := range tests {
		got := splitRule(tc.line)
		if strings.Join(got, "|") != strings.Join(tc.want, "|") {
			t.Errorf("splitRule(%q) = %q, want %q", tc.line, got, tc.want)
		}
	}
}

func TestDebianImage(t *testing.T) {
	eng, ref := shared.Debian(t)
	if got := mustDocker(t, eng, "run", "--rm", ref, "cat", "/etc/debian_version"); !strings.HasPrefix(got, "12.") {
		t.Fatalf("debian_version = %q, want 12.x", got)
	}
	if got := mustDocker(t, eng, "run", "--rm", ref, "bash", "-c", `echo "$0" ${BASH_VERSION%%.*}`); got != "bash 5\n" {
		t.Fatalf("bash = %q", got)
	}
	if got := strings.TrimSpace(mustDocker(t, eng, "image", "inspect", "--format", "{{json .Config.Cmd}}", ref)); got != `["bash"]` {
		t.Fatalf("debian Cmd = %s", got)
	}
	// Loading again is a no-op returning the same reference.
	if again, err := eng.LoadDebian(context.Background()); err != nil || again != ref {
		t.Fatalf("second LoadDebian = %q, %v", again, err)
	}
}

// TestHelperEngineOwner is not a test: TestStaleEngineReaped runs the test
// binary with it as an engine owner that dies without stopping its engine.
func TestHelperEngineOwner(t *testing.T) {
	if os.Getenv("SOCKERLESS_ENGINE_OWNER_HELPER") != "1" {
		return
	}
	eng, err := Start(context.Background(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	mustDocker(t, eng, "run", "-d", BusyboxImage, "sleep", "600")
	b, _ := json.Marshal(eng.st)
	os.Stdout.Write(append(append([]byte("STATE "), b...), '\n'))
	select {} // killed by the parent
}

func TestStaleEngineReaped(t *testing.T) {
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperEngineOwner$", "-test.count=1")
	cmd.Env = append(os.Environ(), "SOCKERLESS_ENGINE_OWNER_HELPER=1")
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var st state
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		if line, ok := strings.CutPrefix(sc.Text(), "STATE "); ok {
			if err := json.Unmarshal([]byte(line), &st); err != nil {
				t.Fatal(err)
			}
			break
		}
	}
	_ = cmd.Process.Kill()
	_ = cmd.Wait()
	if st.Dir == "" {
		t.Fatal("the owner helper never reported its engine")
	}
	// What a dead owner leaves: its bridge and the container with its shim.
	if _, err := net.InterfaceByName(st.Bridge); err != nil {
		t.Fatalf("bridge %s already gone: the check below would prove nothing", st.Bridge)
	}
	if len(enginePIDs(st)) == 0 {
		t.Fatal("no process of the dead owner's engine left: the check below would prove nothing")
	}
	lock, err := machineLock()
	if err != nil {
		t.Fatal(err)
	}
	reapStale()
	lock.Close()
	if pids := enginePIDs(st); len(pids) != 0 {
		t.Errorf("processes left: %v", pids)
	}
	if _, err := net.InterfaceByName(st.Bridge); err == nil {
		t.Errorf("bridge %s left", st.Bridge)
	}
	if _, err := os.Stat(st.Dir); !os.IsNotExist(err) {
		t.Errorf("folder %s left", st.Dir)
	}
}
