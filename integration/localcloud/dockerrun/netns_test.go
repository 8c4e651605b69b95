package dockerrun

import (
	"slices"
	"testing"
)

// TestLoopbackTargets: the loopback URLs of a task's environment are the
// addresses its own network namespace forwards to the host; other values
// and other hosts are not.
func TestLoopbackTargets(t *testing.T) {
	for _, tc := range []struct {
		env  []string
		want []string
	}{
		{[]string{"SOCKERLESS_RELAY_URL=ws://127.0.0.1:4000", "SOCKERLESS_CONTROL_PLANE_URL=http://127.0.0.1:5000/"}, []string{"127.0.0.1:4000", "127.0.0.1:5000"}},
		{[]string{"A=http://localhost:81", "B=http://[::1]:82"}, []string{"127.0.0.1:81", "[::1]:82"}},
		{[]string{"A=ws://127.0.0.1:4000", "B=ws://127.0.0.1:4000/x"}, []string{"127.0.0.1:4000"}},
		{[]string{"A=https://example.com:443", "B=http://10.0.0.1:80", "C=127.0.0.1:80", "D=http://127.0.0.1", "E"}, nil},
	} {
		if got := loopbackTargets(tc.env); !slices.Equal(got, tc.want) {
			t.Errorf("%v: %v, want %v", tc.env, got, tc.want)
		}
	}
}
