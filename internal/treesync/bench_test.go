package treesync

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// BenchmarkCarry10kFiles10Changed measures one push as the shim and agent
// run it before an exec, on a 10,000-file tree of which 10 files changed
// since the last carry: the workload scans and encodes its manifest, the
// host decodes it and sends the delta against the agreed base, the
// workload applies it (everything but the network). Target: under 50 ms.
// cpu-ns/op is the CPU time the process used per carry (all threads),
// steadier than ns/op when other work shares the machine.
func BenchmarkCarry10kFiles10Changed(b *testing.B) {
	host, work := b.TempDir(), b.TempDir()
	for i := range 10000 {
		p := filepath.Join(host, fmt.Sprintf("d%02d", i%100), fmt.Sprintf("f%05d.txt", i))
		if i < 100 {
			if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
				b.Fatal(err)
			}
		}
		if err := os.WriteFile(p, []byte(fmt.Sprintf("file %d\n", i)), 0o644); err != nil {
			b.Fatal(err)
		}
	}
	hr, wr := openRoot(b, host), openRoot(b, work)
	var first bytes.Buffer
	base := Manifest{}
	if _, err := SendTracked(context.Background(), &first, hr, Manifest{}, base, base); err != nil {
		b.Fatal(err)
	}
	if _, err := Apply(context.Background(), &first, wr); err != nil {
		b.Fatal(err)
	}
	now := time.Now()
	var wire, cpu int64
	b.ResetTimer()
	for n := 0; n < b.N; n++ {
		b.StopTimer()
		for i := range 10 {
			p := filepath.Join(host, fmt.Sprintf("d%02d", i), fmt.Sprintf("f%05d.txt", i))
			if err := os.WriteFile(p, []byte(fmt.Sprintf("changed %d %d\n", n, i)), 0o644); err != nil {
				b.Fatal(err)
			}
			now = now.Add(time.Millisecond)
			if err := os.Chtimes(p, now, now); err != nil {
				b.Fatal(err)
			}
		}
		b.StartTimer()
		c0, _ := cpuTime()
		recv, err := Scan(wr)
		if err != nil {
			b.Fatal(err)
		}
		var mb, db bytes.Buffer
		if err := WriteManifest(&mb, recv); err != nil {
			b.Fatal(err)
		}
		got, err := ReadManifest(&mb)
		if err != nil {
			b.Fatal(err)
		}
		st, err := SendTracked(context.Background(), &db, hr, got, base, base)
		if err != nil {
			b.Fatal(err)
		}
		if st.Files != 10 {
			b.Fatalf("sent %+v, want 10 files", st)
		}
		wire += st.Wire + int64(mb.Cap())
		if _, err := Apply(context.Background(), &db, wr); err != nil {
			b.Fatal(err)
		}
		c1, ok := cpuTime()
		if ok {
			cpu += c1 - c0
		}
	}
	b.ReportMetric(float64(wire)/float64(b.N), "bytes/carry")
	if cpu > 0 {
		b.ReportMetric(float64(cpu)/float64(b.N), "cpu-ns/op")
	}
}
