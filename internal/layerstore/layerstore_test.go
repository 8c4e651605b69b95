package layerstore

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"testing"

	"github.com/sockerless/sockerless/internal/errdefs"
)

func TestPutOpen(t *testing.T) {
	s, err := New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	data := []byte("pretend this is a tar")
	sum := sha256.Sum256(data)
	id := "sha256:" + hex.EncodeToString(sum[:])
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write(data)
	zw.Close()
	tests := []struct {
		name    string
		in      []byte
		want    string
		wantErr bool
	}{
		{"plain", data, "", false},
		{"gzip is stored uncompressed", gz.Bytes(), id, false},
		{"verified", data, id, false},
		{"mismatch refused", []byte("other"), id, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			info, err := s.Put(bytes.NewReader(tt.in), tt.want)
			if tt.wantErr {
				if !errdefs.IsInvalidParameter(err) {
					t.Fatalf("Put() error = %v, want InvalidParameter", err)
				}
				return
			}
			if err != nil || info.DiffID != id || info.Size != int64(len(data)) {
				t.Fatalf("Put() = %+v, %v, want %s size %d", info, err, id, len(data))
			}
			rc, err := s.Open(id)
			if err != nil {
				t.Fatal(err)
			}
			got, _ := io.ReadAll(rc)
			rc.Close()
			if !bytes.Equal(got, data) {
				t.Fatalf("Open() = %q, want %q", got, data)
			}
		})
	}
	if !s.HasAll([]string{id}) || s.HasAll([]string{id, "sha256:" + hex.EncodeToString(make([]byte, 32))}) {
		t.Fatal("HasAll wrong")
	}
	for _, bad := range []string{"", "sha256:../../etc", "md5:abc", "sha256:" + hex.EncodeToString(make([]byte, 32))} {
		if _, err := s.Open(bad); err == nil {
			t.Fatalf("Open(%q) = nil error", bad)
		}
		if s.Has(bad) {
			t.Fatalf("Has(%q) = true", bad)
		}
	}
}
