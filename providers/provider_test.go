package providers_test

import (
	"strings"
	"testing"
	"time"

	"github.com/sockerless/sockerless/providers"
)

func TestPageLogs(t *testing.T) {
	t0 := time.Unix(1000, 0)
	var entries []providers.LogEntry
	for i, s := range []string{"aaaa", "bb", "cccccc", "d", "eeee"} {
		entries = append(entries, providers.LogEntry{Stream: 1, Time: t0.Add(time.Duration(i) * time.Second), Data: []byte(s)})
	}
	join := func(p providers.LogPage) string {
		var b strings.Builder
		for _, e := range p.Entries {
			b.Write(e.Data)
		}
		return b.String()
	}
	tests := []struct {
		name       string
		base       int
		opts       providers.LogOptions
		want       string
		wantCursor string
		wantMore   bool
	}{
		{"all", 0, providers.LogOptions{}, "aaaabbccccccdeeee", "5", false},
		{"after", 0, providers.LogOptions{After: "3"}, "deeee", "5", false},
		{"base shifts cursors", 10, providers.LogOptions{After: "12"}, "ccccccdeeee", "15", false},
		{"tail", 0, providers.LogOptions{Tail: 2}, "deeee", "5", false},
		{"since", 0, providers.LogOptions{Since: t0.Add(3 * time.Second)}, "deeee", "5", false},
		{"max bytes cuts the page", 0, providers.LogOptions{MaxBytes: 7}, "aaaabb", "2", true},
		{"max bytes resumes", 0, providers.LogOptions{After: "2", MaxBytes: 7}, "ccccccd", "4", true},
		{"an entry above max bytes still comes", 0, providers.LogOptions{After: "2", MaxBytes: 3}, "cccccc", "3", true},
		{"max bytes with tail", 0, providers.LogOptions{Tail: 3, MaxBytes: 7}, "ccccccd", "4", true},
		{"last page", 0, providers.LogOptions{After: "4", MaxBytes: 7}, "eeee", "5", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := providers.PageLogs(entries, tt.base, tt.opts)
			if got := join(p); got != tt.want || p.Cursor != tt.wantCursor || p.More != tt.wantMore {
				t.Fatalf("PageLogs() = %q, cursor %s, more %v; want %q, %s, %v", got, p.Cursor, p.More, tt.want, tt.wantCursor, tt.wantMore)
			}
		})
	}
}
