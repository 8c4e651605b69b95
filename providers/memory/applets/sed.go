package main

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"os"
	"regexp"
	"strconv"
	"strings"
)

// sedAddr is one address: a line number, "$", or a regex.
type sedAddr struct {
	kind byte // 'n' line, '$' last, '/' regex, 0 none
	line int
	rx   *regexp.Regexp
}

type sedCmd struct {
	a1, a2  sedAddr
	negate  bool
	name    byte
	inRange bool
	// s
	rx       *regexp.Regexp
	repl     string
	global   bool
	nth      int
	print    bool
	wfile    string
	text     string // a i c
	label    string // b t T :
	target   int    // resolved jump index
	from, to []rune // y
	blockEnd int    // for '{'
}

type sedProg struct {
	cmds []*sedCmd
	ere  bool
}

type sedParser struct {
	s   string
	i   int
	ere bool
}

func (p *sedParser) eof() bool { return p.i >= len(p.s) }
func (p *sedParser) peek() byte {
	if p.eof() {
		return 0
	}
	return p.s[p.i]
}

func (p *sedParser) skipWS() {
	for !p.eof() && (p.s[p.i] == ' ' || p.s[p.i] == '\t') {
		p.i++
	}
}

// delimited reads up to an unescaped delim, keeping escapes except \delim
// and converting \n to a newline.
func (p *sedParser) delimited(delim byte, regex bool) (string, error) {
	var b strings.Builder
	inBracket := false
	for !p.eof() {
		c := p.s[p.i]
		p.i++
		if regex && inBracket {
			b.WriteByte(c)
			if c == ']' {
				inBracket = false
			}
			continue
		}
		if c == '\\' && !p.eof() {
			n := p.s[p.i]
			p.i++
			switch {
			case n == delim:
				b.WriteByte(n)
			case n == 'n':
				b.WriteByte('\n')
			case n == 't' && regex:
				b.WriteByte('\t')
			default:
				b.WriteByte('\\')
				b.WriteByte(n)
			}
			continue
		}
		if c == delim {
			return b.String(), nil
		}
		if regex && c == '[' {
			inBracket = true
			b.WriteByte(c)
			if p.peek() == '^' {
				b.WriteByte('^')
				p.i++
			}
			if p.peek() == ']' {
				b.WriteByte(']')
				p.i++
			}
			continue
		}
		if c == '\n' && !regex {
			b.WriteByte(c)
			continue
		}
		b.WriteByte(c)
	}
	return "", fmt.Errorf("unterminated `s' command")
}

func (p *sedParser) regex(pat string, flags string) (*regexp.Regexp, error) {
	var s string
	if p.ere {
		s = ereToGo(pat)
	} else {
		s = breToERE(pat)
	}
	prefix := "(?s"
	if strings.ContainsAny(flags, "Ii") {
		prefix += "i"
	}
	if strings.Contains(flags, "M") {
		prefix += "m"
	}
	return regexp.Compile(prefix + ")" + s)
}

func (p *sedParser) addr() (sedAddr, error) {
	switch c := p.peek(); {
	case c >= '0' && c <= '9':
		j := p.i
		for !p.eof() && p.s[p.i] >= '0' && p.s[p.i] <= '9' {
			p.i++
		}
		n, _ := strconv.Atoi(p.s[j:p.i])
		return sedAddr{kind: 'n', line: n}, nil
	case c == '$':
		p.i++
		return sedAddr{kind: '$'}, nil
	case c == '/' || c == '\\':
		p.i++
		delim := byte('/')
		if c == '\\' {
			delim = p.s[p.i]
			p.i++
		}
		pat, err := p.delimited(delim, true)
		if err != nil {
			return sedAddr{}, fmt.Errorf("unterminated address regex")
		}
		flags := ""
		for p.peek() == 'I' || p.peek() == 'M' {
			flags += string(p.peek())
			p.i++
		}
		rx, err := p.regex(pat, flags)
		if err != nil {
			return sedAddr{}, err
		}
		return sedAddr{kind: '/', rx: rx}, nil
	}
	return sedAddr{}, nil
}

// text reads the argument of a, i, c: "a\" newline text, or "a text".
func (p *sedParser) text() string {
	p.skipWS()
	if p.peek() == '\\' {
		p.i++
		if p.peek() == '\n' {
			p.i++
		}
	}
	var b strings.Builder
	for !p.eof() {
		c := p.s[p.i]
		if c == '\\' && p.i+1 < len(p.s) {
			p.i++
			n := p.s[p.i]
			p.i++
			if n == 'n' {
				b.WriteByte('\n')
			} else {
				b.WriteByte(n)
			}
			continue
		}
		if c == '\n' {
			break
		}
		b.WriteByte(c)
		p.i++
	}
	return b.String()
}

func (p *sedParser) label() string {
	p.skipWS()
	j := p.i
	for !p.eof() && p.s[p.i] != '\n' && p.s[p.i] != ';' && p.s[p.i] != '}' {
		p.i++
	}
	return strings.TrimSpace(p.s[j:p.i])
}

func parseSed(script string, ere bool) (*sedProg, error) {
	p := &sedParser{s: script, ere: ere}
	prog := &sedProg{ere: ere}
	var blocks []int
	for {
		for !p.eof() && strings.IndexByte(" \t\n;", p.peek()) >= 0 {
			p.i++
		}
		if p.eof() {
			break
		}
		if p.peek() == '#' {
			for !p.eof() && p.peek() != '\n' {
				p.i++
			}
			continue
		}
		c := &sedCmd{}
		var err error
		if c.a1, err = p.addr(); err != nil {
			return nil, err
		}
		if c.a1.kind != 0 && p.peek() == ',' {
			p.i++
			if c.a2, err = p.addr(); err != nil {
				return nil, err
			}
			if c.a2.kind == 0 {
				return nil, fmt.Errorf("unexpected `,'")
			}
		}
		p.skipWS()
		for p.peek() == '!' {
			c.negate = true
			p.i++
			p.skipWS()
		}
		if p.eof() {
			return nil, fmt.Errorf("missing command")
		}
		c.name = p.s[p.i]
		p.i++
		switch c.name {
		case '{':
			blocks = append(blocks, len(prog.cmds))
		case '}':
			if len(blocks) == 0 {
				return nil, fmt.Errorf("unexpected `}'")
			}
			prog.cmds[blocks[len(blocks)-1]].blockEnd = len(prog.cmds) + 1
			blocks = blocks[:len(blocks)-1]
		case 's':
			delim := p.peek()
			p.i++
			pat, err := p.delimited(delim, true)
			if err != nil {
				return nil, err
			}
			repl, err := p.delimited(delim, false)
			if err != nil {
				return nil, err
			}
			c.repl = repl
			flags := ""
			for !p.eof() && strings.IndexByte("gpiIme0123456789w", p.peek()) >= 0 {
				f := p.peek()
				p.i++
				switch {
				case f == 'g':
					c.global = true
				case f == 'p':
					c.print = true
				case f >= '0' && f <= '9':
					c.nth = c.nth*10 + int(f-'0')
				case f == 'w':
					c.wfile = p.label()
				default:
					flags += string(f)
				}
			}
			if strings.Contains(flags, "m") {
				flags += "M"
			}
			if c.rx, err = p.regex(pat, flags); err != nil {
				return nil, err
			}
		case 'y':
			delim := p.peek()
			p.i++
			from, err := p.delimited(delim, false)
			if err != nil {
				return nil, err
			}
			to, err := p.delimited(delim, false)
			if err != nil {
				return nil, err
			}
			c.from, c.to = []rune(from), []rune(to)
			if len(c.from) != len(c.to) {
				return nil, fmt.Errorf("strings for `y' command are different lengths")
			}
		case 'a', 'i', 'c':
			c.text = p.text()
		case 'b', 't', 'T', ':':
			c.label = p.label()
		case 'r', 'R', 'w', 'W':
			c.wfile = p.label()
		case 'q', 'Q', 'l':
			p.skipWS()
			j := p.i
			for !p.eof() && p.s[p.i] >= '0' && p.s[p.i] <= '9' {
				p.i++
			}
			c.nth, _ = strconv.Atoi(p.s[j:p.i])
		case '=', 'd', 'D', 'g', 'G', 'h', 'H', 'n', 'N', 'p', 'P', 'x', 'z':
		default:
			return nil, fmt.Errorf("unknown command: `%c'", c.name)
		}
		prog.cmds = append(prog.cmds, c)
	}
	if len(blocks) > 0 {
		return nil, fmt.Errorf("unmatched `{'")
	}
	labels := map[string]int{}
	for i, c := range prog.cmds {
		if c.name == ':' {
			labels[c.label] = i
		}
	}
	for _, c := range prog.cmds {
		if c.name == 'b' || c.name == 't' || c.name == 'T' {
			if c.label == "" {
				c.target = len(prog.cmds)
			} else if t, ok := labels[c.label]; ok {
				c.target = t
			} else {
				return nil, fmt.Errorf("can't find label for jump to `%s'", c.label)
			}
		}
	}
	return prog, nil
}

// expandRepl builds the replacement for one match.
func expandRepl(repl string, src string, m []int) string {
	var b strings.Builder
	caseMode := byte(0)
	oneShot := byte(0)
	write := func(s string) {
		for _, r := range s {
			switch {
			case oneShot == 'u':
				s := strings.ToUpper(string(r))
				b.WriteString(s)
				oneShot = 0
				continue
			case oneShot == 'l':
				b.WriteString(strings.ToLower(string(r)))
				oneShot = 0
				continue
			case caseMode == 'U':
				b.WriteString(strings.ToUpper(string(r)))
			case caseMode == 'L':
				b.WriteString(strings.ToLower(string(r)))
			default:
				b.WriteRune(r)
			}
		}
	}
	for i := 0; i < len(repl); i++ {
		c := repl[i]
		switch {
		case c == '&':
			write(src[m[0]:m[1]])
		case c == '\\' && i+1 < len(repl):
			i++
			n := repl[i]
			switch {
			case n >= '0' && n <= '9':
				k := int(n - '0')
				if 2*k+1 < len(m) && m[2*k] >= 0 {
					write(src[m[2*k]:m[2*k+1]])
				}
			case n == 'n':
				b.WriteByte('\n')
			case n == 't':
				b.WriteByte('\t')
			case n == 'U' || n == 'L':
				caseMode = n
			case n == 'E':
				caseMode = 0
			case n == 'u' || n == 'l':
				oneShot = n
			default:
				write(string(n))
			}
		default:
			write(string(c))
		}
	}
	return b.String()
}

type sedRun struct {
	e       *env
	prog    *sedProg
	quiet   bool
	out     *bufio.Writer
	in      *sedInput
	hold    string
	appendQ []string
	lineNo  int
	wfiles  map[string]*os.File
}

// sedInput yields lines across all input files with look-ahead for "$".
type sedInput struct {
	e     *env
	names []string
	cur   *bufio.Reader
	close io.Closer
	next  *string
	nextN bool
	err   error
	sep   bool // each file has its own last line (-i / -s)
}

func (si *sedInput) open() bool {
	for si.cur == nil {
		if len(si.names) == 0 {
			return false
		}
		n := si.names[0]
		si.names = si.names[1:]
		rc, err := si.e.openInput(n)
		if err != nil {
			si.e.fail(err)
			si.err = err
			continue
		}
		si.close = rc
		if n == "-" {
			si.cur = si.e.stdin
		} else {
			si.cur = bufio.NewReaderSize(rc, 64<<10)
		}
	}
	return true
}

func (si *sedInput) fetch() (string, bool, bool) {
	for si.open() {
		s, err := si.cur.ReadString('\n')
		if len(s) > 0 {
			nl := strings.HasSuffix(s, "\n")
			return strings.TrimSuffix(s, "\n"), nl, true
		}
		if err != nil {
			si.close.Close()
			si.cur = nil
			if si.sep {
				return "", false, false
			}
		}
	}
	return "", false, false
}

func (si *sedInput) read() (string, bool, bool) {
	if si.next != nil {
		s, nl := *si.next, si.nextN
		si.next = nil
		return s, nl, true
	}
	return si.fetch()
}

func (si *sedInput) isLast() bool {
	if si.next != nil {
		return false
	}
	s, nl, ok := si.fetch()
	if !ok {
		return true
	}
	si.next, si.nextN = &s, nl
	return false
}

func (r *sedRun) matchAddr(a sedAddr, line string) bool {
	switch a.kind {
	case 'n':
		return r.lineNo == a.line
	case '$':
		return r.in.isLast()
	case '/':
		return a.rx.MatchString(line)
	}
	return true
}

func (r *sedRun) selected(c *sedCmd, ps string) bool {
	if c.a1.kind == 0 {
		return !c.negate
	}
	var m bool
	if c.a2.kind == 0 {
		m = r.matchAddr(c.a1, ps)
	} else if c.inRange {
		switch {
		case c.a2.kind == 'n':
			if r.lineNo >= c.a2.line {
				c.inRange = false
			}
			m = true
		default:
			if r.matchAddr(c.a2, ps) {
				c.inRange = false
			}
			m = true
		}
	} else if r.matchAddr(c.a1, ps) {
		m = true
		c.inRange = true
		if c.a2.kind == 'n' && c.a2.line <= r.lineNo {
			c.inRange = false
		}
	}
	return m != c.negate
}

func (r *sedRun) wfile(name string) io.Writer {
	switch name {
	case "/dev/stdout":
		return r.out
	case "/dev/stderr":
		return r.e.stderr
	}
	if f, ok := r.wfiles[name]; ok {
		return f
	}
	f, err := os.Create(name)
	if err != nil {
		r.e.fail(err)
		return io.Discard
	}
	r.wfiles[name] = f
	return f
}

// cycle runs the script over the input; returns exit code and whether to quit.
func (r *sedRun) run() (int, error) {
	var ps string
	var hadNL bool
	for {
		line, nl, ok := r.in.read()
		if !ok {
			return 0, nil
		}
		r.lineNo++
		ps, hadNL = line, nl
	restart:
		deleted := false
		subst := false
		quit, code := false, 0
		autoprint := !r.quiet
		for pc := 0; pc < len(r.prog.cmds); pc++ {
			c := r.prog.cmds[pc]
			if c.name == '}' || c.name == ':' {
				continue
			}
			if !r.selected(c, ps) {
				if c.name == '{' {
					pc = c.blockEnd - 1
				}
				continue
			}
			switch c.name {
			case '{':
			case '=':
				fmt.Fprintf(r.out, "%d\n", r.lineNo)
			case 'a':
				r.appendQ = append(r.appendQ, c.text+"\n")
			case 'i':
				r.out.WriteString(c.text + "\n")
			case 'c':
				if c.a2.kind == 0 || !c.inRange {
					r.out.WriteString(c.text + "\n")
				}
				deleted = true
			case 'd':
				deleted = true
			case 'D':
				if k := strings.IndexByte(ps, '\n'); k >= 0 {
					ps = ps[k+1:]
					r.flushAppend()
					goto restart
				}
				deleted = true
			case 'g':
				ps = r.hold
			case 'G':
				ps += "\n" + r.hold
			case 'h':
				r.hold = ps
			case 'H':
				r.hold += "\n" + ps
			case 'x':
				ps, r.hold = r.hold, ps
			case 'l':
				r.out.WriteString(strconv.Quote(ps) + "$\n")
			case 'n':
				if autoprint {
					r.emit(ps, hadNL)
				}
				r.flushAppend()
				line, nl, ok := r.in.read()
				if !ok {
					return 0, nil
				}
				r.lineNo++
				ps, hadNL = line, nl
			case 'N':
				line, nl, ok := r.in.read()
				if !ok {
					if autoprint {
						r.emit(ps, hadNL)
					}
					r.flushAppend()
					return 0, nil
				}
				r.lineNo++
				ps += "\n" + line
				hadNL = nl
			case 'p':
				r.out.WriteString(ps + "\n")
			case 'P':
				first, _, _ := strings.Cut(ps, "\n")
				r.out.WriteString(first + "\n")
			case 'q':
				quit, code = true, c.nth
			case 'Q':
				return c.nth, nil
			case 'r':
				if data, err := os.ReadFile(c.wfile); err == nil {
					r.appendQ = append(r.appendQ, string(data))
				}
			case 'w':
				io.WriteString(r.wfile(c.wfile), ps+"\n")
			case 's':
				var did bool
				ps, did = sedSubst(c, ps)
				if did {
					subst = true
					if c.print {
						r.out.WriteString(ps + "\n")
					}
					if c.wfile != "" {
						io.WriteString(r.wfile(c.wfile), ps+"\n")
					}
				}
			case 't':
				if subst {
					subst = false
					pc = c.target - 1
				}
			case 'T':
				if !subst {
					pc = c.target - 1
				} else {
					subst = false
				}
			case 'b':
				pc = c.target - 1
			case 'y':
				rs := []rune(ps)
				for i, ch := range rs {
					for k, f := range c.from {
						if ch == f {
							rs[i] = c.to[k]
							break
						}
					}
				}
				ps = string(rs)
			case 'z':
				ps = ""
			}
			if deleted || quit {
				break
			}
		}
		if !deleted && autoprint {
			r.emit(ps, hadNL)
		}
		r.flushAppend()
		if quit {
			return code, errStop
		}
	}
}

func (r *sedRun) emit(ps string, nl bool) {
	r.out.WriteString(ps)
	if nl || !r.in.isLast() {
		r.out.WriteByte('\n')
	}
}

func (r *sedRun) flushAppend() {
	for _, s := range r.appendQ {
		r.out.WriteString(s)
	}
	r.appendQ = r.appendQ[:0]
}

func sedSubst(c *sedCmd, ps string) (string, bool) {
	ms := c.rx.FindAllStringSubmatchIndex(ps, -1)
	if len(ms) == 0 {
		return ps, false
	}
	var b strings.Builder
	last := 0
	did := false
	for k, m := range ms {
		n := k + 1
		if c.nth > 0 && n < c.nth {
			continue
		}
		if !c.global && did {
			break
		}
		b.WriteString(ps[last:m[0]])
		b.WriteString(expandRepl(c.repl, ps, m))
		last = m[1]
		did = true
		if !c.global {
			break
		}
	}
	if !did {
		return ps, false
	}
	b.WriteString(ps[last:])
	return b.String(), true
}

func sedCmdMain(e *env, args []string) int { return sedCmd0(e, args) }

func sedCmd0(e *env, args []string) int {
	var scripts []string
	var files []string
	quiet, ere, inPlace, sep := false, false, false, false
	suffix := ""
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch {
		case a == "--":
			files = append(files, args[i+1:]...)
			i = len(args)
		case a == "-n" || a == "--quiet" || a == "--silent":
			quiet = true
		case a == "-E" || a == "-r" || a == "--regexp-extended":
			ere = true
		case a == "-s" || a == "--separate":
			sep = true
		case a == "-u" || a == "--unbuffered":
		case a == "-e" || a == "--expression":
			if i+1 >= len(args) {
				return e.usage("option requires an argument -- 'e'")
			}
			i++
			scripts = append(scripts, args[i])
		case strings.HasPrefix(a, "--expression="):
			scripts = append(scripts, a[len("--expression="):])
		case a == "-f" || a == "--file":
			if i+1 >= len(args) {
				return e.usage("option requires an argument -- 'f'")
			}
			i++
			data, err := os.ReadFile(args[i])
			if err != nil {
				return e.fail(err)
			}
			scripts = append(scripts, strings.TrimSuffix(string(data), "\n"))
		case strings.HasPrefix(a, "-i") || strings.HasPrefix(a, "--in-place"):
			inPlace, sep = true, true
			suffix = strings.TrimPrefix(strings.TrimPrefix(a, "--in-place"), "-i")
			suffix = strings.TrimPrefix(suffix, "=")
		case len(a) > 1 && a[0] == '-' && strings.Trim(a[1:], "nEsru") == "":
			for _, c := range a[1:] {
				switch c {
				case 'n':
					quiet = true
				case 'E', 'r':
					ere = true
				case 's':
					sep = true
				}
			}
		case len(a) > 2 && a[0] == '-' && strings.HasSuffix(a, "e") && strings.Trim(a[1:len(a)-1], "nEsr") == "" && i+1 < len(args):
			for _, c := range a[1 : len(a)-1] {
				switch c {
				case 'n':
					quiet = true
				case 'E', 'r':
					ere = true
				}
			}
			i++
			scripts = append(scripts, args[i])
		case len(a) > 1 && a[0] == '-' && a != "-":
			return e.usage("invalid option -- '%s'", a[1:])
		default:
			files = append(files, a)
		}
	}
	if len(scripts) == 0 {
		if len(files) == 0 {
			return e.usage("no script specified")
		}
		scripts, files = files[:1], files[1:]
	}
	prog, err := parseSed(strings.Join(scripts, "\n"), ere)
	if err != nil {
		e.errf("-e expression #1: %v", err)
		return 1
	}
	if !inPlace {
		if len(files) == 0 {
			files = []string{"-"}
		}
		r := &sedRun{e: e, prog: prog, quiet: quiet, out: e.stdout, wfiles: map[string]*os.File{}}
		r.in = &sedInput{e: e, names: files, sep: sep}
		code, _ := r.run()
		for _, f := range r.wfiles {
			f.Close()
		}
		if r.in.err != nil && code == 0 {
			code = 2
		}
		return code
	}
	status := 0
	for _, name := range files {
		fi, err := os.Stat(name)
		if err != nil {
			e.fail(err)
			status = 4
			continue
		}
		var buf bytes.Buffer
		out := bufio.NewWriter(&buf)
		for _, c := range prog.cmds {
			c.inRange = false
		}
		r := &sedRun{e: e, prog: prog, quiet: quiet, out: out, wfiles: map[string]*os.File{}}
		r.in = &sedInput{e: e, names: []string{name}, sep: true}
		_, stopErr := r.run()
		out.Flush()
		for _, f := range r.wfiles {
			f.Close()
		}
		if suffix != "" {
			backup := name + suffix
			if strings.Contains(suffix, "*") {
				backup = strings.ReplaceAll(suffix, "*", basename(name))
				if !strings.Contains(backup, "/") {
					backup = dirname(name) + "/" + backup
				}
			}
			if data, err := os.ReadFile(name); err == nil {
				_ = os.WriteFile(backup, data, 0o644)
			}
		}
		if err := os.WriteFile(name, buf.Bytes(), fi.Mode()); err != nil {
			e.fail(err)
			status = 4
		}
		if stopErr != nil {
			break
		}
	}
	return status
}
