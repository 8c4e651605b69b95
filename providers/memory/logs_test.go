package memory

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/sockerless/sockerless/providers"
)

func logText(p providers.LogPage) string {
	var b strings.Builder
	for _, e := range p.Entries {
		fmt.Fprintf(&b, "%d:%s|", e.Stream, e.Data)
	}
	return b.String()
}

func TestDiskLog(t *testing.T) {
	now := time.Unix(1000, 0)
	tests := []struct {
		name   string
		cfg    map[string]string
		writes []string // "1:text" or "2:text"
		opts   providers.LogOptions
		want   string
	}{
		{"lines", nil, []string{"1:a", "1:b\nc", "2:e\n", "1:\n"}, providers.LogOptions{}, "1:ab\n|2:e\n|1:c\n|"},
		{"tail-counts-lines", nil, []string{"1:x", "1:x", "1:x\n", "1:y\nz\n"}, providers.LogOptions{Tail: 2}, "1:y\n|1:z\n|"},
		{"partial-flushed-at-end", nil, []string{"1:no newline"}, providers.LogOptions{}, "1:no newline|"},
		{"long-line-split", nil, []string{"1:" + strings.Repeat("l", maxLine+3) + "\n"}, providers.LogOptions{Tail: 1}, "1:lll\n|"},
		{"max-bytes-page", nil, []string{"1:aa\nbb\ncc\n"}, providers.LogOptions{MaxBytes: 5}, "1:aa\n|"},
		{"rotation", map[string]string{"max-size": "30", "max-file": "2"}, []string{"1:0123456789\n", "1:abcdefghij\n", "1:ABCDEFGHIJ\n"}, providers.LogOptions{}, "1:abcdefghij\n|1:ABCDEFGHIJ\n|"},
		{"rotation-one-file", map[string]string{"max-size": "30"}, []string{"1:0123456789\n", "1:abcdefghij\n", "1:ABCDEFGHIJ\n"}, providers.LogOptions{}, "1:ABCDEFGHIJ\n|"},
		{"after-cursor", nil, []string{"1:a\nb\nc\n"}, providers.LogOptions{After: "2"}, "1:c\n|"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			l, err := newDiskLog(t.TempDir(), tc.cfg)
			if err != nil {
				t.Fatal(err)
			}
			defer l.close()
			for _, w := range tc.writes {
				if err := l.write(int(w[0]-'0'), []byte(w[2:]), now); err != nil {
					t.Fatal(err)
				}
			}
			if err := l.flush(); err != nil {
				t.Fatal(err)
			}
			p, err := l.page(tc.opts)
			if err != nil {
				t.Fatal(err)
			}
			if got := logText(p); got != tc.want {
				t.Fatalf("got %q, want %q", got, tc.want)
			}
		})
	}
}

func TestDiskLogManyEntries(t *testing.T) {
	l, err := newDiskLog(t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer l.close()
	for i := range 2000 {
		_ = l.write(1, fmt.Appendf(nil, "%d\n", i), time.Unix(int64(i), 0))
	}
	p, err := l.page(providers.LogOptions{After: "1500", Since: time.Unix(1700, 0), Until: time.Unix(1702, 0)})
	if err != nil {
		t.Fatal(err)
	}
	if got := logText(p); got != "1:1700\n|1:1701\n|1:1702\n|" || p.Cursor != "2000" {
		t.Fatalf("got %q cursor %s", got, p.Cursor)
	}
	if _, err := newDiskLog(t.TempDir(), map[string]string{"max-size": "ten"}); err == nil {
		t.Fatal("bad max-size accepted")
	}
}
