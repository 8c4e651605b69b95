package treesync

import (
	"bytes"
	"context"
	"fmt"
	"io"
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
//
// watch is the carry as the shim and agent run it: each side's Watcher
// made (and its first full walk done) before the timed loop, so a carry
// looks only at what changed; walk is the same carry with both trees
// walked whole (Scan, SendTracked), as without watchers. Both run on the
// same trees in the same run (with -count, alternately).
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
	round := 0
	change := func(b *testing.B) {
		round++
		for i := range 10 {
			p := filepath.Join(host, fmt.Sprintf("d%02d", i), fmt.Sprintf("f%05d.txt", i))
			if err := os.WriteFile(p, []byte(fmt.Sprintf("changed %d %d\n", round, i)), 0o644); err != nil {
				b.Fatal(err)
			}
			now = now.Add(time.Millisecond)
			if err := os.Chtimes(p, now, now); err != nil {
				b.Fatal(err)
			}
		}
	}
	// carry runs one push: the workload's manifest written by manifest,
	// the delta sent by send, applied under wr.
	carry := func(b *testing.B, manifest func(io.Writer) error, send func(io.Writer, Manifest) (Stats, error), wr *os.Root) int64 {
		var mb, db bytes.Buffer
		if err := manifest(&mb); err != nil {
			b.Fatal(err)
		}
		size := int64(mb.Len())
		got, err := ReadManifest(&mb)
		if err != nil {
			b.Fatal(err)
		}
		st, err := send(&db, got)
		if err != nil {
			b.Fatal(err)
		}
		if st.Files != 10 {
			b.Fatalf("sent %+v, want 10 files", st)
		}
		if _, err := Apply(context.Background(), &db, wr); err != nil {
			b.Fatal(err)
		}
		return st.Wire + size
	}
	run := func(b *testing.B, one func() int64) {
		var wire, cpu int64
		b.ResetTimer()
		for range b.N {
			b.StopTimer()
			change(b)
			b.StartTimer()
			c0, _ := cpuTime()
			wire += one()
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
	b.Run("watch", func(b *testing.B) {
		hw, ww := watcher(b, host), watcher(b, work)
		// The first scans (full walks) happen before the timed loop, as
		// at a container's first carry.
		if _, err := hw.Scan(); err != nil {
			b.Fatal(err)
		}
		if _, err := ww.Scan(); err != nil {
			b.Fatal(err)
		}
		run(b, func() int64 {
			return carry(b, ww.WriteManifest, func(w io.Writer, recv Manifest) (Stats, error) {
				return SendWatched(context.Background(), w, hw, recv, base, base)
			}, ww.Root())
		})
		hs, ws := hw.Stats(), ww.Stats()
		b.ReportMetric(float64(hs.Full+ws.Full-2)/float64(b.N), "fullwalks/op")
		if hs.Unwatched != "" || ws.Unwatched != "" {
			b.Fatalf("not watched: host %q, workload %q", hs.Unwatched, ws.Unwatched)
		}
	})
	b.Run("walk", func(b *testing.B) {
		run(b, func() int64 {
			return carry(b, func(w io.Writer) error {
				m, err := Scan(wr)
				if err != nil {
					return err
				}
				return WriteManifest(w, m)
			}, func(w io.Writer, recv Manifest) (Stats, error) {
				return SendTracked(context.Background(), w, hr, recv, base, base)
			}, wr)
		})
	})
}

func watcher(t testing.TB, dir string) *Watcher {
	t.Helper()
	r, err := os.OpenRoot(dir)
	if err != nil {
		t.Fatal(err)
	}
	w, err := NewWatcher(r)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { w.Close() })
	return w
}
