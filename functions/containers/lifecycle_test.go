package containers

import "testing"

func TestParseSignal(t *testing.T) {
	tests := []struct {
		in   string
		want int
		ok   bool
	}{
		{"", 9, true}, {"KILL", 9, true}, {"SIGTERM", 15, true}, {"term", 15, true}, {"2", 2, true},
		{"0", 0, false}, {"SIGNOPE", 0, false}, {"999", 0, false},
	}
	for _, tc := range tests {
		got, err := parseSignal(tc.in)
		if (err == nil) != tc.ok || (tc.ok && got != tc.want) {
			t.Errorf("parseSignal(%q) = %d, %v", tc.in, got, err)
		}
	}
}
