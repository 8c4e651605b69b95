package functions

import (
	"archive/tar"
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

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

// FuzzImageLoad posts arbitrary bytes as an image archive: never a server
// error, never a file outside the scratch directory, and a refused load
// stores no image.
func FuzzImageLoad(f *testing.F) {
	f.Add(tarBytes(f, map[string]string{"manifest.json": `[{"Config":"c.json","RepoTags":["a:b"],"Layers":[]}]`, "c.json": `{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}`}))
	f.Add(tarBytes(f, map[string]string{"../x": "y"}))
	f.Add(tarBytes(f, map[string]string{"index.json": `{"schemaVersion":2,"manifests":[]}`, "oci-layout": `{"imageLayoutVersion":"1.0.0"}`}))
	f.Add([]byte("not a tar"))
	a := newTestAPI(f)
	f.Fuzz(func(t *testing.T, body []byte) {
		before, _ := a.st.Images(t.Context())
		code, resp := do(a, "POST", "/images/load", string(body))
		if code >= 500 {
			t.Fatalf("load: %d %s", code, resp)
		}
		after, _ := a.st.Images(t.Context())
		if code != 200 && len(after) != len(before) {
			t.Fatalf("refused load (%d) stored an image", code)
		}
	})
}
