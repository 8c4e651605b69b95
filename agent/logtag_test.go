package agent

import (
	"bytes"
	"strings"
	"sync"
	"testing"
)

func TestTagLinesRoundTrip(t *testing.T) {
	cases := []struct {
		name   string
		writes []string
		stream int
	}{
		{"one line", []string{"out\n"}, 1},
		{"two lines one write", []string{"a\nb\n"}, 2},
		{"fragment then rest", []string{"par", "tial\n", "x"}, 1},
		{"empty lines", []string{"\n\n"}, 2},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var out bytes.Buffer
			var mu sync.Mutex
			w := TagLines(&out, &mu, c.stream)
			for _, s := range c.writes {
				if _, err := w.Write([]byte(s)); err != nil {
					t.Fatal(err)
				}
			}
			var got []byte
			for _, line := range strings.SplitAfter(out.String(), "\n") {
				if line == "" {
					continue
				}
				s, d := ParseTaggedLine([]byte(strings.TrimSuffix(line, "\n")))
				if s != c.stream {
					t.Errorf("ParseTaggedLine(%q) stream = %d, want %d", line, s, c.stream)
				}
				got = append(got, d...)
			}
			if want := strings.Join(c.writes, ""); string(got) != want {
				t.Errorf("round trip = %q, want %q", got, want)
			}
		})
	}
}

func TestParseTaggedLineUntagged(t *testing.T) {
	s, d := ParseTaggedLine([]byte("agent: warning"))
	if s != 1 || string(d) != "agent: warning\n" {
		t.Errorf("ParseTaggedLine(untagged) = %d %q, want 1 %q", s, d, "agent: warning\n")
	}
}
