package memory

import (
	"archive/tar"
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/sockerless/sockerless/providers"
	"github.com/sockerless/sockerless/providers/memory/sandbox"
	"github.com/sockerless/sockerless/relay"
)

type nopReporter struct{}

func (nopReporter) Exited(context.Context, string, int, time.Time) error         { return nil }
func (nopReporter) ExecExited(context.Context, string, int, time.Time) error     { return nil }
func (nopReporter) Health(context.Context, string, providers.HealthResult) error { return nil }

// BenchmarkCreate measures Create+Remove of a container from no layers
// (skeleton only) and from an alpine-sized layer (500 files, 8 MiB).
func BenchmarkCreate(b *testing.B) {
	ctx := context.Background()
	sb, err := sandbox.New(ctx, sandbox.Options{CacheDir: filepath.Join(os.TempDir(), "sockerless-test-wazero")})
	if err != nil {
		b.Fatal(err)
	}
	defer sb.Close(ctx)
	p, err := New(Options{Hub: relay.NewHub([]byte("secret")), Reporter: nopReporter{}, Sandbox: sb, StateDir: b.TempDir()})
	if err != nil {
		b.Fatal(err)
	}
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	body := bytes.Repeat([]byte("x"), 16<<10)
	for i := 0; i < 500; i++ {
		if i%25 == 0 {
			tw.WriteHeader(&tar.Header{Name: fmt.Sprintf("usr/lib/d%d/", i/25), Typeflag: tar.TypeDir, Mode: 0o755})
		}
		tw.WriteHeader(&tar.Header{Name: fmt.Sprintf("usr/lib/d%d/f%d", i/25, i), Typeflag: tar.TypeReg, Mode: 0o644, Size: int64(len(body))})
		tw.Write(body)
	}
	tw.Close()
	info, err := p.LayerStore().Put(&buf, "")
	if err != nil {
		b.Fatal(err)
	}
	for _, bc := range []struct {
		name   string
		layers []string
	}{{"skeleton", nil}, {"layer-8MiB-500files", []string{info.DiffID}}} {
		b.Run(bc.name, func(b *testing.B) {
			for i := 0; b.Loop(); i++ {
				id := fmt.Sprintf("%064x", i)
				if err := p.Create(ctx, providers.Spec{ID: id, Image: "bench", Layers: bc.layers}); err != nil {
					b.Fatal(err)
				}
				if err := p.Remove(ctx, id); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
