package main

import (
	"bytes"
	"io/fs"
	"strings"
	"testing"
)

// These run the applets natively (host stand-ins for the sockerless host
// functions); the sandbox package tests them inside WebAssembly.
func TestTextApplets(t *testing.T) {
	tests := []struct {
		argv   []string
		stdin  string
		code   int
		stdout string
	}{
		{[]string{"echo", "-n", "a", "b"}, "", 0, "a b"},
		{[]string{"echo", "-e", `x\ty\c`, "z"}, "", 0, "x\ty"},
		{[]string{"printf", `%5.2f|%-3s|%x\n`, "3.14159", "ab", "255"}, "", 0, " 3.14|ab |ff\n"},
		{[]string{"sed", "-n", "2,3p"}, "1\n2\n3\n4\n", 0, "2\n3\n"},
		{[]string{"sed", `s/\(a\)\(b\)/\2\1/g`}, "abab\n", 0, "baba\n"},
		{[]string{"sed", "-E", "s/(x+)/[&]/"}, "axxb\n", 0, "a[xx]b\n"},
		{[]string{"sed", "/^#/d;s/=/: /"}, "#c\nk=v\n", 0, "k: v\n"},
		{[]string{"sed", "$a\\end"}, "1\n2\n", 0, "1\n2\nend\n"},
		{[]string{"sed", "y/abc/xyz/"}, "aabbcc\n", 0, "xxyyzz\n"},
		{[]string{"sed", "2q"}, "1\n2\n3\n", 0, "1\n2\n"},
		{[]string{"grep", "-c", `a\{2\}`}, "aa\na\naaa\n", 0, "2\n"},
		{[]string{"grep", "-E", "-o", "[0-9]+"}, "a1b22\n", 0, "1\n22\n"},
		{[]string{"grep", "-v", "-i", "X"}, "x\ny\n", 0, "y\n"},
		{[]string{"grep", "-w", "foo"}, "foobar\nfoo bar\n", 0, "foo bar\n"},
		{[]string{"sort", "-t", ":", "-k", "2n"}, "a:10\nb:9\n", 0, "b:9\na:10\n"},
		{[]string{"sort", "-r", "-u"}, "a\nb\na\n", 0, "b\na\n"},
		{[]string{"tr", "-d", "[:digit:]"}, "a1b2\n", 0, "ab\n"},
		{[]string{"tr", "-s", " "}, "a   b\n", 0, "a b\n"},
		{[]string{"tr", "[:lower:]", "[:upper:]"}, "abc\n", 0, "ABC\n"},
		{[]string{"cut", "-c", "2-"}, "abcd\n", 0, "bcd\n"},
		{[]string{"expr", "length", "hello"}, "", 0, "5\n"},
		{[]string{"expr", "abc", ":", "a\\(.\\)"}, "", 0, "b\n"},
		{[]string{"expr", "1", "=", "2"}, "", 1, "0\n"},
		{[]string{"seq", "-s", ",", "2", "2", "6"}, "", 0, "2,4,6\n"},
		{[]string{"wc", "-l"}, "a\nb\n", 0, "2\n"},
		{[]string{"head", "-c", "3"}, "abcdef", 0, "abc"},
		{[]string{"tail", "-c", "2"}, "abcdef", 0, "ef"},
		{[]string{"uniq", "-d"}, "a\na\nb\n", 0, "a\n"},
		{[]string{"rev"}, "abc\n", 0, "cba\n"},
		{[]string{"tac"}, "1\n2\n", 0, "2\n1\n"},
		{[]string{"base64", "-w", "0"}, "hello", 0, "aGVsbG8=\n"},
		{[]string{"test", "abc", "=", "abc"}, "", 0, ""},
		{[]string{"[", "1", "-lt", "2", "-a", "!", "-z", "x", "]"}, "", 0, ""},
		{[]string{"[", "1", "-gt", "2"}, "", 2, ""},
		{[]string{"basename", "-s", ".go", "/a/b.go", "c.go"}, "", 0, "b\nc\n"},
		{[]string{"nosuch"}, "", 127, ""},
		{[]string{"paste", "-s", "-d", ","}, "a\nb\n", 0, "a,b\n"},
		{[]string{"nl"}, "a\n\nb\n", 0, "     1\ta\n       \n     2\tb\n"},
		{[]string{"fold", "-w", "2"}, "abcde\n", 0, "ab\ncd\ne\n"},
	}
	for _, tc := range tests {
		t.Run(strings.Join(tc.argv, " "), func(t *testing.T) {
			var out, errb bytes.Buffer
			code := run(tc.argv, strings.NewReader(tc.stdin), &out, &errb)
			if code != tc.code || out.String() != tc.stdout {
				t.Errorf("got %d %q (stderr %q), want %d %q", code, out.String(), errb.String(), tc.code, tc.stdout)
			}
		})
	}
}

func TestParseMode(t *testing.T) {
	tests := []struct {
		spec string
		base fs.FileMode
		dir  bool
		want fs.FileMode
	}{
		{"755", 0, false, 0o755},
		{"+x", 0o644, false, 0o755},
		{"u+x", 0o644, false, 0o744},
		{"go-w", 0o666, false, 0o644},
		{"a=r", 0o777, false, 0o444},
		{"u=rwx,g=rx,o=", 0, false, 0o750},
		{"a+X", 0o644, true, 0o755},
		{"a+X", 0o644, false, 0o644},
		{"4755", 0, false, 0o755 | fs.ModeSetuid},
	}
	for _, tc := range tests {
		got, err := parseMode(tc.spec, tc.base, tc.dir)
		if err != nil || got != tc.want {
			t.Errorf("parseMode(%q, %o) = %o, %v; want %o", tc.spec, tc.base, got, err, tc.want)
		}
	}
}

func TestBRE(t *testing.T) {
	tests := map[string]string{
		`a\(b\)*c`:    `a(b)*c`,
		`x\{2,3\}`:    `x{2,3}`,
		`a+b?(c)`:     `a\+b\?\(c\)`,
		`*star`:       `\*star`,
		`[]a]`:        `[\]a]`,
		`\<word\>`:    `\bword\b`,
		`[[:alpha:]]`: `[[:alpha:]]`,
	}
	for in, want := range tests {
		if got := breToERE(in); got != want {
			t.Errorf("breToERE(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestCountNewlines(t *testing.T) {
	b := make([]byte, 4099)
	for i := range b {
		b[i] = byte(i*131 + i>>3)
		if i%17 == 0 || i%29 == 3 {
			b[i] = '\n'
		}
	}
	for _, n := range []int{0, 1, 7, 8, 9, 63, 4099} {
		for off := 0; off < 3 && off < n; off++ {
			if got, want := countNewlines(b[off:n]), bytes.Count(b[off:n], []byte{'\n'}); got != want {
				t.Fatalf("countNewlines(b[%d:%d]) = %d, want %d", off, n, got, want)
			}
		}
	}
	var out, errb bytes.Buffer
	if code := run([]string{"wc", "-c", "applets_test.go"}, strings.NewReader(""), &out, &errb); code != 0 || !strings.HasSuffix(out.String(), " applets_test.go\n") {
		t.Fatalf("wc -c file: %d %q %q", code, out.String(), errb.String())
	}
}
