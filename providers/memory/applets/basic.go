package main

import (
	"bufio"
	"fmt"
	"math"
	"os"
	"path"
	"regexp"
	"strconv"
	"strings"
	"time"
)

func trueCmd(*env, []string) int  { return 0 }
func falseCmd(*env, []string) int { return 1 }

func unsupportedCmd(e *env, _ []string) int {
	e.errf("not supported in the sandbox")
	return 1
}

func echoCmd(e *env, args []string) int {
	nl, esc := true, false
	for len(args) > 0 && len(args[0]) > 1 && args[0][0] == '-' && strings.Trim(args[0][1:], "neE") == "" {
		for _, c := range args[0][1:] {
			switch c {
			case 'n':
				nl = false
			case 'e':
				esc = true
			case 'E':
				esc = false
			}
		}
		args = args[1:]
	}
	for i, a := range args {
		if i > 0 {
			e.stdout.WriteByte(' ')
		}
		if esc {
			s, stop := unescape(a, true)
			e.stdout.WriteString(s)
			if stop {
				return 0
			}
		} else {
			e.stdout.WriteString(a)
		}
	}
	if nl {
		e.stdout.WriteByte('\n')
	}
	return 0
}

// unescape expands backslash escapes as echo -e and printf %b do. stop
// reports a \c (stop output).
func unescape(s string, echoOctal bool) (string, bool) {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != '\\' || i+1 >= len(s) {
			b.WriteByte(c)
			continue
		}
		i++
		switch s[i] {
		case 'n':
			b.WriteByte('\n')
		case 't':
			b.WriteByte('\t')
		case 'r':
			b.WriteByte('\r')
		case 'a':
			b.WriteByte(7)
		case 'b':
			b.WriteByte(8)
		case 'f':
			b.WriteByte(12)
		case 'v':
			b.WriteByte(11)
		case 'e':
			b.WriteByte(27)
		case '\\':
			b.WriteByte('\\')
		case 'c':
			return b.String(), true
		case '0', '1', '2', '3', '4', '5', '6', '7':
			j, max := i, 3
			if s[i] == '0' && echoOctal {
				j, max = i+1, 3
			}
			v := 0
			k := j
			for k < len(s) && k-j < max && s[k] >= '0' && s[k] <= '7' {
				v = v*8 + int(s[k]-'0')
				k++
			}
			b.WriteByte(byte(v))
			i = k - 1
		case 'x':
			v, k := 0, i+1
			for k < len(s) && k-i-1 < 2 && isHex(s[k]) {
				v = v*16 + hexVal(s[k])
				k++
			}
			if k == i+1 {
				b.WriteString("\\x")
				continue
			}
			b.WriteByte(byte(v))
			i = k - 1
		default:
			b.WriteByte('\\')
			b.WriteByte(s[i])
		}
	}
	return b.String(), false
}

func isHex(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}

func hexVal(c byte) int {
	switch {
	case c >= 'a':
		return int(c-'a') + 10
	case c >= 'A':
		return int(c-'A') + 10
	}
	return int(c - '0')
}

func printfCmd(e *env, args []string) int {
	if len(args) > 0 && args[0] == "--" {
		args = args[1:]
	}
	if len(args) == 0 {
		return e.usage("missing operand")
	}
	format, args := args[0], args[1:]
	status := 0
	for {
		used, stop, err := printfOnce(e.stdout, format, args)
		if err != nil {
			e.errf("%v", err)
			status = 1
		}
		if stop || used == 0 || used >= len(args) {
			break
		}
		args = args[used:]
	}
	return status
}

// printfOnce formats once, returning how many args were consumed.
func printfOnce(w *bufio.Writer, format string, args []string) (int, bool, error) {
	used := 0
	var firstErr error
	next := func() (string, bool) {
		if used < len(args) {
			used++
			return args[used-1], true
		}
		return "", false
	}
	for i := 0; i < len(format); i++ {
		c := format[i]
		if c == '\\' {
			j := i + 1
			for j < len(format) && j-i < 4 && format[j] >= '0' && format[j] <= '7' {
				j++
			}
			end := i + 2
			if j > i+1 {
				end = j
			} else if i+1 < len(format) && format[i+1] == 'x' {
				end = i + 2
				for end < len(format) && end-i-2 < 2 && isHex(format[end]) {
					end++
				}
			}
			if end > len(format) {
				end = len(format)
			}
			s, stop := unescape(format[i:end], false)
			w.WriteString(s)
			if stop {
				return used, true, firstErr
			}
			i = end - 1
			continue
		}
		if c != '%' {
			w.WriteByte(c)
			continue
		}
		j := i + 1
		for j < len(format) && strings.IndexByte("-+ #0", format[j]) >= 0 {
			j++
		}
		for j < len(format) && (format[j] >= '0' && format[j] <= '9' || format[j] == '.' || format[j] == '*') {
			j++
		}
		if j >= len(format) {
			w.WriteString(format[i:])
			break
		}
		spec := format[i+1 : j]
		if strings.Contains(spec, "*") {
			var b strings.Builder
			for _, ch := range spec {
				if ch == '*' {
					a, _ := next()
					n, _ := strconv.Atoi(a)
					b.WriteString(strconv.Itoa(n))
				} else {
					b.WriteRune(ch)
				}
			}
			spec = b.String()
		}
		verb := format[j]
		i = j
		switch verb {
		case '%':
			w.WriteByte('%')
		case 's':
			a, _ := next()
			fmt.Fprintf(w, "%"+spec+"s", a)
		case 'b':
			a, _ := next()
			s, stop := unescape(a, true)
			fmt.Fprintf(w, "%"+spec+"s", s)
			if stop {
				return used, true, firstErr
			}
		case 'c':
			a, _ := next()
			if a != "" {
				w.WriteByte(a[0])
			}
		case 'd', 'i', 'o', 'u', 'x', 'X':
			a, _ := next()
			n, err := parseNum(a)
			if err != nil && firstErr == nil {
				firstErr = err
			}
			v := verb
			if v == 'i' || v == 'u' {
				v = 'd'
			}
			fmt.Fprintf(w, "%"+spec+string(v), n)
		case 'e', 'E', 'f', 'F', 'g', 'G':
			a, _ := next()
			f, err := strconv.ParseFloat(strings.TrimSpace(a), 64)
			if err != nil && a != "" && firstErr == nil {
				firstErr = fmt.Errorf("%s: invalid number", a)
			}
			fmt.Fprintf(w, "%"+spec+string(verb), f)
		default:
			return used, true, fmt.Errorf("%%%c: invalid directive", verb)
		}
	}
	return used, false, firstErr
}

func parseNum(s string) (int64, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return 0, nil
	}
	if s[0] == '\'' || s[0] == '"' {
		if len(s) > 1 {
			return int64(s[1]), nil
		}
		return 0, nil
	}
	n, err := strconv.ParseInt(s, 0, 64)
	if err != nil {
		return n, fmt.Errorf("%s: invalid number", s)
	}
	return n, nil
}

func pwdCmd(e *env, _ []string) int {
	wd, err := os.Getwd()
	if err != nil {
		return e.fail(err)
	}
	fmt.Fprintln(e.stdout, wd)
	return 0
}

// parseDuration parses sleep's NUMBER[smhd].
func parseDuration(s string) (time.Duration, error) {
	if s == "inf" || s == "infinity" {
		return math.MaxInt64, nil
	}
	mult := time.Second
	switch {
	case strings.HasSuffix(s, "s"):
		s = s[:len(s)-1]
	case strings.HasSuffix(s, "m"):
		s, mult = s[:len(s)-1], time.Minute
	case strings.HasSuffix(s, "h"):
		s, mult = s[:len(s)-1], time.Hour
	case strings.HasSuffix(s, "d"):
		s, mult = s[:len(s)-1], 24*time.Hour
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || f < 0 {
		return 0, fmt.Errorf("invalid time interval '%s'", s)
	}
	d := f * float64(mult)
	if d > math.MaxInt64 {
		return math.MaxInt64, nil
	}
	return time.Duration(d), nil
}

func sleepCmd(e *env, args []string) int {
	if len(args) == 0 {
		return e.usage("missing operand")
	}
	var total time.Duration
	for _, a := range args {
		d, err := parseDuration(a)
		if err != nil {
			return e.usage("%v", err)
		}
		total += d
		if total < 0 {
			total = math.MaxInt64
		}
	}
	_ = e.flush()
	sleepFor(total)
	return 0
}

// sleepFor sleeps in bounded steps (the host can cancel any of them).
func sleepFor(d time.Duration) {
	for d > 0 {
		step := min(d, time.Hour)
		time.Sleep(step)
		d -= step
	}
}

func usleepCmd(e *env, args []string) int {
	if len(args) != 1 {
		return e.usage("missing operand")
	}
	n, err := atoi(args[0])
	if err != nil {
		return e.usage("invalid number '%s'", args[0])
	}
	time.Sleep(time.Duration(n) * time.Microsecond)
	return 0
}

func yesCmd(e *env, args []string) int {
	s := "y"
	if len(args) > 0 {
		s = strings.Join(args, " ")
	}
	line := []byte(s + "\n")
	buf := make([]byte, 0, 16<<10)
	for len(buf)+len(line) <= cap(buf) {
		buf = append(buf, line...)
	}
	for {
		if _, err := e.stdout.Write(buf); err != nil {
			return 0
		}
	}
}

func seqCmd(e *env, args []string) int {
	sep, format, equal := "\n", "", false
	for len(args) > 0 && len(args[0]) > 1 && args[0][0] == '-' && (args[0][1] < '0' || args[0][1] > '9') && args[0][1] != '.' {
		switch a := args[0]; {
		case a == "-w" || a == "--equal-width":
			equal = true
		case a == "-s" && len(args) > 1:
			sep = args[1]
			args = args[1:]
		case strings.HasPrefix(a, "-s"):
			sep = a[2:]
		case a == "-f" && len(args) > 1:
			format = args[1]
			args = args[1:]
		case strings.HasPrefix(a, "-f"):
			format = a[2:]
		case a == "--":
		default:
			return e.usage("invalid option '%s'", a)
		}
		args = args[1:]
	}
	nums := make([]float64, len(args))
	prec := 0
	for i, a := range args {
		f, err := strconv.ParseFloat(a, 64)
		if err != nil {
			return e.usage("invalid floating point argument: '%s'", a)
		}
		nums[i] = f
		if k := strings.IndexByte(a, '.'); k >= 0 && len(a)-k-1 > prec {
			prec = len(a) - k - 1
		}
	}
	first, step, last := 1.0, 1.0, 0.0
	switch len(nums) {
	case 1:
		last = nums[0]
	case 2:
		first, last = nums[0], nums[1]
	case 3:
		first, step, last = nums[0], nums[1], nums[2]
	default:
		return e.usage("missing operand")
	}
	if step == 0 {
		return e.usage("invalid Zero increment value")
	}
	width := 0
	if equal {
		for _, v := range []float64{first, last} {
			if n := len(strconv.FormatFloat(v, 'f', prec, 64)); n > width {
				width = n
			}
		}
	}
	for i := 0; ; i++ {
		v := first + float64(i)*step
		if step > 0 && v > last+1e-9 || step < 0 && v < last-1e-9 {
			break
		}
		if i > 0 {
			e.stdout.WriteString(sep)
		}
		switch {
		case format != "":
			fmt.Fprintf(e.stdout, format, v)
		case equal:
			fmt.Fprintf(e.stdout, "%0*.*f", width, prec, v)
		default:
			e.stdout.WriteString(strconv.FormatFloat(v, 'f', prec, 64))
		}
	}
	if len(nums) > 0 && !(step > 0 && first > last || step < 0 && first < last) {
		e.stdout.WriteByte('\n')
	}
	return 0
}

func envCmd(e *env, args []string) int {
	envv := os.Environ()
	nul := false
	dir := ""
	for len(args) > 0 && strings.HasPrefix(args[0], "-") {
		a := args[0]
		args = args[1:]
		switch {
		case a == "-" || a == "-i" || a == "--ignore-environment":
			envv = nil
		case a == "-0" || a == "--null":
			nul = true
		case a == "-u" && len(args) > 0:
			envv = unsetEnv(envv, args[0])
			args = args[1:]
		case strings.HasPrefix(a, "--unset="):
			envv = unsetEnv(envv, a[len("--unset="):])
		case a == "-C" && len(args) > 0:
			dir = args[0]
			args = args[1:]
		case a == "--":
			goto done
		default:
			return e.usage("invalid option '%s'", a)
		}
	}
done:
	for len(args) > 0 && strings.Contains(args[0], "=") {
		k, _, _ := strings.Cut(args[0], "=")
		envv = append(unsetEnv(envv, k), args[0])
		args = args[1:]
	}
	if len(args) == 0 {
		end := "\n"
		if nul {
			end = "\x00"
		}
		for _, kv := range envv {
			e.stdout.WriteString(kv + end)
		}
		return 0
	}
	if dir == "" {
		dir, _ = os.Getwd()
	}
	if envv == nil {
		envv = []string{}
	}
	return spawn(e, args, envv, dir, 0, 0)
}

func unsetEnv(envv []string, name string) []string {
	out := envv[:0:0]
	for _, kv := range envv {
		if k, _, _ := strings.Cut(kv, "="); k != name {
			out = append(out, kv)
		}
	}
	return out
}

func printenvCmd(e *env, args []string) int {
	if len(args) == 0 {
		for _, kv := range os.Environ() {
			e.stdout.WriteString(kv + "\n")
		}
		return 0
	}
	status := 0
	for _, a := range args {
		v, ok := os.LookupEnv(a)
		if !ok {
			status = 1
			continue
		}
		e.stdout.WriteString(v + "\n")
	}
	return status
}

func whichCmd(e *env, args []string) int {
	all := false
	if len(args) > 0 && args[0] == "-a" {
		all, args = true, args[1:]
	}
	status := 0
	for _, name := range args {
		found := lookPath(name, all)
		if len(found) == 0 {
			status = 1
		}
		for _, p := range found {
			e.stdout.WriteString(p + "\n")
		}
	}
	return status
}

// lookPath finds name like the sandbox shell does: applets live in /bin,
// then executables on PATH.
func lookPath(name string, all bool) []string {
	var out []string
	if strings.Contains(name, "/") {
		if isExecutable(name) {
			return []string{name}
		}
		return nil
	}
	if isApplet(name) {
		out = append(out, "/bin/"+name)
		if !all {
			return out
		}
	}
	for _, dir := range strings.Split(os.Getenv("PATH"), ":") {
		if dir == "" {
			dir = "."
		}
		p := path.Join(dir, name)
		if isExecutable(p) {
			out = append(out, p)
			if !all {
				return out
			}
		}
	}
	return out
}

func dirnameCmd(e *env, args []string) int {
	if len(args) == 0 {
		return e.usage("missing operand")
	}
	for _, a := range args {
		e.stdout.WriteString(dirname(a) + "\n")
	}
	return 0
}

func dirname(p string) string {
	if p == "" {
		return "."
	}
	t := strings.TrimRight(p, "/")
	if t == "" {
		return "/"
	}
	i := strings.LastIndexByte(t, '/')
	if i < 0 {
		return "."
	}
	d := strings.TrimRight(t[:i], "/")
	if d == "" {
		return "/"
	}
	return d
}

func basenameCmd(e *env, args []string) int {
	multi, suffix := false, ""
	for len(args) > 0 && strings.HasPrefix(args[0], "-") && len(args[0]) > 1 {
		switch a := args[0]; {
		case a == "-a":
			multi = true
		case a == "-s" && len(args) > 1:
			multi, suffix = true, args[1]
			args = args[1:]
		case a == "--":
			args = args[1:]
			goto done
		default:
			return e.usage("invalid option '%s'", a)
		}
		args = args[1:]
	}
done:
	if len(args) == 0 {
		return e.usage("missing operand")
	}
	if !multi {
		if len(args) > 1 {
			suffix = args[1]
		}
		args = args[:1]
	}
	for _, a := range args {
		b := basename(a)
		if suffix != "" && b != suffix && strings.HasSuffix(b, suffix) {
			b = b[:len(b)-len(suffix)]
		}
		e.stdout.WriteString(b + "\n")
	}
	return 0
}

func basename(p string) string {
	t := strings.TrimRight(p, "/")
	if t == "" {
		if p == "" {
			return ""
		}
		return "/"
	}
	return t[strings.LastIndexByte(t, '/')+1:]
}

// passwdEntry finds a line of /etc/passwd or /etc/group by id (field 3).
func lookupName(file string, id int) string {
	data, err := os.ReadFile(file)
	if err != nil {
		return ""
	}
	for _, line := range strings.Split(string(data), "\n") {
		f := strings.Split(line, ":")
		if len(f) > 2 && f[2] == strconv.Itoa(id) {
			return f[0]
		}
	}
	return ""
}

func idCmd(e *env, args []string) int {
	uid, gid := ids()
	un, gn := lookupName("/etc/passwd", uid), lookupName("/etc/group", gid)
	g := getopt{bools: "ugnrG"}
	if !parseOpts(e, &g, args) {
		return 1
	}
	name := func(n string, id int) string {
		if g.has('n') && n != "" {
			return n
		}
		return strconv.Itoa(id)
	}
	switch {
	case g.has('u'):
		fmt.Fprintln(e.stdout, name(un, uid))
	case g.has('g'):
		fmt.Fprintln(e.stdout, name(gn, gid))
	case g.has('G'):
		var out []string
		for _, id := range groupIDs() {
			out = append(out, name(lookupName("/etc/group", id), id))
		}
		fmt.Fprintln(e.stdout, strings.Join(out, " "))
	default:
		// busybox: a number without a name has no parentheses.
		named := func(id int, n string) string {
			if n == "" {
				return strconv.Itoa(id)
			}
			return fmt.Sprintf("%d(%s)", id, n)
		}
		var out []string
		for _, id := range groupIDs() {
			out = append(out, named(id, lookupName("/etc/group", id)))
		}
		fmt.Fprintf(e.stdout, "uid=%s gid=%s groups=%s\n", named(uid, un), named(gid, gn), strings.Join(out, ","))
	}
	return 0
}

func whoamiCmd(e *env, _ []string) int {
	uid, _ := ids()
	n := lookupName("/etc/passwd", uid)
	if n == "" {
		e.errf("cannot find name for user ID %d", uid)
		return 1
	}
	fmt.Fprintln(e.stdout, n)
	return 0
}

func groupsCmd(e *env, _ []string) int {
	var out []string
	for _, id := range groupIDs() {
		n := lookupName("/etc/group", id)
		if n == "" {
			n = strconv.Itoa(id)
		}
		out = append(out, n)
	}
	fmt.Fprintln(e.stdout, strings.Join(out, " "))
	return 0
}

func hostName() string {
	data, err := os.ReadFile("/etc/hostname")
	if err != nil || strings.TrimSpace(string(data)) == "" {
		if h := os.Getenv("HOSTNAME"); h != "" {
			return h
		}
		return "localhost"
	}
	return strings.TrimSpace(string(data))
}

func hostnameCmd(e *env, args []string) int {
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		e.errf("you must be root to change the host name")
		return 1
	}
	fmt.Fprintln(e.stdout, hostName())
	return 0
}

func archCmd(e *env, _ []string) int {
	fmt.Fprintln(e.stdout, sysInfo(infoMachine))
	return 0
}

func unameCmd(e *env, args []string) int {
	g := getopt{bools: "asnrvmpio", longs: map[string]byte{"all": 'a', "kernel-name": 's', "nodename": 'n', "kernel-release": 'r', "machine": 'm'}}
	if !parseOpts(e, &g, args) {
		return 1
	}
	fields := []struct {
		c byte
		v string
	}{{'s', "Linux"}, {'n', hostName()}, {'r', "6.1.0-sockerless"}, {'v', "#1 SMP sockerless"}, {'m', sysInfo(infoMachine)}, {'p', "unknown"}, {'i', "unknown"}, {'o', "GNU/Linux"}}
	var out []string
	for _, f := range fields {
		if g.has(f.c) || g.has('a') && f.c != 'p' && f.c != 'i' {
			out = append(out, f.v)
		}
	}
	if len(out) == 0 {
		out = []string{"Linux"}
	}
	fmt.Fprintln(e.stdout, strings.Join(out, " "))
	return 0
}

func nprocCmd(e *env, _ []string) int {
	fmt.Fprintln(e.stdout, sysInfo(infoCPUs))
	return 0
}

// ttyCmd prints the terminal's name when stdin is the container's
// terminal (docker run -t), like tty(1); -s prints nothing.
func ttyCmd(e *env, args []string) int {
	silent := len(args) > 0 && (args[0] == "-s" || args[0] == "--silent" || args[0] == "--quiet")
	if !isatty(0) {
		if !silent {
			fmt.Fprintln(e.stdout, "not a tty")
		}
		return 1
	}
	if !silent {
		fmt.Fprintln(e.stdout, "/dev/pts/0")
	}
	return 0
}

func killCmd(e *env, args []string) int {
	if len(args) > 0 && args[0] == "-l" {
		fmt.Fprintln(e.stdout, "HUP INT QUIT ILL TRAP ABRT BUS FPE KILL USR1 SEGV USR2 PIPE ALRM TERM")
		return 0
	}
	e.errf("signals are not supported inside the sandbox")
	return 1
}

// Kinds of sysInfo, answered by the sandbox (package sandbox, hostInfo).
const (
	infoProcesses = 1
	infoMachine   = 2
	infoCPUs      = 3
	infoDisk      = 4
)

// psCmd lists the container's processes, as BusyBox ps does; the sandbox
// keeps no per-process CPU time, so TIME is empty.
func psCmd(e *env, _ []string) int {
	fmt.Fprintln(e.stdout, "PID   USER     TIME  COMMAND")
	for _, line := range strings.Split(strings.TrimSuffix(sysInfo(infoProcesses), "\n"), "\n") {
		f := strings.SplitN(line, "\t", 5)
		if len(f) < 5 {
			continue
		}
		pid, _ := strconv.Atoi(f[0])
		user := f[2]
		if uid, err := strconv.Atoi(f[2]); err == nil {
			if n := lookupName("/etc/passwd", uid); n != "" {
				user = n
			}
		}
		fmt.Fprintf(e.stdout, "%5d %-8s %5s %s\n", pid, user, "", strings.ReplaceAll(f[4], "\x00", " "))
	}
	return 0
}

func nohupCmd(e *env, args []string) int {
	if len(args) == 0 {
		return e.usage("missing operand")
	}
	wd, _ := os.Getwd()
	return spawn(e, args, nil, wd, 0, 0)
}

func timeoutCmd(e *env, args []string) int {
	for len(args) > 0 && strings.HasPrefix(args[0], "-") {
		switch a := args[0]; {
		case a == "-s" || a == "-k":
			if len(args) > 1 {
				args = args[1:]
			}
		case a == "--":
			args = args[1:]
			goto done
		}
		args = args[1:]
	}
done:
	if len(args) < 2 {
		return e.usage("missing operand")
	}
	d, err := parseDuration(args[0])
	if err != nil {
		return e.usage("%v", err)
	}
	wd, _ := os.Getwd()
	if d < time.Millisecond {
		d = time.Millisecond
	}
	// The host enforces the deadline and reports 124 when it hits.
	return spawn(e, args[1:], nil, wd, 0, d)
}

// exprCmd implements expr(1) by recursive descent.
func exprCmd(e *env, args []string) int {
	p := &exprParser{toks: args}
	v, err := p.or()
	if err == nil && p.i < len(p.toks) {
		err = fmt.Errorf("syntax error: unexpected argument '%s'", p.toks[p.i])
	}
	if err != nil {
		e.errf("%v", err)
		return 2
	}
	fmt.Fprintln(e.stdout, v)
	if v == "" || v == "0" {
		return 1
	}
	return 0
}

type exprParser struct {
	toks []string
	i    int
}

func (p *exprParser) peek() string {
	if p.i < len(p.toks) {
		return p.toks[p.i]
	}
	return ""
}

func isNull(s string) bool { return s == "" || s == "0" }

func (p *exprParser) or() (string, error) {
	l, err := p.and()
	for err == nil && p.peek() == "|" {
		p.i++
		var r string
		if r, err = p.and(); err == nil && isNull(l) {
			l = r
			if isNull(r) {
				l = "0"
			}
		}
	}
	return l, err
}

func (p *exprParser) and() (string, error) {
	l, err := p.cmp()
	for err == nil && p.peek() == "&" {
		p.i++
		var r string
		if r, err = p.cmp(); err == nil && (isNull(l) || isNull(r)) {
			l = "0"
		}
	}
	return l, err
}

func (p *exprParser) cmp() (string, error) {
	l, err := p.add()
	for err == nil {
		op := p.peek()
		switch op {
		case "=", "==", "!=", "<", "<=", ">", ">=":
		default:
			return l, nil
		}
		p.i++
		var r string
		if r, err = p.add(); err != nil {
			break
		}
		var c int
		li, e1 := strconv.ParseInt(l, 10, 64)
		ri, e2 := strconv.ParseInt(r, 10, 64)
		if e1 == nil && e2 == nil {
			c = map[bool]int{true: -1, false: 0}[li < ri] + map[bool]int{true: 1, false: 0}[li > ri]
		} else {
			c = strings.Compare(l, r)
		}
		res := false
		switch op {
		case "=", "==":
			res = c == 0
		case "!=":
			res = c != 0
		case "<":
			res = c < 0
		case "<=":
			res = c <= 0
		case ">":
			res = c > 0
		case ">=":
			res = c >= 0
		}
		l = map[bool]string{true: "1", false: "0"}[res]
	}
	return l, err
}

func (p *exprParser) add() (string, error) {
	l, err := p.mul()
	for err == nil && (p.peek() == "+" || p.peek() == "-") {
		op := p.toks[p.i]
		p.i++
		var r string
		if r, err = p.mul(); err != nil {
			break
		}
		a, b, nerr := exprInts(l, r)
		if nerr != nil {
			return "", nerr
		}
		if op == "+" {
			l = strconv.FormatInt(a+b, 10)
		} else {
			l = strconv.FormatInt(a-b, 10)
		}
	}
	return l, err
}

func (p *exprParser) mul() (string, error) {
	l, err := p.match()
	for err == nil && (p.peek() == "*" || p.peek() == "/" || p.peek() == "%") {
		op := p.toks[p.i]
		p.i++
		var r string
		if r, err = p.match(); err != nil {
			break
		}
		a, b, nerr := exprInts(l, r)
		if nerr != nil {
			return "", nerr
		}
		switch {
		case op == "*":
			l = strconv.FormatInt(a*b, 10)
		case b == 0:
			return "", fmt.Errorf("division by zero")
		case op == "/":
			l = strconv.FormatInt(a/b, 10)
		default:
			l = strconv.FormatInt(a%b, 10)
		}
	}
	return l, err
}

func exprInts(a, b string) (int64, int64, error) {
	x, err := strconv.ParseInt(a, 10, 64)
	if err != nil {
		return 0, 0, fmt.Errorf("non-integer argument")
	}
	y, err := strconv.ParseInt(b, 10, 64)
	if err != nil {
		return 0, 0, fmt.Errorf("non-integer argument")
	}
	return x, y, nil
}

func (p *exprParser) match() (string, error) {
	l, err := p.unary()
	for err == nil && p.peek() == ":" {
		p.i++
		var r string
		if r, err = p.unary(); err != nil {
			break
		}
		l, err = exprMatch(l, r)
	}
	return l, err
}

func exprMatch(s, re string) (string, error) {
	rx, err := regexp.Compile("^(?:" + breToERE(re) + ")")
	if err != nil {
		return "", fmt.Errorf("invalid regular expression")
	}
	m := rx.FindStringSubmatch(s)
	if rx.NumSubexp() > 0 {
		if m == nil {
			return "", nil
		}
		return m[1], nil
	}
	if m == nil {
		return "0", nil
	}
	return strconv.Itoa(len(m[0])), nil
}

func (p *exprParser) unary() (string, error) {
	t := p.peek()
	if p.i >= len(p.toks) {
		return "", fmt.Errorf("syntax error: missing argument")
	}
	p.i++
	switch t {
	case "(":
		v, err := p.or()
		if err != nil {
			return "", err
		}
		if p.peek() != ")" {
			return "", fmt.Errorf("syntax error: expecting ')'")
		}
		p.i++
		return v, nil
	case "length":
		v, err := p.unary()
		return strconv.Itoa(len(v)), err
	case "match":
		s, err := p.unary()
		if err != nil {
			return "", err
		}
		re, err := p.unary()
		if err != nil {
			return "", err
		}
		return exprMatch(s, re)
	case "substr":
		s, err := p.unary()
		if err != nil {
			return "", err
		}
		ps, _ := p.unary()
		ls, err := p.unary()
		if err != nil {
			return "", err
		}
		pos, _ := strconv.Atoi(ps)
		n, _ := strconv.Atoi(ls)
		if pos < 1 || n < 1 || pos > len(s) {
			return "", nil
		}
		end := min(pos-1+n, len(s))
		return s[pos-1 : end], nil
	case "index":
		s, err := p.unary()
		if err != nil {
			return "", err
		}
		chars, err := p.unary()
		if err != nil {
			return "", err
		}
		return strconv.Itoa(strings.IndexAny(s, chars) + 1), nil
	case "+":
		return p.unary()
	}
	return t, nil
}
