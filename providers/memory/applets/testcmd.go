package main

import (
	"os"
	"strconv"
	"strings"
)

func testCmd(e *env, args []string) int { return runTest(e, args) }

func testBracket(e *env, args []string) int {
	if len(args) == 0 || args[len(args)-1] != "]" {
		e.errf("missing ']'")
		return 2
	}
	return runTest(e, args[:len(args)-1])
}

func runTest(e *env, args []string) int {
	t := &tester{args: args}
	if len(args) == 0 {
		return 1
	}
	v, err := t.or()
	if err == "" && t.i < len(t.args) {
		err = "extra argument '" + t.args[t.i] + "'"
	}
	if err != "" {
		e.errf("%s", err)
		return 2
	}
	if v {
		return 0
	}
	return 1
}

type tester struct {
	args []string
	i    int
}

func (t *tester) peek(k int) (string, bool) {
	if t.i+k < len(t.args) {
		return t.args[t.i+k], true
	}
	return "", false
}

func (t *tester) or() (bool, string) {
	v, err := t.and()
	for err == "" {
		if a, ok := t.peek(0); !ok || a != "-o" {
			break
		}
		t.i++
		r, e2 := t.and()
		v, err = v || r, e2
	}
	return v, err
}

func (t *tester) and() (bool, string) {
	v, err := t.not()
	for err == "" {
		if a, ok := t.peek(0); !ok || a != "-a" {
			break
		}
		t.i++
		r, e2 := t.not()
		v, err = v && r, e2
	}
	return v, err
}

func (t *tester) not() (bool, string) {
	if a, ok := t.peek(0); ok && a == "!" && t.i+1 < len(t.args) {
		t.i++
		v, err := t.not()
		return !v, err
	}
	return t.primary()
}

func (t *tester) primary() (bool, string) {
	a, ok := t.peek(0)
	if !ok {
		return false, "argument expected"
	}
	if a == "(" {
		t.i++
		v, err := t.or()
		if c, ok := t.peek(0); !ok || c != ")" {
			return false, "missing ')'"
		}
		t.i++
		return v, err
	}
	// Binary operators take precedence when three words remain.
	if op, ok := t.peek(1); ok && isBinaryTestOp(op) {
		if b, ok := t.peek(2); ok {
			t.i += 3
			return binaryTest(a, op, b)
		}
	}
	if len(a) == 2 && a[0] == '-' && strings.IndexByte("bcdefghkLnprsStuwxzOG", a[1]) >= 0 {
		if b, ok := t.peek(1); ok {
			t.i += 2
			return unaryTest(a[1], b), ""
		}
	}
	t.i++
	return a != "", ""
}

func isBinaryTestOp(op string) bool {
	switch op {
	case "=", "==", "!=", "<", ">", "-eq", "-ne", "-lt", "-le", "-gt", "-ge", "-nt", "-ot", "-ef":
		return true
	}
	return false
}

func binaryTest(a, op, b string) (bool, string) {
	switch op {
	case "=", "==":
		return a == b, ""
	case "!=":
		return a != b, ""
	case "<":
		return a < b, ""
	case ">":
		return a > b, ""
	case "-nt", "-ot", "-ef":
		fa, e1 := os.Stat(a)
		fb, e2 := os.Stat(b)
		switch op {
		case "-nt":
			return e1 == nil && (e2 != nil || fa.ModTime().After(fb.ModTime())), ""
		case "-ot":
			return e2 == nil && (e1 != nil || fa.ModTime().Before(fb.ModTime())), ""
		default:
			return e1 == nil && e2 == nil && os.SameFile(fa, fb), ""
		}
	}
	x, err := strconv.ParseInt(strings.TrimSpace(a), 10, 64)
	if err != nil {
		return false, "integer expression expected: " + a
	}
	y, err := strconv.ParseInt(strings.TrimSpace(b), 10, 64)
	if err != nil {
		return false, "integer expression expected: " + b
	}
	switch op {
	case "-eq":
		return x == y, ""
	case "-ne":
		return x != y, ""
	case "-lt":
		return x < y, ""
	case "-le":
		return x <= y, ""
	case "-gt":
		return x > y, ""
	}
	return x >= y, ""
}

func unaryTest(op byte, p string) bool {
	switch op {
	case 'n':
		return p != ""
	case 'z':
		return p == ""
	case 't':
		fd, err := strconv.Atoi(p)
		return err == nil && fd >= 0 && fd <= 2 && isatty(fd)
	case 'h', 'L':
		fi, err := os.Lstat(p)
		return err == nil && fi.Mode()&os.ModeSymlink != 0
	}
	fi, err := os.Stat(p)
	if err != nil {
		return false
	}
	m := realMode(p, fi, true)
	switch op {
	case 'e':
		return true
	case 'f':
		return m.IsRegular()
	case 'd':
		return m.IsDir()
	case 's':
		return fi.Size() > 0
	case 'r', 'w':
		return true
	case 'x':
		return m&0o111 != 0
	case 'b':
		return m&os.ModeDevice != 0 && m&os.ModeCharDevice == 0
	case 'c':
		return m&os.ModeCharDevice != 0
	case 'p':
		return m&os.ModeNamedPipe != 0
	case 'S':
		return m&os.ModeSocket != 0
	case 'u':
		return m&os.ModeSetuid != 0
	case 'g':
		return m&os.ModeSetgid != 0
	case 'k':
		return m&os.ModeSticky != 0
	case 'O', 'G':
		return true
	}
	return false
}
