package main

import (
	"bufio"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"strconv"
	"strings"
	"time"
)

// findNode is a node of a find expression.
type findNode struct {
	op    string // "and", "or", "not", or a primary like "-name"
	kids  []*findNode
	arg   string
	num   int64
	cmp   int // -1 less, 0 exact, 1 more
	exec  []string
	plus  bool
	batch []string
}

type finder struct {
	e          *env
	maxDepth   int
	minDepth   int
	depthFirst bool
	status     int
	pruned     bool
	quit       bool
	start      time.Time
	execs      []*findNode
}

func findCmd(e *env, args []string) int {
	f := &finder{e: e, maxDepth: -1, start: time.Now()}
	var paths []string
	for len(args) > 0 && !strings.HasPrefix(args[0], "-") && args[0] != "(" && args[0] != "!" {
		paths = append(paths, args[0])
		args = args[1:]
	}
	for len(args) > 0 && (args[0] == "-L" || args[0] == "-H" || args[0] == "-P") {
		args = args[1:]
	}
	if len(paths) == 0 {
		paths = []string{"."}
	}
	p := &findParser{args: args, f: f}
	var expr *findNode
	if len(args) > 0 {
		var err error
		if expr, err = p.or(); err != nil {
			e.errf("%v", err)
			return 1
		}
		if p.i < len(p.args) {
			e.errf("unexpected argument '%s'", p.args[p.i])
			return 1
		}
	}
	if expr == nil || !p.hasAction {
		print := &findNode{op: "-print"}
		if expr == nil {
			expr = print
		} else {
			expr = &findNode{op: "and", kids: []*findNode{expr, print}}
		}
	}
	for _, root := range paths {
		f.walk(root, 0, expr)
		if f.quit {
			break
		}
	}
	for _, x := range f.execs {
		f.flushExec(x)
	}
	return f.status
}

type findParser struct {
	args      []string
	i         int
	f         *finder
	hasAction bool
}

func (p *findParser) peek() string {
	if p.i < len(p.args) {
		return p.args[p.i]
	}
	return ""
}

func (p *findParser) or() (*findNode, error) {
	l, err := p.and()
	if err != nil {
		return nil, err
	}
	for p.peek() == "-o" || p.peek() == "-or" {
		p.i++
		r, err := p.and()
		if err != nil {
			return nil, err
		}
		l = &findNode{op: "or", kids: []*findNode{l, r}}
	}
	return l, nil
}

func (p *findParser) and() (*findNode, error) {
	l, err := p.not()
	if err != nil {
		return nil, err
	}
	for {
		t := p.peek()
		if t == "" || t == "-o" || t == "-or" || t == ")" || t == "," {
			return l, nil
		}
		if t == "-a" || t == "-and" {
			p.i++
		}
		r, err := p.not()
		if err != nil {
			return nil, err
		}
		l = &findNode{op: "and", kids: []*findNode{l, r}}
	}
}

func (p *findParser) not() (*findNode, error) {
	if t := p.peek(); t == "!" || t == "-not" {
		p.i++
		n, err := p.not()
		if err != nil {
			return nil, err
		}
		return &findNode{op: "not", kids: []*findNode{n}}, nil
	}
	return p.primary()
}

func (p *findParser) primary() (*findNode, error) {
	t := p.peek()
	p.i++
	arg := func() (string, error) {
		if p.i >= len(p.args) {
			return "", fmt.Errorf("missing argument to '%s'", t)
		}
		p.i++
		return p.args[p.i-1], nil
	}
	n := &findNode{op: t}
	switch t {
	case "(":
		e, err := p.or()
		if err != nil {
			return nil, err
		}
		if p.peek() != ")" {
			return nil, fmt.Errorf("missing ')'")
		}
		p.i++
		return e, nil
	case "-name", "-iname", "-path", "-ipath", "-wholename", "-type", "-xtype", "-regex", "-iregex", "-newer", "-perm", "-user", "-group", "-samefile", "-lname", "-fstype":
		a, err := arg()
		if err != nil {
			return nil, err
		}
		n.arg = a
	case "-maxdepth", "-mindepth":
		a, err := arg()
		if err != nil {
			return nil, err
		}
		v, _ := strconv.Atoi(a)
		if t == "-maxdepth" {
			p.f.maxDepth = v
		} else {
			p.f.minDepth = v
		}
		n.op = "-true"
	case "-size", "-mtime", "-mmin", "-atime", "-ctime", "-amin", "-cmin", "-links", "-uid", "-gid", "-inum":
		a, err := arg()
		if err != nil {
			return nil, err
		}
		switch {
		case strings.HasPrefix(a, "+"):
			n.cmp, a = 1, a[1:]
		case strings.HasPrefix(a, "-"):
			n.cmp, a = -1, a[1:]
		}
		n.arg = a
		unit := int64(512)
		if t == "-size" && a != "" {
			switch a[len(a)-1] {
			case 'c':
				unit = 1
			case 'w':
				unit = 2
			case 'k':
				unit = 1024
			case 'M':
				unit = 1 << 20
			case 'G':
				unit = 1 << 30
			case 'b':
			}
			a = strings.TrimRight(a, "cwkMGb")
			n.arg = strconv.FormatInt(unit, 10)
		}
		v, err := strconv.ParseInt(a, 10, 64)
		if err != nil {
			return nil, fmt.Errorf("invalid argument '%s' to '%s'", a, t)
		}
		n.num = v
	case "-print", "-print0", "-delete", "-ls", "-quit":
		p.hasAction = true
		if t == "-delete" {
			p.f.depthFirst = true
		}
	case "-printf", "-fprint":
		a, err := arg()
		if err != nil {
			return nil, err
		}
		n.arg = a
		p.hasAction = true
	case "-exec", "-execdir", "-ok", "-okdir":
		p.hasAction = true
		for {
			if p.i >= len(p.args) {
				return nil, fmt.Errorf("missing argument to '%s'", t)
			}
			a := p.args[p.i]
			p.i++
			if a == ";" {
				break
			}
			if a == "+" && len(n.exec) > 0 && n.exec[len(n.exec)-1] == "{}" {
				n.plus = true
				n.exec = n.exec[:len(n.exec)-1]
				p.f.execs = append(p.f.execs, n)
				break
			}
			n.exec = append(n.exec, a)
		}
		if len(n.exec) == 0 {
			return nil, fmt.Errorf("missing argument to '%s'", t)
		}
	case "-prune", "-true", "-false", "-empty", "-depth", "-d", "-xdev", "-mount", "-readable", "-writable", "-executable", "-follow", "-nouser", "-nogroup", "-noleaf":
		if t == "-depth" || t == "-d" {
			p.f.depthFirst = true
			n.op = "-true"
		}
	default:
		return nil, fmt.Errorf("unknown predicate '%s'", t)
	}
	return n, nil
}

func (f *finder) walk(p string, depth int, expr *findNode) {
	fi, err := os.Lstat(p)
	if err != nil {
		f.e.errf("'%s': %s", p, errnoText(unwrapPath(err)))
		f.status = 1
		return
	}
	visit := func() {
		if depth >= f.minDepth && (f.maxDepth < 0 || depth <= f.maxDepth) {
			f.pruned = false
			f.eval(expr, p, fi, depth)
		}
	}
	if !f.depthFirst {
		f.pruned = false
		visit()
		if f.pruned || f.quit {
			return
		}
	}
	if fi.IsDir() && (f.maxDepth < 0 || depth < f.maxDepth) {
		des, err := os.ReadDir(p)
		if err != nil {
			f.e.errf("'%s': %s", p, errnoText(unwrapPath(err)))
			f.status = 1
		}
		for _, de := range des {
			f.walk(path.Join(p, de.Name()), depth+1, expr)
			if f.quit {
				return
			}
		}
	}
	if f.depthFirst {
		visit()
	}
}

func globMatch(pat, name string, fold bool) bool {
	if fold {
		pat, name = strings.ToLower(pat), strings.ToLower(name)
	}
	ok, _ := path.Match(pat, name)
	return ok
}

func cmpNum(n *findNode, v int64) bool {
	switch n.cmp {
	case 1:
		return v > n.num
	case -1:
		return v < n.num
	}
	return v == n.num
}

func (f *finder) eval(n *findNode, p string, fi fs.FileInfo, depth int) bool {
	switch n.op {
	case "and":
		return f.eval(n.kids[0], p, fi, depth) && f.eval(n.kids[1], p, fi, depth)
	case "or":
		return f.eval(n.kids[0], p, fi, depth) || f.eval(n.kids[1], p, fi, depth)
	case "not":
		return !f.eval(n.kids[0], p, fi, depth)
	case "-true", "-follow", "-noleaf", "-xdev", "-mount", "-readable", "-writable":
		return true
	case "-false", "-nouser", "-nogroup":
		return false
	case "-name", "-iname":
		return globMatch(n.arg, basename(p), n.op == "-iname")
	case "-path", "-ipath", "-wholename":
		return globMatch(n.arg, p, n.op == "-ipath")
	case "-regex", "-iregex":
		rx, err := compileRegex(n.arg, true, n.op == "-iregex")
		return err == nil && rx.MatchString(p) && rx.FindString(p) == p
	case "-lname":
		t, err := os.Readlink(p)
		return err == nil && globMatch(n.arg, t, false)
	case "-type", "-xtype":
		m := fi.Mode()
		if n.op == "-xtype" {
			if s, err := os.Stat(p); err == nil {
				m = s.Mode()
			}
		}
		for _, c := range strings.Split(n.arg, ",") {
			switch c {
			case "f":
				if m.IsRegular() {
					return true
				}
			case "d":
				if m.IsDir() {
					return true
				}
			case "l":
				if m&fs.ModeSymlink != 0 {
					return true
				}
			case "p":
				if m&fs.ModeNamedPipe != 0 {
					return true
				}
			case "s":
				if m&fs.ModeSocket != 0 {
					return true
				}
			case "c":
				if m&fs.ModeCharDevice != 0 {
					return true
				}
			case "b":
				if m&fs.ModeDevice != 0 && m&fs.ModeCharDevice == 0 {
					return true
				}
			}
		}
		return false
	case "-empty":
		if fi.IsDir() {
			des, err := os.ReadDir(p)
			return err == nil && len(des) == 0
		}
		return fi.Mode().IsRegular() && fi.Size() == 0
	case "-executable":
		return realMode(p, fi, false)&0o111 != 0
	case "-size":
		unit, _ := strconv.ParseInt(n.arg, 10, 64)
		return cmpNum(n, (fi.Size()+unit-1)/unit)
	case "-mtime", "-atime", "-ctime":
		return cmpNum(n, int64(f.start.Sub(fi.ModTime())/(24*time.Hour)))
	case "-mmin", "-amin", "-cmin":
		return cmpNum(n, int64((f.start.Sub(fi.ModTime())+time.Minute-1)/time.Minute))
	case "-newer":
		ref, err := os.Stat(n.arg)
		return err == nil && fi.ModTime().After(ref.ModTime())
	case "-perm":
		m := unixMode(realMode(p, fi, false)) & 0o7777
		a := n.arg
		kind := byte(0)
		if a != "" && (a[0] == '-' || a[0] == '/') {
			kind, a = a[0], a[1:]
		}
		want, err := parseMode(a, 0, fi.IsDir())
		if err != nil {
			return false
		}
		w := unixMode(want) & 0o7777
		switch kind {
		case '-':
			return m&w == w
		case '/':
			return w == 0 || m&w != 0
		}
		return m == w
	case "-user", "-uid", "-group", "-gid", "-links", "-inum", "-samefile", "-fstype":
		st, _ := sysStat(p, false)
		switch n.op {
		case "-uid":
			return cmpNum(n, int64(st.uid))
		case "-gid":
			return cmpNum(n, int64(st.gid))
		case "-links":
			return cmpNum(n, int64(max(st.nlink, 1)))
		case "-user":
			return n.arg == strconv.Itoa(int(st.uid)) || n.arg == lookupName("/etc/passwd", int(st.uid))
		case "-group":
			return n.arg == strconv.Itoa(int(st.gid)) || n.arg == lookupName("/etc/group", int(st.gid))
		case "-inum":
			return cmpNum(n, int64(inode(fi)))
		case "-samefile":
			o, err := os.Stat(n.arg)
			return err == nil && os.SameFile(o, fi)
		}
		return true
	case "-prune":
		f.pruned = true
		return true
	case "-quit":
		f.quit = true
		return true
	case "-print":
		f.e.stdout.WriteString(p + "\n")
		return true
	case "-print0":
		f.e.stdout.WriteString(p + "\x00")
		return true
	case "-fprint":
		return true
	case "-ls":
		fmt.Fprintf(f.e.stdout, "%s %8d %s %s\n", modeString(realMode(p, fi, false)), fi.Size(), fi.ModTime().Format("Jan _2 15:04"), p)
		return true
	case "-printf":
		f.e.stdout.WriteString(findPrintf(n.arg, p, fi, depth))
		return true
	case "-delete":
		if err := os.Remove(p); err != nil {
			f.e.errf("cannot delete '%s': %s", p, errnoText(unwrapPath(err)))
			f.status = 1
			return false
		}
		return true
	case "-exec", "-execdir", "-ok", "-okdir":
		if n.plus {
			n.batch = append(n.batch, p)
			if len(n.batch) >= 1000 {
				f.flushExec(n)
			}
			return true
		}
		argv := make([]string, len(n.exec))
		for i, a := range n.exec {
			argv[i] = strings.ReplaceAll(a, "{}", p)
		}
		wd, _ := os.Getwd()
		dir := wd
		if n.op == "-execdir" || n.op == "-okdir" {
			dir = absPath(dirname(p))
			for i, a := range n.exec {
				argv[i] = strings.ReplaceAll(a, "{}", "./"+basename(p))
			}
		}
		return spawn(f.e, argv, nil, dir, 0, 0) == 0
	}
	return false
}

func (f *finder) flushExec(n *findNode) {
	if len(n.batch) == 0 {
		return
	}
	argv := append(append([]string(nil), n.exec...), n.batch...)
	n.batch = n.batch[:0]
	wd, _ := os.Getwd()
	if spawn(f.e, argv, nil, wd, 0, 0) != 0 {
		f.status = 1
	}
}

func findPrintf(format, p string, fi fs.FileInfo, depth int) string {
	var b strings.Builder
	for i := 0; i < len(format); i++ {
		c := format[i]
		if c == '\\' && i+1 < len(format) {
			s, _ := unescape(format[i:i+2], false)
			b.WriteString(s)
			i++
			continue
		}
		if c != '%' || i+1 >= len(format) {
			b.WriteByte(c)
			continue
		}
		i++
		switch format[i] {
		case 'p':
			b.WriteString(p)
		case 'f':
			b.WriteString(basename(p))
		case 'h':
			b.WriteString(dirname(p))
		case 's':
			b.WriteString(strconv.FormatInt(fi.Size(), 10))
		case 'd':
			b.WriteString(strconv.Itoa(depth))
		case 'm':
			b.WriteString(strconv.FormatUint(uint64(unixMode(realMode(p, fi, false))&0o7777), 8))
		case 'y':
			b.WriteString(map[bool]string{true: "d", false: map[bool]string{true: "l", false: "f"}[fi.Mode()&fs.ModeSymlink != 0]}[fi.IsDir()])
		case 'T':
			if i+1 < len(format) {
				i++
				if format[i] == '@' {
					b.WriteString(strconv.FormatInt(fi.ModTime().Unix(), 10))
				}
			}
		case '%':
			b.WriteByte('%')
		default:
			b.WriteByte('%')
			b.WriteByte(format[i])
		}
	}
	return b.String()
}

func xargsCmd(e *env, args []string) int {
	g := getopt{bools: "0rtxpo", vals: "nIdLsPaE", longs: map[string]byte{"null": '0', "no-run-if-empty": 'r', "max-args": 'n', "replace": 'I', "delimiter": 'd', "verbose": 't', "max-procs": 'P', "arg-file": 'a'}, posix: true}
	if !parseOpts(e, &g, args) {
		return 1
	}
	cmd := g.args
	if len(cmd) == 0 {
		cmd = []string{"echo"}
	}
	var in io.Reader = e.stdin
	if a := g.val('a', ""); a != "" {
		f, err := os.Open(a)
		if err != nil {
			return e.fail(err)
		}
		defer f.Close()
		in = f
	}
	br := bufio.NewReaderSize(in, 64<<10)
	var items []string
	replace := g.val('I', "")
	switch {
	case g.has('0') || g.has('d'):
		delim := byte(0)
		if d := g.val('d', ""); d != "" {
			s, _ := unescape(d, false)
			if s != "" {
				delim = s[0]
			}
		}
		for {
			s, err := br.ReadString(delim)
			s = strings.TrimSuffix(s, string(delim))
			if s != "" || err == nil {
				items = append(items, s)
			}
			if err != nil {
				break
			}
		}
	case replace != "" || g.has('L'):
		_ = readLines(br, func(b []byte, _ bool) error {
			s := string(b)
			if replace != "" {
				s = strings.TrimLeft(s, " \t")
			}
			if strings.TrimSpace(s) != "" {
				items = append(items, s)
			}
			return nil
		})
	default:
		data, _ := io.ReadAll(br)
		items = splitXargs(string(data))
	}
	if eof := g.val('E', ""); eof != "" {
		for i, it := range items {
			if it == eof {
				items = items[:i]
				break
			}
		}
	}
	wd, _ := os.Getwd()
	status := 0
	runOne := func(argv []string) bool {
		if g.has('t') {
			fmt.Fprintln(e.stderr, strings.Join(argv, " "))
		}
		code := spawn(e, argv, nil, wd, spawnFlagNullStdin, 0)
		switch {
		case code == 255:
			e.errf("%s: exited with status 255; aborting", argv[0])
			status = 124
			return false
		case code == 127:
			status = 127
			return false
		case code == 126:
			status = 126
			return false
		case code > 128:
			status = 125
			return false
		case code != 0:
			status = 123
		}
		return true
	}
	if replace != "" {
		for _, it := range items {
			argv := make([]string, len(cmd))
			for i, a := range cmd {
				argv[i] = strings.ReplaceAll(a, replace, it)
			}
			if !runOne(argv) {
				break
			}
		}
		return status
	}
	if len(items) == 0 {
		if !g.has('r') {
			runOne(cmd)
		}
		return status
	}
	per := len(items)
	if n := g.val('n', g.val('L', "")); n != "" {
		per, _ = strconv.Atoi(n)
		if per <= 0 {
			per = 1
		}
	}
	for i := 0; i < len(items); i += per {
		end := min(i+per, len(items))
		argv := append(append([]string(nil), cmd...), items[i:end]...)
		if !runOne(argv) {
			break
		}
	}
	return status
}

// splitXargs splits input into words with xargs quoting rules.
func splitXargs(s string) []string {
	var out []string
	var cur strings.Builder
	in := false
	var quote byte
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case quote != 0:
			if c == quote {
				quote = 0
			} else {
				cur.WriteByte(c)
			}
		case c == '\'' || c == '"':
			quote, in = c, true
		case c == '\\' && i+1 < len(s):
			i++
			cur.WriteByte(s[i])
			in = true
		case c == ' ' || c == '\t' || c == '\n':
			if in {
				out = append(out, cur.String())
				cur.Reset()
				in = false
			}
		default:
			cur.WriteByte(c)
			in = true
		}
	}
	if in {
		out = append(out, cur.String())
	}
	return out
}
