package dockerengine

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/moby/moby/client"
	"golang.org/x/sys/unix"
)

// dirPrefix names the engine folders under os.TempDir(); stale ones (whose
// owner lock is free) are cleaned up by the next Start.
const dirPrefix = "sockerless-engine-"

// state is what cleanup needs to undo an engine; it is written to
// <Dir>/state.json so that a later Start can clean up after an owner that
// died.
type state struct {
	Dir          string `json:"dir"`
	Bridge       string `json:"bridge"`
	Subnet       string `json:"subnet"`
	CgroupParent string `json:"cgroupParent"`
}

func checkPlatform() error {
	if os.Geteuid() != 0 {
		return errors.New("dockerengine: starting a Docker engine needs root (bridges, iptables, mounts)")
	}
	return nil
}

// machineLock serialises engine set-up and stale clean-up on the machine:
// choosing an address range and creating its bridge must not race another
// Start choosing the same range.
func machineLock() (*os.File, error) {
	f, err := os.OpenFile(filepath.Join(os.TempDir(), "sockerless-engine.lock"), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, fmt.Errorf("dockerengine: machine lock: %w", err)
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX); err != nil {
		f.Close()
		return nil, fmt.Errorf("dockerengine: machine lock: %w", err)
	}
	return f, nil
}

// prepare makes the engine's folder, takes its owner lock, chooses its
// address range and creates its bridge. It returns holding the machine
// lock (release closes it), so that the caller launches dockerd before
// any other Start does: engines start one at a time, each choosing its
// range after the last one made its bridge.
func prepare() (e *Engine, release func(), err error) {
	lock, err := machineLock()
	if err != nil {
		return nil, nil, err
	}
	defer func() {
		if err != nil {
			lock.Close() // releases the flock
		}
	}()

	reapStale()

	dir, err := os.MkdirTemp("", dirPrefix)
	if err != nil {
		return nil, nil, fmt.Errorf("dockerengine: %w", err)
	}
	owner, err := os.OpenFile(filepath.Join(dir, "owner.lock"), os.O_CREATE|os.O_RDWR, 0o600)
	if err == nil {
		err = unix.Flock(int(owner.Fd()), unix.LOCK_EX|unix.LOCK_NB)
	}
	if err != nil {
		_ = os.RemoveAll(dir)
		return nil, nil, fmt.Errorf("dockerengine: owner lock: %w", err)
	}
	suffix := randomHex(4)
	e = &Engine{
		Dir:     dir,
		Host:    "unix://" + filepath.Join(dir, "docker.sock"),
		LogPath: filepath.Join(dir, "dockerd.log"),
		owner:   owner,
		st: state{
			Dir:          dir,
			Bridge:       "slbr" + suffix,
			CgroupParent: "/sockerless-engine-" + suffix,
		},
	}
	fail := func(err error) (*Engine, func(), error) {
		_ = e.cleanup()
		return nil, nil, err
	}
	subnet, err := freeSubnet()
	if err != nil {
		return fail(err)
	}
	e.st.Subnet = subnet.String()
	e.Bridge, e.Subnet = e.st.Bridge, e.st.Subnet
	// Record the state before making anything, so that a crash between
	// here and Stop leaves enough to clean up.
	b, _ := json.Marshal(e.st)
	if err := os.WriteFile(filepath.Join(dir, "state.json"), b, 0o600); err != nil {
		return fail(fmt.Errorf("dockerengine: %w", err))
	}
	gw := subnet.IP.To4()
	bip := fmt.Sprintf("%d.%d.0.1/24", gw[0], gw[1])
	for _, args := range [][]string{
		{"link", "add", "name", e.Bridge, "type", "bridge"},
		{"addr", "add", bip, "dev", e.Bridge},
		{"link", "set", e.Bridge, "up"},
	} {
		if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
			return fail(fmt.Errorf("dockerengine: ip %s: %w: %s", strings.Join(args, " "), err, out))
		}
	}
	// Traffic between the engine's containers crosses the FORWARD chain
	// (bridged traffic does once br_netfilter is loaded; routed traffic
	// between its networks always), whose policy any dockerd that ran with
	// iptables left at DROP: accept what stays within the engine's range.
	// deleteRules removes it with the engine's other rules.
	if out, err := exec.Command("iptables", forwardRule("-I", e.st.Subnet)...).CombinedOutput(); err != nil {
		return fail(fmt.Errorf("dockerengine: iptables: %w: %s", err, out))
	}
	return e, func() { lock.Close() }, nil
}

// forwardRule is the iptables command (op -I to add, -D to delete) for the
// rule that lets traffic within subnet through the FORWARD chain.
func forwardRule(op, subnet string) []string {
	return []string{"-w", "-t", "filter", op, "FORWARD", "-s", subnet, "-d", subnet, "-j", "ACCEPT"}
}

// freeSubnet returns a 10.N.0.0/16 that overlaps no route or address on
// the machine.
func freeSubnet() (*net.IPNet, error) {
	used, err := usedNetworks()
	if err != nil {
		return nil, err
	}
	const first, count = 160, 90 // 10.160.0.0/16 … 10.249.0.0/16
	n, _ := rand.Int(rand.Reader, big.NewInt(count))
	start := int(n.Int64())
	for i := 0; i < count; i++ {
		octet := first + (start+i)%count
		cand := &net.IPNet{IP: net.IPv4(10, byte(octet), 0, 0).To4(), Mask: net.CIDRMask(16, 32)}
		free := true
		for _, u := range used {
			if u.Contains(cand.IP) || cand.Contains(u.IP) {
				free = false
				break
			}
		}
		if free {
			return cand, nil
		}
	}
	return nil, errors.New("dockerengine: no free 10.N.0.0/16 range between 10.160 and 10.249")
}

// usedNetworks lists the IPv4 networks of every route (all tables) and
// address on the machine, skipping the default route.
func usedNetworks() ([]*net.IPNet, error) {
	var nets []*net.IPNet
	for _, args := range [][]string{{"-4", "route", "show", "table", "all"}, {"-4", "-o", "addr", "show"}} {
		out, err := exec.Command("ip", args...).Output()
		if err != nil {
			return nil, fmt.Errorf("dockerengine: ip %s: %w", strings.Join(args, " "), err)
		}
		for _, f := range strings.Fields(string(out)) {
			if _, n, err := net.ParseCIDR(f); err == nil {
				if ones, _ := n.Mask.Size(); ones > 0 {
					nets = append(nets, n)
				}
				continue
			}
			if ip := net.ParseIP(f).To4(); ip != nil {
				nets = append(nets, &net.IPNet{IP: ip, Mask: net.CIDRMask(32, 32)})
			}
		}
	}
	return nets, nil
}

// reapStale cleans up engines whose owner died without stopping them: their
// owner lock is free. The machine lock is held.
func reapStale() {
	dirs, _ := filepath.Glob(filepath.Join(os.TempDir(), dirPrefix+"*"))
	for _, dir := range dirs {
		f, err := os.OpenFile(filepath.Join(dir, "owner.lock"), os.O_RDWR, 0)
		if err != nil {
			continue // not an engine folder, or being made (its maker holds the machine lock)
		}
		if unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB) != nil {
			f.Close() // alive
			continue
		}
		var st state
		if b, err := os.ReadFile(filepath.Join(dir, "state.json")); err == nil && json.Unmarshal(b, &st) == nil && st.Dir == dir {
			_ = cleanupState(st)
		} else {
			_ = cleanupState(state{Dir: dir})
		}
		f.Close()
	}
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// process is dockerd, run in its own process group.
type process struct {
	cmd     *exec.Cmd
	exited  chan struct{}
	waitErr error
	logFile *os.File
}

// launch starts dockerd and waits until it answers.
func (e *Engine) launch(ctx context.Context, binDir string, extraLog io.Writer) error {
	dataRoot := filepath.Join(e.Dir, "data")
	execRoot := filepath.Join(e.Dir, "exec")
	config := filepath.Join(e.Dir, "daemon.json")
	if err := os.WriteFile(config, []byte("{}\n"), 0o600); err != nil {
		return fmt.Errorf("dockerengine: %w", err)
	}
	_, subnet, _ := net.ParseCIDR(e.Subnet)
	ip := subnet.IP.To4()
	pool := fmt.Sprintf("base=%d.%d.128.0/17,size=24", ip[0], ip[1])
	args := []string{
		"--host", e.Host,
		"--data-root", dataRoot,
		"--exec-root", execRoot,
		"--pidfile", filepath.Join(e.Dir, "docker.pid"),
		"--config-file", config,
		"--bridge", e.Bridge,
		"--default-address-pool", pool,
		"--cgroup-parent", e.st.CgroupParent,
		// No iptables rules from dockerd: several engines share the
		// machine, and a starting dockerd deletes and re-creates the
		// machine-wide DOCKER chains under the running ones (their
		// network create then fails "No chain/target/match"). The one
		// rule the engine needs, forwarding within its range, prepare
		// adds (see forwardRule).
		"--iptables=false",
		"--ip6tables=false",
		"--userland-proxy-path", filepath.Join(binDir, "docker-proxy"),
		"--shutdown-timeout", "3",
	}
	logFile, err := os.OpenFile(e.LogPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return fmt.Errorf("dockerengine: %w", err)
	}
	var out io.Writer = logFile
	if extraLog != nil {
		out = io.MultiWriter(logFile, extraLog)
	}
	cmd := exec.Command(filepath.Join(binDir, "dockerd"), args...)
	cmd.Stdout, cmd.Stderr = out, out
	cmd.Dir = e.Dir
	env := []string{"PATH=" + binDir + string(os.PathListSeparator) + os.Getenv("PATH")}
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		if k == "PATH" || strings.HasPrefix(k, "DOCKER_") || k == "NOTIFY_SOCKET" {
			continue
		}
		env = append(env, kv)
	}
	cmd.Env = env
	p := &process{cmd: cmd, exited: make(chan struct{}), logFile: logFile}
	if err := p.start(); err != nil {
		logFile.Close()
		return fmt.Errorf("dockerengine: starting dockerd: %w", err)
	}
	e.proc = p

	c, err := client.New(client.WithHost(e.Host))
	if err != nil {
		return fmt.Errorf("dockerengine: %w", err)
	}
	defer c.Close()
	deadline := time.Now().Add(StartTimeout)
	for {
		pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		_, err := c.Ping(pctx, client.PingOptions{})
		cancel()
		if err == nil {
			return nil
		}
		select {
		case <-p.exited:
			return fmt.Errorf("dockerengine: dockerd exited before it answered (%v); log:\n%s", p.waitErr, e.Log())
		case <-ctx.Done():
			return fmt.Errorf("dockerengine: waiting for dockerd: %w", ctx.Err())
		case <-time.After(100 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("dockerengine: dockerd did not answer on %s within %v (%v); log:\n%s", e.Host, StartTimeout, err, e.Log())
		}
	}
}

// start runs the command in its own process group. The child gets SIGKILL
// if the thread that started it dies (Pdeathsig), so the engine does not
// outlive a program that crashes; that thread is the waiting goroutine's,
// locked for the child's whole life. What the dead engine leaves (shims,
// bridge, rules) is cleaned up by the next Start.
func (p *process) start() error {
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	started := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		if err := p.cmd.Start(); err != nil {
			started <- err
			close(p.exited)
			return
		}
		started <- nil
		p.waitErr = p.cmd.Wait()
		close(p.exited)
	}()
	return <-started
}

// terminate asks dockerd to shut down (it stops its containers and its
// containerd), kills its process group after grace, and waits.
func (p *process) terminate(grace time.Duration) error {
	defer p.logFile.Close()
	if p.cmd.Process == nil {
		return nil
	}
	pgid := p.cmd.Process.Pid
	_ = syscall.Kill(pgid, syscall.SIGTERM)
	select {
	case <-p.exited:
	case <-time.After(grace):
		_ = syscall.Kill(-pgid, syscall.SIGKILL)
		<-p.exited
		return fmt.Errorf("dockerengine: dockerd did not stop within %v; killed", grace)
	}
	// containerd shares the group; it normally exits with dockerd.
	_ = syscall.Kill(-pgid, syscall.SIGKILL)
	return nil
}

// cleanup removes what the engine made (see cleanupState) and releases its
// owner lock.
func (e *Engine) cleanup() error {
	err := cleanupState(e.st)
	if e.owner != nil {
		e.owner.Close()
	}
	return err
}

// cleanupState undoes an engine: kills its remaining processes, unmounts
// what is mounted under its folder, deletes the iptables rules and bridges
// of its address range, removes its cgroups and its folder.
func cleanupState(st state) error {
	var errs []error
	if st.Dir == "" || !strings.HasPrefix(filepath.Base(st.Dir), dirPrefix) {
		return fmt.Errorf("dockerengine: refusing to clean up %q", st.Dir)
	}
	killProcesses(st)
	errs = append(errs, unmountUnder(st.Dir))
	if st.Subnet != "" {
		bridges := bridgesIn(st)
		errs = append(errs, deleteRules(st, bridges))
		for _, br := range bridges {
			if out, err := exec.Command("ip", "link", "delete", br).CombinedOutput(); err != nil {
				errs = append(errs, fmt.Errorf("dockerengine: ip link delete %s: %w: %s", br, err, out))
			}
		}
	}
	errs = append(errs, removeCgroups(st))
	if err := os.RemoveAll(st.Dir); err != nil {
		errs = append(errs, fmt.Errorf("dockerengine: %w", err))
	}
	return errors.Join(errs...)
}

// killProcesses kills the engine's container processes (in its cgroups)
// and any process whose command line names its folder (dockerd,
// containerd, shims), until none is left.
func killProcesses(st state) {
	for round := 0; round < 50; round++ {
		pids := enginePIDs(st)
		if len(pids) == 0 {
			return
		}
		for _, pid := range pids {
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
		time.Sleep(50 * time.Millisecond) // reaping is asynchronous; this only paces the re-scan
	}
}

func enginePIDs(st state) []int {
	seen := map[int]bool{}
	self := os.Getpid()
	if st.CgroupParent != "" {
		for _, root := range cgroupRoots() {
			_ = filepath.WalkDir(filepath.Join(root, st.CgroupParent), func(p string, d os.DirEntry, err error) error {
				if err != nil || d.IsDir() || d.Name() != "cgroup.procs" {
					return nil
				}
				b, _ := os.ReadFile(p)
				for _, f := range strings.Fields(string(b)) {
					if pid, err := strconv.Atoi(f); err == nil && pid != self {
						seen[pid] = true
					}
				}
				return nil
			})
		}
	}
	entries, _ := os.ReadDir("/proc")
	needle := []byte(st.Dir + "/")
	for _, ent := range entries {
		pid, err := strconv.Atoi(ent.Name())
		if err != nil || pid == self {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", ent.Name(), "cmdline"))
		if err == nil && bytes.Contains(b, needle) {
			seen[pid] = true
		}
	}
	pids := make([]int, 0, len(seen))
	for pid := range seen {
		pids = append(pids, pid)
	}
	return pids
}

// cgroupRoots lists the mounted cgroup hierarchies (v1 controllers, or the
// v2 unified root).
func cgroupRoots() []string {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return nil
	}
	defer f.Close()
	var roots []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		for i, fld := range fields {
			if fld == "-" && i+1 < len(fields) && (fields[i+1] == "cgroup" || fields[i+1] == "cgroup2") {
				roots = append(roots, unescapeMount(fields[4]))
			}
		}
	}
	return roots
}

func removeCgroups(st state) error {
	if st.CgroupParent == "" {
		return nil
	}
	var errs []error
	for _, root := range cgroupRoots() {
		top := filepath.Join(root, st.CgroupParent)
		var dirs []string
		_ = filepath.WalkDir(top, func(p string, d os.DirEntry, err error) error {
			if err == nil && d.IsDir() {
				dirs = append(dirs, p)
			}
			return nil
		})
		sort.Slice(dirs, func(i, j int) bool { return len(dirs[i]) > len(dirs[j]) })
		for _, d := range dirs {
			if err := unix.Rmdir(d); err != nil && !errors.Is(err, unix.ENOENT) {
				errs = append(errs, fmt.Errorf("dockerengine: rmdir %s: %w", d, err))
			}
		}
	}
	return errors.Join(errs...)
}

// unmountUnder detaches every mount at or below dir, deepest first.
func unmountUnder(dir string) error {
	var errs []error
	for round := 0; round < 5; round++ {
		b, err := os.ReadFile("/proc/self/mountinfo")
		if err != nil {
			return fmt.Errorf("dockerengine: %w", err)
		}
		var points []string
		for _, line := range strings.Split(string(b), "\n") {
			fields := strings.Fields(line)
			if len(fields) < 5 {
				continue
			}
			mp := unescapeMount(fields[4])
			if mp == dir || strings.HasPrefix(mp, dir+"/") {
				points = append(points, mp)
			}
		}
		if len(points) == 0 {
			return nil
		}
		sort.Slice(points, func(i, j int) bool { return len(points[i]) > len(points[j]) })
		errs = errs[:0]
		for _, mp := range points {
			if err := unix.Unmount(mp, unix.MNT_DETACH); err != nil && !errors.Is(err, unix.EINVAL) && !errors.Is(err, unix.ENOENT) {
				errs = append(errs, fmt.Errorf("dockerengine: unmount %s: %w", mp, err))
			}
		}
	}
	return errors.Join(errs...)
}

// unescapeMount decodes the octal escapes (\040 for a space) of a
// mountinfo path.
func unescapeMount(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) {
			if n, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(n))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// bridgesIn names the engine's bridge and every interface with an address
// in its range (the bridges dockerd made for user-defined networks).
func bridgesIn(st state) []string {
	_, subnet, err := net.ParseCIDR(st.Subnet)
	if err != nil {
		return nil
	}
	names := map[string]bool{}
	if st.Bridge != "" {
		if _, err := net.InterfaceByName(st.Bridge); err == nil {
			names[st.Bridge] = true
		}
	}
	out, _ := exec.Command("ip", "-4", "-o", "addr", "show").Output()
	for _, line := range strings.Split(string(out), "\n") {
		f := strings.Fields(line)
		// "7: br-0123 inet 10.161.128.1/24 brd … scope global br-0123"
		if len(f) < 4 || f[2] != "inet" {
			continue
		}
		if ip, _, err := net.ParseCIDR(f[3]); err == nil && subnet.Contains(ip) {
			names[strings.TrimSuffix(f[1], ":")] = true
		}
	}
	list := make([]string, 0, len(names))
	for n := range names {
		list = append(list, n)
	}
	sort.Strings(list)
	return list
}

// deleteRules removes the iptables rules (filter, nat, raw, mangle) that
// name one of the engine's bridges or an address in its range.
func deleteRules(st state, bridges []string) error {
	_, subnet, err := net.ParseCIDR(st.Subnet)
	if err != nil {
		return nil
	}
	isOurs := func(tok string) bool {
		for _, b := range bridges {
			if tok == b {
				return true
			}
		}
		if ip, _, err := net.ParseCIDR(tok); err == nil {
			return subnet.Contains(ip)
		}
		if ip := net.ParseIP(tok); ip != nil {
			return subnet.Contains(ip)
		}
		return false
	}
	var errs []error
	for _, table := range []string{"filter", "nat", "raw", "mangle"} {
		out, err := exec.Command("iptables-save", "-t", table).Output()
		if err != nil {
			continue // table not available
		}
		for _, line := range strings.Split(string(out), "\n") {
			if !strings.HasPrefix(line, "-A ") {
				continue
			}
			toks := splitRule(line)
			ours := false
			for _, tok := range toks {
				if isOurs(tok) {
					ours = true
					break
				}
			}
			if !ours {
				continue
			}
			args := append([]string{"-w", "-t", table, "-D"}, toks[1:]...)
			if out, err := exec.Command("iptables", args...).CombinedOutput(); err != nil {
				errs = append(errs, fmt.Errorf("dockerengine: iptables %s: %w: %s", strings.Join(args, " "), err, out))
			}
		}
	}
	return errors.Join(errs...)
}

// splitRule splits an iptables-save rule line into arguments, honouring
// its double quotes (comments).
func splitRule(line string) []string {
	var toks []string
	var cur strings.Builder
	inQuote, have := false, false
	for i := 0; i < len(line); i++ {
		c := line[i]
		switch {
		case c == '\\' && inQuote && i+1 < len(line):
			i++
			cur.WriteByte(line[i])
		case c == '"':
			inQuote = !inQuote
			have = true
		case c == ' ' && !inQuote:
			if have {
				toks = append(toks, cur.String())
				cur.Reset()
				have = false
			}
		default:
			cur.WriteByte(c)
			have = true
		}
	}
	if have {
		toks = append(toks, cur.String())
	}
	return toks
}
