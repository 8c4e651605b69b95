package integration

import (
	"archive/tar"
	"bytes"
	"encoding/json"
	"io"
	"testing"
)

// tarOf returns a tar stream of files (name -> content).
func tarOf(t testing.TB, files map[string]string) io.Reader {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for n, c := range files {
		if err := tw.WriteHeader(&tar.Header{Name: n, Mode: 0o644, Size: int64(len(c)), Typeflag: tar.TypeReg}); err != nil {
			t.Fatal(err)
		}
		tw.Write([]byte(c))
	}
	tw.Close()
	return &buf
}

// tarString is tarOf as a string, for a command's stdin.
func tarString(t testing.TB, files map[string]string) string {
	b, err := io.ReadAll(tarOf(t, files))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func decodeJSON(t testing.TB, r io.Reader, v any) {
	t.Helper()
	if err := json.NewDecoder(r).Decode(v); err != nil {
		t.Fatal(err)
	}
}
