package main

import (
	"bufio"
	"fmt"
	"io/fs"
	"os"
	"path"
	"regexp"
	"strings"
)

// breToERE converts a POSIX basic regular expression to Go (RE2) syntax:
// \( \) \{ \} \| \+ \? become operators and their bare forms literals.
func breToERE(re string) string {
	var b strings.Builder
	inBracket := false
	for i := 0; i < len(re); i++ {
		c := re[i]
		if inBracket {
			b.WriteByte(c)
			if c == ']' && !(i > 0 && (re[i-1] == '[' || re[i-1] == '^' && i > 1 && re[i-2] == '[')) {
				inBracket = false
			}
			if c == '[' && i+1 < len(re) && (re[i+1] == ':' || re[i+1] == '.' || re[i+1] == '=') {
				end := strings.Index(re[i+2:], string(re[i+1])+"]")
				if end >= 0 {
					b.WriteString(re[i+1 : i+2+end+2])
					i += end + 3
				}
			}
			continue
		}
		switch c {
		case '\\':
			if i+1 >= len(re) {
				b.WriteString(`\\`)
				continue
			}
			i++
			switch n := re[i]; n {
			case '(', ')', '{', '}', '|', '+', '?':
				b.WriteByte(n)
			case '<', '>':
				b.WriteString(`\b`)
			default:
				b.WriteByte('\\')
				b.WriteByte(n)
			}
		case '(', ')', '{', '}', '|', '+', '?':
			b.WriteByte('\\')
			b.WriteByte(c)
		case '*':
			// A leading star (or one after "^" or "\(") is literal.
			s := b.String()
			if s == "" || strings.HasSuffix(s, "^") || strings.HasSuffix(s, "(") {
				b.WriteString(`\*`)
			} else {
				b.WriteByte('*')
			}
		case '[':
			inBracket = true
			b.WriteByte(c)
			if i+1 < len(re) && re[i+1] == '^' {
				b.WriteByte('^')
				i++
			}
			if i+1 < len(re) && re[i+1] == ']' {
				b.WriteString(`\]`)
				i++
			}
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

// ereToGo adapts a POSIX extended regular expression for RE2.
func ereToGo(re string) string {
	var b strings.Builder
	inBracket := false
	for i := 0; i < len(re); i++ {
		c := re[i]
		switch {
		case inBracket:
			if c == '\\' {
				b.WriteString(`\\`)
				continue
			}
			b.WriteByte(c)
			if c == ']' {
				inBracket = false
			}
			if c == '[' && i+1 < len(re) && re[i+1] == ':' {
				if end := strings.Index(re[i+2:], ":]"); end >= 0 {
					b.WriteString(re[i+1 : i+2+end+2])
					i += end + 3
				}
			}
		case c == '[':
			inBracket = true
			b.WriteByte(c)
			if i+1 < len(re) && re[i+1] == '^' {
				b.WriteByte('^')
				i++
			}
			if i+1 < len(re) && re[i+1] == ']' {
				b.WriteString(`\]`)
				i++
			}
		case c == '\\' && i+1 < len(re) && (re[i+1] == '<' || re[i+1] == '>'):
			b.WriteString(`\b`)
			i++
		case c == '{' && (i+1 >= len(re) || re[i+1] < '0' || re[i+1] > '9') && (i+1 >= len(re) || re[i+1] != ','):
			b.WriteString(`\{`)
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

// compileRegex compiles a POSIX pattern (basic unless ere) for Go.
func compileRegex(pat string, ere, icase bool) (*regexp.Regexp, error) {
	var s string
	if ere {
		s = ereToGo(pat)
	} else {
		s = breToERE(pat)
	}
	if icase {
		s = "(?i)" + s
	}
	return regexp.Compile(s)
}

func egrepCmd(e *env, args []string) int { return grepMain(e, append([]string{"-E"}, args...)) }
func fgrepCmd(e *env, args []string) int { return grepMain(e, append([]string{"-F"}, args...)) }
func grepCmd(e *env, args []string) int  { return grepMain(e, args) }

func grepMain(e *env, args []string) int {
	g := getopt{bools: "EFGivcClLnhHqsrRwxoabzIPTUZ", vals: "efmABCd", longs: map[string]byte{
		"extended-regexp": 'E', "fixed-strings": 'F', "ignore-case": 'i', "invert-match": 'v', "count": 'c',
		"files-with-matches": 'l', "files-without-match": 'L', "line-number": 'n', "no-filename": 'h',
		"with-filename": 'H', "quiet": 'q', "silent": 'q', "no-messages": 's', "recursive": 'r',
		"word-regexp": 'w', "line-regexp": 'x', "only-matching": 'o', "regexp": 'e', "file": 'f',
		"max-count": 'm', "after-context": 'A', "before-context": 'B', "context": 'C', "text": 'a',
		"include": 'N', "exclude": 'X', "color": 'K', "colour": 'K', "null-data": 'z', "perl-regexp": 'P'}}
	g.vals += "NXK"
	if !parseOpts(e, &g, args) {
		return 2
	}
	pats := g.values['e']
	for _, f := range g.values['f'] {
		data, err := os.ReadFile(f)
		if err != nil {
			e.fail(err)
			return 2
		}
		pats = append(pats, strings.Split(strings.TrimSuffix(string(data), "\n"), "\n")...)
	}
	files := g.args
	if len(pats) == 0 {
		if len(files) == 0 {
			return e.usage("usage: grep [OPTION]... PATTERNS [FILE]...")
		}
		pats = strings.Split(files[0], "\n")
		files = files[1:]
	}
	var alts []string
	for _, p := range pats {
		var s string
		switch {
		case g.has('F'):
			s = regexp.QuoteMeta(p)
		case g.has('E') || g.has('P'):
			s = ereToGo(p)
		default:
			s = breToERE(p)
		}
		if g.has('w') {
			s = `(?:^|\b)(?:` + s + `)(?:\b|$)`
		}
		if g.has('x') {
			s = `^(?:` + s + `)$`
		}
		alts = append(alts, "(?:"+s+")")
	}
	expr := strings.Join(alts, "|")
	if g.has('i') || g.has('y') {
		expr = "(?i)" + expr
	}
	rx, err := regexp.Compile(expr)
	if err != nil {
		e.errf("invalid regular expression: %v", err)
		return 2
	}
	recursive := g.has('r') || g.has('R')
	if recursive && len(files) == 0 {
		files = []string{"."}
	}
	if recursive {
		files = expandRecursive(e, files, g.values['N'], g.values['X'])
	}
	showName := len(files) > 1 || recursive
	if g.has('h') {
		showName = false
	}
	if g.has('H') {
		showName = true
	}
	maxCount := -1
	if m := g.val('m', ""); m != "" {
		fmt.Sscan(m, &maxCount)
	}
	after, before := 0, 0
	if c := g.val('C', ""); c != "" {
		fmt.Sscan(c, &after)
		before = after
	}
	if a := g.val('A', ""); a != "" {
		fmt.Sscan(a, &after)
	}
	if b := g.val('B', ""); b != "" {
		fmt.Sscan(b, &before)
	}
	matchedAny := false
	status := 0
	quietErr := g.has('s')
	if len(files) == 0 {
		files = []string{"-"}
	}
	for _, name := range files {
		rc, err := e.openInput(name)
		if err != nil {
			if !quietErr {
				e.fail(err)
			}
			status = 2
			continue
		}
		r := e.stdin
		if name != "-" {
			r = bufio.NewReaderSize(rc, 64<<10)
		}
		disp := name
		if name == "-" {
			disp = "(standard input)"
		}
		count := 0
		lineNo := 0
		var ctx []string
		afterLeft := 0
		lastPrinted := 0
		err = readLines(r, func(b []byte, _ bool) error {
			lineNo++
			line := string(b)
			m := rx.MatchString(line) != g.has('v')
			prefix := func(sep string) string {
				p := ""
				if showName {
					p += disp + sep
				}
				if g.has('n') {
					p += fmt.Sprint(lineNo) + sep
				}
				return p
			}
			if !m {
				if afterLeft > 0 {
					e.stdout.WriteString(prefix("-") + line + "\n")
					afterLeft--
					lastPrinted = lineNo
				} else if before > 0 {
					ctx = append(ctx, line)
					if len(ctx) > before {
						ctx = ctx[1:]
					}
				}
				return nil
			}
			count++
			matchedAny = true
			if g.has('q') {
				return errStop
			}
			if g.has('l') || g.has('L') {
				return errStop
			}
			if !g.has('c') {
				if (before > 0 || after > 0) && lastPrinted > 0 && lineNo-len(ctx) > lastPrinted+1 {
					e.stdout.WriteString("--\n")
				}
				for k, c := range ctx {
					n := lineNo - len(ctx) + k
					p := ""
					if showName {
						p += disp + "-"
					}
					if g.has('n') {
						p += fmt.Sprint(n) + "-"
					}
					e.stdout.WriteString(p + c + "\n")
				}
				ctx = ctx[:0]
				if g.has('o') && !g.has('v') {
					for _, s := range rx.FindAllString(line, -1) {
						if s != "" {
							e.stdout.WriteString(prefix(":") + s + "\n")
						}
					}
				} else {
					e.stdout.WriteString(prefix(":") + line + "\n")
				}
				afterLeft = after
				lastPrinted = lineNo
			}
			if maxCount >= 0 && count >= maxCount {
				return errStop
			}
			return nil
		})
		rc.Close()
		if err != nil && err != errStop {
			if !quietErr {
				e.fail(err)
			}
			status = 2
		}
		if g.has('q') && matchedAny {
			return 0
		}
		switch {
		case g.has('c'):
			if showName {
				e.stdout.WriteString(disp + ":")
			}
			fmt.Fprintln(e.stdout, count)
		case g.has('l') && count > 0:
			e.stdout.WriteString(disp + "\n")
		case g.has('L') && count == 0:
			e.stdout.WriteString(disp + "\n")
		}
	}
	if status == 2 && !(matchedAny && quietErr) {
		return 2
	}
	if matchedAny {
		return 0
	}
	return 1
}

func expandRecursive(e *env, roots, include, exclude []string) []string {
	var out []string
	match := func(name string) bool {
		for _, x := range exclude {
			if ok, _ := path.Match(x, name); ok {
				return false
			}
		}
		if len(include) == 0 {
			return true
		}
		for _, in := range include {
			if ok, _ := path.Match(in, name); ok {
				return true
			}
		}
		return false
	}
	for _, r := range roots {
		fi, err := os.Stat(r)
		if err != nil {
			e.fail(err)
			continue
		}
		if !fi.IsDir() {
			out = append(out, r)
			continue
		}
		var walk func(dir string)
		walk = func(dir string) {
			des, err := os.ReadDir(dir)
			if err != nil {
				return
			}
			for _, de := range des {
				p := path.Join(dir, de.Name())
				if dir == "." {
					p = "./" + de.Name()
				}
				switch {
				case de.IsDir():
					walk(p)
				case de.Type()&fs.ModeType == 0 && match(de.Name()):
					out = append(out, p)
				}
			}
		}
		walk(r)
	}
	return out
}
