package core

import (
	"strings"
	"testing"
	"time"
)

func TestMergeEnv(t *testing.T) {
	tests := []struct {
		image, user, want []string
	}{
		{nil, nil, []string{"PATH=" + DefaultPath}},
		{[]string{"PATH=/x", "A=1"}, []string{"A=2", "B=3"}, []string{"PATH=/x", "A=2", "B=3"}},
		{[]string{"A=1"}, []string{"PATH=/y"}, []string{"A=1", "PATH=/y"}},
		{[]string{"A=1"}, nil, []string{"PATH=" + DefaultPath, "A=1"}},
	}
	for _, tc := range tests {
		got := MergeEnv(tc.image, tc.user)
		if strings.Join(got, ",") != strings.Join(tc.want, ",") {
			t.Errorf("mergeEnv(%v, %v) = %v, want %v", tc.image, tc.user, got, tc.want)
		}
	}
}

func TestParseTime(t *testing.T) {
	now := time.Unix(1000, 0)
	tests := []struct {
		in   string
		want time.Time
		ok   bool
	}{
		{"", time.Time{}, true},
		{"1700000000", time.Unix(1700000000, 0), true},
		{"1700000000.5", time.Unix(1700000000, 5), true},
		{"2024-01-02T03:04:05Z", time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC), true},
		{"10s", now.Add(-10 * time.Second), true},
		{"yesterday", time.Time{}, false},
	}
	for _, tc := range tests {
		got, err := ParseTime(tc.in, now)
		if (err == nil) != tc.ok || !got.Equal(tc.want) {
			t.Errorf("parseTime(%q) = %v, %v; want %v", tc.in, got, err, tc.want)
		}
	}
}
