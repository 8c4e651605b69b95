package main

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/bits"
	"math/rand/v2"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// countArg parses head/tail's -n/-c value: "N", "-N", "+N" and suffixes.
func countArg(s string) (n int64, plus, minus bool, err error) {
	switch {
	case strings.HasPrefix(s, "+"):
		plus, s = true, s[1:]
	case strings.HasPrefix(s, "-"):
		minus, s = true, s[1:]
	}
	n, err = parseSize(s)
	return
}

// legacyCount rewrites "-5" into "-n 5" for head and tail.
func legacyCount(args []string) []string {
	if len(args) > 0 && len(args[0]) > 1 && args[0][0] == '-' && args[0][1] >= '0' && args[0][1] <= '9' {
		return append([]string{"-n", args[0][1:]}, args[1:]...)
	}
	if len(args) > 0 && len(args[0]) > 1 && args[0][0] == '+' && args[0][1] >= '0' && args[0][1] <= '9' {
		return append([]string{"-n", args[0]}, args[1:]...)
	}
	return args
}

func headCmd(e *env, args []string) int {
	g := getopt{bools: "qv", vals: "nc", longs: map[string]byte{"lines": 'n', "bytes": 'c', "quiet": 'q', "silent": 'q', "verbose": 'v'}}
	if !parseOpts(e, &g, legacyCount(args)) {
		return 1
	}
	lines, byBytes := int64(10), false
	var minus bool
	var err error
	if c := g.val('c', ""); c != "" {
		byBytes = true
		lines, _, minus, err = countArg(c)
	} else if n := g.val('n', ""); n != "" {
		lines, _, minus, err = countArg(n)
	}
	if err != nil {
		return e.usage("invalid number of lines")
	}
	multi := len(g.args) > 1 && !g.has('q') || g.has('v')
	first := true
	return e.eachInput(g.args, func(name string, r *bufio.Reader) error {
		if multi {
			if !first {
				e.stdout.WriteByte('\n')
			}
			fmt.Fprintf(e.stdout, "==> %s <==\n", displayName(name))
		}
		first = false
		if byBytes {
			if minus {
				data, err := io.ReadAll(r)
				if int64(len(data)) > lines {
					e.stdout.Write(data[:int64(len(data))-lines])
				}
				return err
			}
			_, err := io.CopyN(e.stdout, r, lines)
			if err == io.EOF {
				err = nil
			}
			return err
		}
		if minus {
			var buf [][]byte
			err := readLines(r, func(line []byte, nl bool) error {
				buf = append(buf, append(append([]byte(nil), line...), '\n'))
				if int64(len(buf)) > lines {
					e.stdout.Write(buf[0])
					buf = buf[1:]
				}
				return nil
			})
			return err
		}
		var n int64
		for n < lines {
			line, err := r.ReadSlice('\n')
			e.stdout.Write(line)
			if err == bufio.ErrBufferFull {
				continue
			}
			if err != nil {
				if err == io.EOF {
					return nil
				}
				return err
			}
			n++
		}
		return nil
	})
}

func displayName(n string) string {
	if n == "-" {
		return "standard input"
	}
	return n
}

func tailCmd(e *env, args []string) int {
	g := getopt{bools: "fFqvr", vals: "ncs", longs: map[string]byte{"lines": 'n', "bytes": 'c', "follow": 'f', "quiet": 'q', "retry": 'F', "sleep-interval": 's', "pid": 'p'}}
	if !parseOpts(e, &g, legacyCount(args)) {
		return 1
	}
	count, byBytes, plus := int64(10), false, false
	var err error
	if c := g.val('c', ""); c != "" {
		byBytes = true
		count, plus, _, err = countArg(c)
	} else if n := g.val('n', ""); n != "" {
		count, plus, _, err = countArg(n)
	}
	if err != nil {
		return e.usage("invalid number of lines")
	}
	follow := g.has('f') || g.has('F')
	multi := len(g.args) > 1 && !g.has('q') || g.has('v')
	first := true
	status := e.eachInput(g.args, func(name string, r *bufio.Reader) error {
		if multi {
			if !first {
				e.stdout.WriteByte('\n')
			}
			fmt.Fprintf(e.stdout, "==> %s <==\n", displayName(name))
		}
		first = false
		if follow && name == "/dev/null" {
			return nil
		}
		if plus {
			skip := count - 1
			if byBytes {
				_, err := io.CopyN(io.Discard, r, max(skip, 0))
				if err != nil && err != io.EOF {
					return err
				}
			} else {
				for i := int64(0); i < skip; i++ {
					if _, err := r.ReadBytes('\n'); err != nil {
						return nil
					}
				}
			}
			_, err := r.WriteTo(e.stdout)
			return err
		}
		if byBytes {
			data, err := io.ReadAll(r)
			if int64(len(data)) > count {
				data = data[int64(len(data))-count:]
			}
			e.stdout.Write(data)
			return err
		}
		ring := make([][]byte, 0, min(count, 4096))
		err := readLines(r, func(line []byte, nl bool) error {
			l := append([]byte(nil), line...)
			if nl {
				l = append(l, '\n')
			}
			if count == 0 {
				return nil
			}
			if int64(len(ring)) == count {
				copy(ring, ring[1:])
				ring[len(ring)-1] = l
			} else {
				ring = append(ring, l)
			}
			return nil
		})
		for _, l := range ring {
			e.stdout.Write(l)
		}
		return err
	})
	if !follow {
		return status
	}
	_ = e.flush()
	if len(g.args) == 0 || len(g.args) == 1 && (g.args[0] == "/dev/null" || g.args[0] == "-") {
		// Nothing can ever arrive: wait until stopped.
		sleepFor(1<<63 - 1)
		return status
	}
	return e.follow(g.args[len(g.args)-1])
}

// follow polls name for growth, printing what is appended, until killed.
func (e *env) follow(name string) int {
	var off int64
	if fi, err := os.Stat(name); err == nil {
		off = fi.Size()
	}
	buf := make([]byte, 32<<10)
	for {
		time.Sleep(200 * time.Millisecond)
		fi, err := os.Stat(name)
		if err != nil {
			continue
		}
		if fi.Size() < off {
			e.errf("%s: file truncated", name)
			off = 0
		}
		if fi.Size() == off {
			continue
		}
		f, err := os.Open(name)
		if err != nil {
			continue
		}
		for {
			n, err := f.ReadAt(buf, off)
			e.stdout.Write(buf[:n])
			off += int64(n)
			if err != nil || n == 0 {
				break
			}
		}
		f.Close()
		_ = e.flush()
	}
}

// countNewlines counts '\n' in b eight bytes at a time: WebAssembly has
// no vector instructions, and Go's bytes.Count falls back to a byte loop
// there, several times slower than this.
func countNewlines(b []byte) int {
	const ones, highs = 0x0101010101010101, 0x8080808080808080
	const nl = ones * '\n'
	n := 0
	for len(b) >= 8 {
		x := binary.LittleEndian.Uint64(b) ^ nl // zero bytes where '\n' was
		// Exact zero-byte mask: high bit set for each zero byte.
		y := ^(((x & ^uint64(highs)) + ^uint64(highs)) | x | ^uint64(highs))
		n += bits.OnesCount64(y)
		b = b[8:]
	}
	for _, c := range b {
		if c == '\n' {
			n++
		}
	}
	return n
}

func wcCmd(e *env, args []string) int {
	g := getopt{bools: "lwcmL", longs: map[string]byte{"lines": 'l', "words": 'w', "bytes": 'c', "chars": 'm'}}
	if !parseOpts(e, &g, args) {
		return 1
	}
	l, w, c, m := g.has('l'), g.has('w'), g.has('c'), g.has('m')
	if !l && !w && !c && !m {
		l, w, c = true, true, true
	}
	var tl, tw, tc, tm int64
	var rows [][4]int64
	var names []string
	status := e.eachInput(g.args, func(name string, r *bufio.Reader) error {
		var nl, nw, nc, nm int64
		if c && !l && !w && !m && name != "-" {
			// Only bytes of a regular file: its size, as GNU wc does.
			if fi, err := os.Stat(name); err == nil && fi.Mode().IsRegular() {
				rows = append(rows, [4]int64{0, 0, 0, fi.Size()})
				names = append(names, name)
				tc += fi.Size()
				return nil
			}
		}
		inWord := false
		buf := make([]byte, 256<<10)
		for {
			n, err := r.Read(buf)
			chunk := buf[:n]
			nc += int64(n)
			nl += int64(countNewlines(chunk))
			if m {
				nm += int64(utf8.RuneCount(chunk))
			}
			if w {
				for _, b := range chunk {
					sp := b == ' ' || b == '\n' || b == '\t' || b == '\r' || b == '\v' || b == '\f'
					if !sp && !inWord {
						nw++
					}
					inWord = !sp
				}
			}
			if err == io.EOF {
				break
			}
			if err != nil {
				return err
			}
		}
		rows = append(rows, [4]int64{nl, nw, nm, nc})
		names = append(names, name)
		tl, tw, tm, tc = tl+nl, tw+nw, tm+nm, tc+nc
		return nil
	})
	if len(names) > 1 {
		rows = append(rows, [4]int64{tl, tw, tm, tc})
		names = append(names, "total")
	}
	sel := []bool{l, w, m, c}
	nsel := 0
	for _, s := range sel {
		if s {
			nsel++
		}
	}
	width := 1
	if nsel > 1 || len(names) > 1 {
		width = 7
		if len(g.args) > 0 {
			width = max(1, len(strconv.FormatInt(max(tc, tl), 10)))
		}
	}
	for i, row := range rows {
		var parts []string
		for k, s := range sel {
			if s {
				parts = append(parts, fmt.Sprintf("%*d", width, row[k]))
			}
		}
		line := strings.Join(parts, " ")
		if names[i] != "-" {
			line += " " + names[i]
		}
		e.stdout.WriteString(line + "\n")
	}
	return status
}

// readAllLines collects the lines of all inputs.
func (e *env) readAllLines(names []string, sep byte) ([]string, int) {
	var lines []string
	status := e.eachInput(names, func(_ string, r *bufio.Reader) error {
		for {
			s, err := r.ReadString(sep)
			if len(s) > 0 {
				lines = append(lines, strings.TrimSuffix(s, string(sep)))
			}
			if err == io.EOF {
				return nil
			}
			if err != nil {
				return err
			}
		}
	})
	return lines, status
}

type sortKey struct {
	startField, startChar, endField, endChar int
	numeric, reverse, fold, human, general   bool
}

func sortCmd(e *env, args []string) int {
	g := getopt{bools: "rnufbsVhcCgzdMR", vals: "kto", longs: map[string]byte{"reverse": 'r', "numeric-sort": 'n', "unique": 'u', "ignore-case": 'f', "key": 'k', "field-separator": 't', "output": 'o', "stable": 's', "version-sort": 'V', "human-numeric-sort": 'h', "check": 'c', "zero-terminated": 'z', "general-numeric-sort": 'g', "random-sort": 'R'}}
	if !parseOpts(e, &g, args) {
		return 2
	}
	sep := byte('\n')
	if g.has('z') {
		sep = 0
	}
	lines, status := e.readAllLines(g.args, sep)
	tab := g.val('t', "")
	global := sortKey{numeric: g.has('n'), reverse: g.has('r'), fold: g.has('f'), human: g.has('h'), general: g.has('g')}
	var keys []sortKey
	for _, k := range g.values['k'] {
		sk := global
		sk.reverse = false
		spec, opts := k, ""
		// Options may follow each position: "2,3n" or "2n,3".
		clean := strings.Map(func(r rune) rune {
			if unicode.IsLetter(r) {
				opts += string(r)
				return -1
			}
			return r
		}, spec)
		start, end, _ := strings.Cut(clean, ",")
		sf, sc, _ := strings.Cut(start, ".")
		sk.startField, _ = strconv.Atoi(sf)
		sk.startChar, _ = strconv.Atoi(sc)
		if end != "" {
			ef, ec, _ := strings.Cut(end, ".")
			sk.endField, _ = strconv.Atoi(ef)
			sk.endChar, _ = strconv.Atoi(ec)
		}
		for _, o := range opts {
			switch o {
			case 'n':
				sk.numeric = true
			case 'r':
				sk.reverse = true
			case 'f':
				sk.fold = true
			case 'h':
				sk.human = true
			case 'g':
				sk.general = true
			}
		}
		keys = append(keys, sk)
	}
	if len(keys) == 0 {
		keys = []sortKey{global}
		keys[0].reverse = false
	}
	cmp := func(a, b string) int {
		for _, k := range keys {
			ka, kb := a, b
			if k.startField > 0 {
				ka, kb = keyField(a, tab, k), keyField(b, tab, k)
			}
			var c int
			switch {
			case k.numeric || k.general || k.human:
				c = compareNum(ka, kb, k.human)
			case k.fold:
				c = strings.Compare(strings.ToLower(ka), strings.ToLower(kb))
			default:
				c = strings.Compare(ka, kb)
			}
			if k.reverse {
				c = -c
			}
			if c != 0 {
				return c
			}
		}
		if g.has('s') || g.has('u') {
			return 0
		}
		return strings.Compare(a, b)
	}
	final := func(a, b string) int {
		c := cmp(a, b)
		if g.has('r') {
			c = -c
		}
		return c
	}
	if g.has('c') || g.has('C') {
		for i := 1; i < len(lines); i++ {
			if final(lines[i-1], lines[i]) > 0 {
				if !g.has('C') {
					e.errf("-:%d: disorder: %s", i+1, lines[i])
				}
				return 1
			}
		}
		return 0
	}
	if g.has('R') {
		rand.Shuffle(len(lines), func(i, j int) { lines[i], lines[j] = lines[j], lines[i] })
	} else {
		sort.SliceStable(lines, func(i, j int) bool { return final(lines[i], lines[j]) < 0 })
	}
	out := e.stdout
	var of *os.File
	if o := g.val('o', ""); o != "" {
		f, err := os.Create(o)
		if err != nil {
			return e.fail(err)
		}
		of = f
		out = bufio.NewWriter(f)
	}
	for i, l := range lines {
		if g.has('u') && i > 0 && cmp(lines[i-1], l) == 0 {
			continue
		}
		out.WriteString(l)
		out.WriteByte(sep)
	}
	if of != nil {
		out.Flush()
		of.Close()
	}
	return status
}

func splitFields(s, tab string) []string {
	if tab != "" {
		return strings.Split(s, tab)
	}
	// Blank-separated fields keep their leading blanks, as in sort(1).
	var out []string
	i := 0
	for i < len(s) {
		j := i
		for j < len(s) && (s[j] == ' ' || s[j] == '\t') {
			j++
		}
		for j < len(s) && s[j] != ' ' && s[j] != '\t' {
			j++
		}
		out = append(out, s[i:j])
		i = j
	}
	return out
}

func keyField(s, tab string, k sortKey) string {
	f := splitFields(s, tab)
	if k.startField > len(f) {
		return ""
	}
	end := len(f)
	if k.endField > 0 && k.endField < end {
		end = k.endField
	}
	if end < k.startField {
		return ""
	}
	key := strings.Join(f[k.startField-1:end], tab)
	if tab == "" {
		key = strings.TrimLeft(key, " \t")
	}
	if k.startChar > 1 && k.startChar-1 <= len(key) {
		key = key[k.startChar-1:]
	}
	return key
}

func compareNum(a, b string, human bool) int {
	x, y := numPrefix(a, human), numPrefix(b, human)
	switch {
	case x < y:
		return -1
	case x > y:
		return 1
	}
	return 0
}

func numPrefix(s string, human bool) float64 {
	s = strings.TrimSpace(s)
	i := 0
	if i < len(s) && (s[i] == '-' || s[i] == '+') {
		i++
	}
	for i < len(s) && (s[i] >= '0' && s[i] <= '9' || s[i] == '.') {
		i++
	}
	f, _ := strconv.ParseFloat(s[:i], 64)
	if human && i < len(s) {
		if k := strings.IndexByte("KMGTPE", s[i]); k >= 0 {
			for ; k >= 0; k-- {
				f *= 1024
			}
		}
	}
	return f
}

func uniqCmd(e *env, args []string) int {
	g := getopt{bools: "cdDuiz", vals: "fsw", longs: map[string]byte{"count": 'c', "repeated": 'd', "unique": 'u', "ignore-case": 'i', "skip-fields": 'f', "skip-chars": 's', "check-chars": 'w'}}
	if !parseOpts(e, &g, args) {
		return 1
	}
	in := g.args
	if len(in) > 1 {
		in = in[:1]
	}
	skipF, _ := strconv.Atoi(g.val('f', "0"))
	skipC, _ := strconv.Atoi(g.val('s', "0"))
	checkW, _ := strconv.Atoi(g.val('w', "0"))
	key := func(s string) string {
		for i := 0; i < skipF; i++ {
			s = strings.TrimLeft(s, " \t")
			if k := strings.IndexAny(s, " \t"); k >= 0 {
				s = s[k:]
			} else {
				s = ""
			}
		}
		if skipC < len(s) {
			s = s[skipC:]
		} else {
			s = ""
		}
		if checkW > 0 && checkW < len(s) {
			s = s[:checkW]
		}
		if g.has('i') {
			s = strings.ToLower(s)
		}
		return s
	}
	var prev string
	n := 0
	emit := func() {
		if n == 0 {
			return
		}
		if g.has('d') && n < 2 || g.has('u') && n > 1 {
			return
		}
		if g.has('c') {
			fmt.Fprintf(e.stdout, "%7d %s\n", n, prev)
		} else {
			e.stdout.WriteString(prev + "\n")
		}
	}
	status := e.eachInput(in, func(_ string, r *bufio.Reader) error {
		return readLines(r, func(b []byte, _ bool) error {
			line := string(b)
			if n > 0 && key(line) == key(prev) {
				n++
				return nil
			}
			emit()
			prev, n = line, 1
			return nil
		})
	})
	emit()
	return status
}

// parseRanges parses cut's LIST: "1,3-5,7-".
func parseRanges(s string) ([][2]int, error) {
	var out [][2]int
	for _, part := range strings.Split(s, ",") {
		lo, hi, isRange := strings.Cut(part, "-")
		var a, b int
		var err error
		if lo == "" {
			a = 1
		} else if a, err = strconv.Atoi(lo); err != nil || a < 1 {
			return nil, fmt.Errorf("invalid field value '%s'", part)
		}
		switch {
		case !isRange:
			b = a
		case hi == "":
			b = 1 << 30
		default:
			if b, err = strconv.Atoi(hi); err != nil {
				return nil, fmt.Errorf("invalid field range '%s'", part)
			}
		}
		out = append(out, [2]int{a, b})
	}
	return out, nil
}

func inRanges(i int, rs [][2]int) bool {
	for _, r := range rs {
		if i >= r[0] && i <= r[1] {
			return true
		}
	}
	return false
}

func cutCmd(e *env, args []string) int {
	g := getopt{bools: "snz", vals: "dfcb", longs: map[string]byte{"delimiter": 'd', "fields": 'f', "characters": 'c', "bytes": 'b', "only-delimited": 's', "output-delimiter": 'O', "complement": 'C'}}
	g.vals += "O"
	g.bools += "C"
	if !parseOpts(e, &g, args) {
		return 1
	}
	delim := g.val('d', "\t")
	if delim == "" {
		delim = "\n"
	}
	list, mode := "", byte(0)
	for _, c := range []byte("fcb") {
		if v := g.val(c, ""); v != "" {
			list, mode = v, c
		}
	}
	if mode == 0 {
		return e.usage("you must specify a list of bytes, characters, or fields")
	}
	rs, err := parseRanges(list)
	if err != nil {
		return e.usage("%v", err)
	}
	outDelim := g.val('O', delim)
	comp := g.has('C')
	return e.eachInput(g.args, func(_ string, r *bufio.Reader) error {
		return readLines(r, func(b []byte, _ bool) error {
			line := string(b)
			if mode == 'f' {
				if !strings.Contains(line, delim) {
					if !g.has('s') {
						e.stdout.WriteString(line + "\n")
					}
					return nil
				}
				fields := strings.Split(line, delim)
				var sel []string
				for i, f := range fields {
					if inRanges(i+1, rs) != comp {
						sel = append(sel, f)
					}
				}
				e.stdout.WriteString(strings.Join(sel, outDelim) + "\n")
				return nil
			}
			var units []string
			if mode == 'c' {
				for _, r := range line {
					units = append(units, string(r))
				}
			} else {
				for i := 0; i < len(line); i++ {
					units = append(units, line[i:i+1])
				}
			}
			var sb strings.Builder
			for i, u := range units {
				if inRanges(i+1, rs) != comp {
					sb.WriteString(u)
				}
			}
			e.stdout.WriteString(sb.String() + "\n")
			return nil
		})
	})
}

// expandSet expands a tr SET: ranges, classes, escapes, [c*n].
func expandSet(s string) []rune {
	s, _ = unescape(s, false)
	rs := []rune(s)
	var out []rune
	classes := map[string]func(rune) bool{
		"alpha": unicode.IsLetter, "digit": unicode.IsDigit, "upper": unicode.IsUpper,
		"lower": unicode.IsLower, "space": unicode.IsSpace, "punct": unicode.IsPunct,
		"print": unicode.IsPrint, "graph": unicode.IsGraphic, "cntrl": unicode.IsControl,
		"alnum": func(r rune) bool { return unicode.IsLetter(r) || unicode.IsDigit(r) },
		"blank": func(r rune) bool { return r == ' ' || r == '\t' },
		"xdigit": func(r rune) bool {
			return r < 128 && isHex(byte(r))
		},
	}
	for i := 0; i < len(rs); i++ {
		if rs[i] == '[' && i+1 < len(rs) && rs[i+1] == ':' {
			if end := strings.Index(string(rs[i:]), ":]"); end > 0 {
				name := string(rs[i+2 : i+len([]rune(string(rs[i:])[:end]))])
				if fn, ok := classes[name]; ok {
					for c := rune(0); c < 128; c++ {
						if fn(c) {
							out = append(out, c)
						}
					}
					i += len([]rune(string(rs[i:])[:end])) + 1
					continue
				}
			}
		}
		if rs[i] == '[' && i+3 < len(rs) && rs[i+2] == '*' {
			if end := strings.IndexRune(string(rs[i:]), ']'); end > 0 {
				c := rs[i+1]
				nStr := string(rs[i+3 : i+end])
				n, _ := strconv.Atoi(nStr)
				if n == 0 {
					n = 1 << 16
				}
				for k := 0; k < n && k < 1<<16; k++ {
					out = append(out, c)
				}
				i += end
				continue
			}
		}
		if i+2 < len(rs) && rs[i+1] == '-' {
			for c := rs[i]; c <= rs[i+2]; c++ {
				out = append(out, c)
			}
			i += 2
			continue
		}
		out = append(out, rs[i])
	}
	return out
}

func trCmd(e *env, args []string) int {
	g := getopt{bools: "dscCt", longs: map[string]byte{"delete": 'd', "squeeze-repeats": 's', "complement": 'c'}}
	if !parseOpts(e, &g, args) {
		return 1
	}
	if len(g.args) < 1 {
		return e.usage("missing operand")
	}
	set1 := expandSet(g.args[0])
	var set2 []rune
	if len(g.args) > 1 {
		set2 = expandSet(g.args[1])
	}
	comp := g.has('c') || g.has('C')
	in1 := map[rune]bool{}
	for _, r := range set1 {
		in1[r] = true
	}
	member := func(r rune) bool { return in1[r] != comp }
	mapping := map[rune]rune{}
	translate := !g.has('d') && len(set2) > 0
	if translate && !comp {
		if g.has('t') && len(set1) > len(set2) {
			set1 = set1[:len(set2)]
		}
		for i, r := range set1 {
			j := min(i, len(set2)-1)
			mapping[r] = set2[j]
		}
	}
	sq := map[rune]bool{}
	sqSet := set1
	if len(set2) > 0 && (translate || g.has('d')) {
		sqSet = set2
	}
	for _, r := range sqSet {
		sq[r] = true
	}
	var last rune = -1
	for {
		r, _, err := e.stdin.ReadRune()
		if err != nil {
			break
		}
		if g.has('d') && member(r) {
			continue
		}
		if translate {
			if comp {
				if member(r) {
					r = set2[len(set2)-1]
				}
			} else if m, ok := mapping[r]; ok {
				r = m
			}
		}
		if g.has('s') {
			inSq := sq[r]
			if !translate && !g.has('d') {
				inSq = member(r)
			}
			if inSq && r == last {
				continue
			}
		}
		last = r
		e.stdout.WriteRune(r)
	}
	return 0
}

func teeCmd(e *env, args []string) int {
	g := getopt{bools: "ai", longs: map[string]byte{"append": 'a', "ignore-interrupts": 'i'}}
	if !parseOpts(e, &g, args) {
		return 1
	}
	flag := os.O_WRONLY | os.O_CREATE | os.O_TRUNC
	if g.has('a') {
		flag = os.O_WRONLY | os.O_CREATE | os.O_APPEND
	}
	status := 0
	var ws []*bufio.Writer
	var fs []*os.File
	for _, n := range g.args {
		f, err := os.OpenFile(n, flag, 0o644)
		if err != nil {
			e.fail(err)
			status = 1
			continue
		}
		fs = append(fs, f)
		ws = append(ws, bufio.NewWriterSize(f, 32<<10))
	}
	buf := make([]byte, 32<<10)
	for {
		n, err := e.stdin.Read(buf)
		if n > 0 {
			e.stdout.Write(buf[:n])
			// Line-oriented consumers downstream expect prompt output.
			_ = e.stdout.Flush()
			for _, w := range ws {
				w.Write(buf[:n])
			}
		}
		if err != nil {
			if !errors.Is(err, io.EOF) {
				e.fail(err)
				status = 1
			}
			break
		}
	}
	for i, w := range ws {
		if err := w.Flush(); err != nil {
			e.fail(err)
			status = 1
		}
		fs[i].Close()
	}
	return status
}

func tacCmd(e *env, args []string) int {
	lines, status := e.readAllLines(args, '\n')
	for i := len(lines) - 1; i >= 0; i-- {
		e.stdout.WriteString(lines[i] + "\n")
	}
	return status
}

func revCmd(e *env, args []string) int {
	return e.eachInput(args, func(_ string, r *bufio.Reader) error {
		return readLines(r, func(b []byte, _ bool) error {
			rs := []rune(string(b))
			for i, j := 0, len(rs)-1; i < j; i, j = i+1, j-1 {
				rs[i], rs[j] = rs[j], rs[i]
			}
			e.stdout.WriteString(string(rs) + "\n")
			return nil
		})
	})
}

func foldCmd(e *env, args []string) int {
	g := getopt{bools: "bs", vals: "w", longs: map[string]byte{"width": 'w', "spaces": 's', "bytes": 'b'}}
	if !parseOpts(e, &g, legacyWidth(args)) {
		return 1
	}
	w, _ := strconv.Atoi(g.val('w', "80"))
	if w <= 0 {
		w = 80
	}
	return e.eachInput(g.args, func(_ string, r *bufio.Reader) error {
		return readLines(r, func(b []byte, nl bool) error {
			s := string(b)
			for len(s) > w {
				cut := w
				if g.has('s') {
					if k := strings.LastIndexAny(s[:w], " \t"); k >= 0 {
						cut = k + 1
					}
				}
				e.stdout.WriteString(s[:cut] + "\n")
				s = s[cut:]
			}
			e.stdout.WriteString(s)
			if nl {
				e.stdout.WriteByte('\n')
			}
			return nil
		})
	})
}

func legacyWidth(args []string) []string {
	if len(args) > 0 && len(args[0]) > 1 && args[0][0] == '-' && args[0][1] >= '0' && args[0][1] <= '9' {
		return append([]string{"-w", args[0][1:]}, args[1:]...)
	}
	return args
}

func nlCmd(e *env, args []string) int {
	g := getopt{vals: "bwsv", longs: map[string]byte{"body-numbering": 'b', "number-width": 'w', "number-separator": 's'}}
	if !parseOpts(e, &g, args) {
		return 1
	}
	style := g.val('b', "t")
	w, _ := strconv.Atoi(g.val('w', "6"))
	sep := g.val('s', "\t")
	n, _ := strconv.Atoi(g.val('v', "1"))
	return e.eachInput(g.args, func(_ string, r *bufio.Reader) error {
		return readLines(r, func(b []byte, _ bool) error {
			if style == "a" || style == "t" && len(bytes.TrimSpace(b)) > 0 {
				fmt.Fprintf(e.stdout, "%*d%s%s\n", w, n, sep, b)
				n++
			} else {
				fmt.Fprintf(e.stdout, "%*s%s\n", w+len(sep), "", b)
			}
			return nil
		})
	})
}

func pasteCmd(e *env, args []string) int {
	g := getopt{bools: "s", vals: "d", longs: map[string]byte{"serial": 's', "delimiters": 'd'}}
	if !parseOpts(e, &g, args) {
		return 1
	}
	delims, _ := unescape(g.val('d', "\t"), false)
	if delims == "" {
		delims = "\x00"
	}
	names := g.args
	if len(names) == 0 {
		names = []string{"-"}
	}
	var cols [][]string
	status := 0
	for _, n := range names {
		lines, st := e.readAllLines([]string{n}, '\n')
		if st != 0 {
			status = st
		}
		cols = append(cols, lines)
	}
	d := func(i int) string {
		c := delims[i%len(delims)]
		if c == 0 {
			return ""
		}
		return string(c)
	}
	if g.has('s') {
		for _, c := range cols {
			var sb strings.Builder
			for i, l := range c {
				if i > 0 {
					sb.WriteString(d(i - 1))
				}
				sb.WriteString(l)
			}
			e.stdout.WriteString(sb.String() + "\n")
		}
		return status
	}
	rows := 0
	for _, c := range cols {
		rows = max(rows, len(c))
	}
	for r := 0; r < rows; r++ {
		var sb strings.Builder
		for i, c := range cols {
			if i > 0 {
				sb.WriteString(d(i - 1))
			}
			if r < len(c) {
				sb.WriteString(c[r])
			}
		}
		e.stdout.WriteString(sb.String() + "\n")
	}
	return status
}

func commCmd(e *env, args []string) int {
	g := getopt{bools: "123"}
	if !parseOpts(e, &g, args) {
		return 1
	}
	if len(g.args) != 2 {
		return e.usage("missing operand")
	}
	a, s1 := e.readAllLines(g.args[:1], '\n')
	b, s2 := e.readAllLines(g.args[1:], '\n')
	col := func(k int, s string) {
		if g.has(byte('0' + k)) {
			return
		}
		prefix := ""
		for i := 1; i < k; i++ {
			if !g.has(byte('0' + i)) {
				prefix += "\t"
			}
		}
		e.stdout.WriteString(prefix + s + "\n")
	}
	i, j := 0, 0
	for i < len(a) || j < len(b) {
		switch {
		case j >= len(b) || i < len(a) && a[i] < b[j]:
			col(1, a[i])
			i++
		case i >= len(a) || b[j] < a[i]:
			col(2, b[j])
			j++
		default:
			col(3, a[i])
			i++
			j++
		}
	}
	return max(s1, s2)
}

func shufCmd(e *env, args []string) int {
	g := getopt{bools: "e", vals: "n", longs: map[string]byte{"head-count": 'n', "echo": 'e'}}
	if !parseOpts(e, &g, args) {
		return 1
	}
	var lines []string
	status := 0
	if g.has('e') {
		lines = g.args
	} else {
		lines, status = e.readAllLines(g.args, '\n')
	}
	rand.Shuffle(len(lines), func(i, j int) { lines[i], lines[j] = lines[j], lines[i] })
	if n := g.val('n', ""); n != "" {
		k, _ := strconv.Atoi(n)
		if k < len(lines) {
			lines = lines[:k]
		}
	}
	for _, l := range lines {
		e.stdout.WriteString(l + "\n")
	}
	return status
}
