package treesync

import (
	"bytes"
	"fmt"
	"testing"
)

// BenchmarkManifestCodec10k encodes and decodes the manifest of a
// 10,000-file tree (100 directories), the part of a carry between the
// workload's scan and the host's delta that is not system calls.
func BenchmarkManifestCodec10k(b *testing.B) {
	m := Manifest{}
	for i := range 10000 {
		d := fmt.Sprintf("d%02d", i%100)
		m[d] = Entry{Path: d, Type: Dir, Mode: 0o755}
		p := fmt.Sprintf("%s/f%05d.txt", d, i)
		m[p] = Entry{Path: p, Type: File, Mode: 0o644, Size: int64(i % 4096), Mtime: 1_780_000_000_000_000_000 + int64(i)}
	}
	var buf bytes.Buffer
	b.ReportAllocs()
	for b.Loop() {
		buf.Reset()
		if err := WriteManifest(&buf, m); err != nil {
			b.Fatal(err)
		}
		got, err := ReadManifest(&buf)
		if err != nil {
			b.Fatal(err)
		}
		if len(got) != len(m) {
			b.Fatalf("decoded %d entries, want %d", len(got), len(m))
		}
	}
}
