package main

import (
	"fmt"
	"net/netip"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Kinds of sysInfo past those of ps, df, uname and nproc (package
// sandbox, hostInfo).
const (
	infoGroups  = 5
	infoMounts  = 6
	infoAddrs   = 7
	infoTTYSize = 8
	infoTop     = 9
	// infoNoSpace is "1" once a write of this process failed for a size
	// limit: WASI has no ENOSPC, so the write's EIO is reported as it.
	infoNoSpace = 10
)

// groupIDs returns the process's groups: its supplementary groups as the
// sandbox knows them, else its gid.
func groupIDs() []int {
	var out []int
	for _, f := range strings.Fields(sysInfo(infoGroups)) {
		if n, err := strconv.Atoi(f); err == nil {
			out = append(out, n)
		}
	}
	if len(out) == 0 {
		_, gid := ids()
		out = []int{gid}
	}
	return out
}

// topCmd is busybox top: the host's memory, CPU and load (which busybox
// reads from the host's /proc in a container too) and the container's
// processes. -b, -n COUNT and -d SECONDS are honoured; it always prints
// in batch form.
func topCmd(e *env, args []string) int {
	count, delay := 0, 5*time.Second
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch {
		case a == "-b":
		case strings.HasPrefix(a, "-n") || strings.HasPrefix(a, "-d"):
			v := a[2:]
			if v == "" && i+1 < len(args) {
				i++
				v = args[i]
			}
			if a[1] == 'n' {
				n, err := strconv.Atoi(v)
				if err != nil {
					return e.usage("invalid number '%s'", v)
				}
				count = n
			} else {
				f, err := strconv.ParseFloat(v, 64)
				if err != nil {
					return e.usage("invalid number '%s'", v)
				}
				delay = time.Duration(f * float64(time.Second))
			}
		default:
			return e.usage("unrecognized option '%s'", a)
		}
	}
	for i := 0; count <= 0 || i < count; i++ {
		if i > 0 {
			time.Sleep(delay)
		}
		topOnce(e)
		_ = e.flush()
	}
	return 0
}

func topOnce(e *env) {
	lines := strings.Split(sysInfo(infoTop), "\n")
	for len(lines) < 3 {
		lines = append(lines, "")
	}
	var mem [5]uint64
	for i, f := range strings.Fields(lines[0]) {
		if i < 5 {
			mem[i], _ = strconv.ParseUint(f, 10, 64)
		}
	}
	fmt.Fprintf(e.stdout, "Mem: %dK used, %dK free, %dK shrd, %dK buff, %dK cached\n", mem[0]-mem[1], mem[1], mem[2], mem[3], mem[4])
	var cpu [7]uint64
	var total uint64
	for i, f := range strings.Fields(lines[1]) {
		if i == 0 || i > 7 {
			continue
		}
		n, _ := strconv.ParseUint(f, 10, 64)
		cpu[i-1] = n
		total += n
	}
	if total == 0 {
		total = 1
	}
	pct := func(n uint64) uint64 { return n * 100 / total }
	// /proc/stat: user nice system idle iowait irq softirq.
	fmt.Fprintf(e.stdout, "CPU:%4d%% usr%4d%% sys%4d%% nic%4d%% idle%4d%% io%4d%% irq%4d%% sirq\n",
		pct(cpu[0]), pct(cpu[2]), pct(cpu[1]), pct(cpu[3]), pct(cpu[4]), pct(cpu[5]), pct(cpu[6]))
	fmt.Fprintf(e.stdout, "Load average: %s\n", lines[2])
	vsz := map[int]uint64{}
	for _, l := range lines[3:] {
		f := strings.Fields(l)
		if len(f) == 2 {
			pid, _ := strconv.Atoi(f[0])
			vsz[pid], _ = strconv.ParseUint(f[1], 10, 64)
		}
	}
	fmt.Fprintln(e.stdout, "  PID  PPID USER     STAT   VSZ %VSZ %CPU COMMAND")
	type row struct {
		pid, ppid int
		user      string
		argv      string
	}
	var rows []row
	for _, line := range strings.Split(strings.TrimSuffix(sysInfo(infoProcesses), "\n"), "\n") {
		f := strings.SplitN(line, "\t", 5)
		if len(f) < 5 {
			continue
		}
		r := row{user: f[2], argv: strings.ReplaceAll(f[4], "\x00", " ")}
		r.pid, _ = strconv.Atoi(f[0])
		r.ppid, _ = strconv.Atoi(f[1])
		if uid, err := strconv.Atoi(f[2]); err == nil {
			if n := lookupName("/etc/passwd", uid); n != "" {
				r.user = n
			}
		}
		rows = append(rows, r)
	}
	sort.Slice(rows, func(i, j int) bool { return rows[i].pid < rows[j].pid })
	for _, r := range rows {
		state := "S"
		if strings.HasPrefix(r.argv, "top") {
			state = "R"
		}
		v := vsz[r.pid]
		pv := uint64(0)
		if mem[0] > 0 {
			pv = v * 100 / mem[0]
		}
		fmt.Fprintf(e.stdout, "%5d%6d %-8.8s %-4s %5s %3d%% %3d%% %s\n", r.pid, r.ppid, r.user, state, scaleKB(v), pv, 0, r.argv)
	}
}

// scaleKB formats kilobytes as busybox top does in 5 columns.
func scaleKB(kb uint64) string {
	if kb < 100000 {
		return strconv.FormatUint(kb, 10)
	}
	return strconv.FormatUint(kb/1024, 10) + "m"
}

// sttyCmd answers `stty size` (and -a, and settings, accepted) on the
// container's terminal; anywhere else it fails as stty does.
func sttyCmd(e *env, args []string) int {
	size := sysInfo(infoTTYSize)
	if size == "" {
		e.errf("standard input: Inappropriate ioctl for device")
		return 1
	}
	switch {
	case len(args) == 1 && args[0] == "size":
		fmt.Fprintln(e.stdout, size)
	case len(args) == 0 || args[0] == "-a" || args[0] == "-g":
		rows, cols, _ := strings.Cut(size, " ")
		fmt.Fprintf(e.stdout, "speed 38400 baud; rows %s; columns %s; line = 0;\n", rows, cols)
	}
	return 0
}

// mountCmd lists the container's mounts; mounting needs privileges no
// container of the sandbox has.
func mountCmd(e *env, args []string) int {
	if len(args) > 0 && (len(args) != 2 || args[0] != "-t") {
		e.errf("permission denied (are you root?)")
		return 255
	}
	want := ""
	if len(args) > 1 {
		want = args[1]
	}
	for _, line := range strings.Split(strings.TrimSuffix(sysInfo(infoMounts), "\n"), "\n") {
		f := strings.Fields(line)
		if len(f) != 4 || want != "" && f[2] != want {
			continue
		}
		fmt.Fprintf(e.stdout, "%s on %s type %s (%s)\n", f[0], f[1], f[2], f[3])
	}
	return 0
}

// ipCmd is busybox ip's address and link listings: lo and the
// container's interfaces as the provider knows them.
func ipCmd(e *env, args []string) int {
	for len(args) > 0 && strings.HasPrefix(args[0], "-") {
		args = args[1:] // -4, -o...: accepted
	}
	obj := "help"
	if len(args) > 0 {
		obj = args[0]
	}
	addrs := true
	switch obj {
	case "a", "ad", "add", "addr", "addre", "addres", "address":
	case "l", "li", "lin", "link":
		addrs = false
	default:
		e.errf("object \"%s\" is unknown or not supported in the sandbox", obj)
		return 1
	}
	if len(args) > 1 && args[1] != "show" && args[1] != "list" && args[1] != "ls" {
		e.errf("RTNETLINK answers: Operation not permitted")
		return 2
	}
	fmt.Fprintln(e.stdout, "1: lo: <LOOPBACK,UP,LOWER_UP> mtu 65536 qdisc noqueue qlen 1000")
	fmt.Fprintln(e.stdout, "    link/loopback 00:00:00:00:00:00 brd 00:00:00:00:00:00")
	if addrs {
		fmt.Fprintln(e.stdout, "    inet 127.0.0.1/8 scope host lo")
		fmt.Fprintln(e.stdout, "       valid_lft forever preferred_lft forever")
	}
	n := 2
	for _, line := range strings.Split(strings.TrimSuffix(sysInfo(infoAddrs), "\n"), "\n") {
		f := strings.Fields(line)
		if len(f) != 3 {
			continue
		}
		fmt.Fprintf(e.stdout, "%d: %s: <BROADCAST,MULTICAST,UP,LOWER_UP,M-DOWN> mtu 1500 qdisc noqueue \n", n, f[0])
		fmt.Fprintf(e.stdout, "    link/ether %s brd ff:ff:ff:ff:ff:ff\n", f[1])
		n++
		p, err := netip.ParsePrefix(f[2])
		if !addrs || err != nil {
			continue
		}
		fmt.Fprintf(e.stdout, "    inet %s brd %s scope global %s\n", p, broadcast(p), f[0])
		fmt.Fprintln(e.stdout, "       valid_lft forever preferred_lft forever")
	}
	return 0
}

// broadcast is the last address of p's network.
func broadcast(p netip.Prefix) netip.Addr {
	b := p.Addr().As16()
	bits := p.Bits()
	if p.Addr().Is4() {
		bits += 96
	}
	for i := bits; i < 128; i++ {
		b[i/8] |= 0x80 >> (i % 8)
	}
	a := netip.AddrFrom16(b)
	if p.Addr().Is4() {
		a = a.Unmap()
	}
	return a
}
