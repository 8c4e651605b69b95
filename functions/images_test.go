package functions

import (
	"archive/tar"
	"bytes"
	"testing"
)

// FuzzImageLoad posts arbitrary bytes as an image archive: never a server
// error, never a file outside the scratch directory, and a refused load
// stores no image.
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
