package firestore

import (
	"sort"
	"strings"
	"testing"
	"time"
)

func TestDocID(t *testing.T) {
	tests := []struct{ in, want string }{
		{"web", "=web"},
		{".", "=.."},
		{"..", "=...."},
		{"__name__", "=__name__"},
		{"docker.io/library/nginx:latest", "=docker..io.~library.~nginx:latest"},
		{"a/b", "=a.~b"},
		{"sha256:0123", "=sha256:0123"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got := docID(tt.in)
			if got != tt.want {
				t.Errorf("docID(%q) = %q, want %q", tt.in, got, tt.want)
			}
			if strings.Contains(got, "/") || got == "." || got == ".." ||
				(strings.HasPrefix(got, "__") && strings.HasSuffix(got, "__")) {
				t.Errorf("docID(%q) = %q is not a valid document ID", tt.in, got)
			}
		})
	}
}

// TestDocIDKeepsOrder checks that sorting escaped IDs sorts the raw IDs,
// so that ordering by document ID orders records by ID.
func TestDocIDKeepsOrder(t *testing.T) {
	ids := []string{"", "-", ".", "..", "./", "/", "//", "/.", "0", "a", "a.", "a.b", "a/", "a/b", "a-", "a0", "a~", "~", "é", "\x00", "\xff"}
	byRaw := append([]string(nil), ids...)
	sort.Strings(byRaw)
	byEscaped := append([]string(nil), ids...)
	sort.Slice(byEscaped, func(i, j int) bool { return docID(byEscaped[i]) < docID(byEscaped[j]) })
	for i := range byRaw {
		if byRaw[i] != byEscaped[i] {
			t.Fatalf("order by docID = %q, want %q", byEscaped, byRaw)
		}
	}
}

func TestTimeKey(t *testing.T) {
	if got := timeKey(time.Unix(0, 42)); got != "00000000000000000042" {
		t.Errorf("timeKey = %q", got)
	}
}
