package images

import (
	"archive/tar"
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

func TestMatchReference(t *testing.T) {
	tests := []struct {
		pattern, ref string
		want         bool
	}{
		{"alpine", "alpine:3.20", true},
		{"alpine:3.*", "alpine:3.20", true},
		{"alpine:4.*", "alpine:3.20", false},
		{"*/app", "team/app:1", true},
		{"busybox", "alpine:latest", false},
	}
	for _, tc := range tests {
		if got := matchReference(tc.pattern, tc.ref); got != tc.want {
			t.Errorf("matchReference(%q, %q) = %v", tc.pattern, tc.ref, got)
		}
	}
}

func tarBytes(t testing.TB, entries map[string]string) []byte {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for n, c := range entries {
		_ = tw.WriteHeader(&tar.Header{Name: n, Mode: 0o644, Size: int64(len(c)), Typeflag: tar.TypeReg})
		_, _ = tw.Write([]byte(c))
	}
	_ = tw.Close()
	return buf.Bytes()
}

func TestExtractTarRefusesEscapes(t *testing.T) {
	tests := []struct {
		name    string
		entries map[string]string
		ok      bool
	}{
		{"plain", map[string]string{"index.json": "{}", "blobs/sha256/x": "y"}, true},
		{"dotdot", map[string]string{"../escape": "x"}, false},
		{"nested dotdot", map[string]string{"a/../../escape": "x"}, false},
		{"absolute", map[string]string{"/etc/escape": "x"}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			parent := t.TempDir()
			dir := filepath.Join(parent, "root")
			err := extractTar(bytes.NewReader(tarBytes(t, tc.entries)), dir)
			if (err == nil) != tc.ok {
				t.Fatalf("err = %v, want ok=%v", err, tc.ok)
			}
			if _, err := os.Stat(filepath.Join(parent, "escape")); err == nil {
				t.Fatal("an entry was written outside the root")
			}
		})
	}
}
