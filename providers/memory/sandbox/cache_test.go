package sandbox_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"testing"

	"github.com/sockerless/sockerless/internal/rootfs"
	"github.com/sockerless/sockerless/providers/memory/sandbox"
)

// wasiModule is a minimal WASI command (exported _start and memory) made
// distinct by a custom section named tag.
func wasiModule(tag string) []byte {
	m := []byte("\x00asm\x01\x00\x00\x00")
	m = append(m, 0x01, 0x04, 0x01, 0x60, 0x00, 0x00) // type () -> ()
	m = append(m, 0x03, 0x02, 0x01, 0x00)             // one function
	m = append(m, 0x05, 0x03, 0x01, 0x00, 0x01)       // one memory, 1 page
	m = append(m, 0x07, 0x13, 0x02, 0x06)
	m = append(m, "_start"...)
	m = append(m, 0x00, 0x00, 0x06)
	m = append(m, "memory"...)
	m = append(m, 0x02, 0x00)
	m = append(m, 0x0a, 0x04, 0x01, 0x02, 0x00, 0x0b) // empty body
	m = append(m, 0x00, byte(2+len(tag)), byte(len(tag)))
	return append(append(m, tag...), 0x00)
}

// cacheKeys lists the programs the cache index holds a file for.
func cacheKeys(t *testing.T, dir string) []string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(dir, "sockerless-lru.json"))
	if err != nil {
		t.Fatal(err)
	}
	var idx struct{ Files map[string]string }
	if err := json.Unmarshal(data, &idx); err != nil {
		t.Fatal(err)
	}
	var keys []string
	for k := range idx.Files {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

func TestCompileCacheBounded(t *testing.T) {
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "cache")
	// Start from the shared cache so the applets load compiled.
	if out, err := exec.Command("cp", "-r", filepath.Join(os.TempDir(), "sockerless-sandbox-test-cache"), dir).CombinedOutput(); err != nil {
		t.Fatalf("%v %s", err, out)
	}
	runIn := func(s *sandbox.Sandbox, tags ...string) {
		t.Helper()
		root := t.TempDir()
		fs, err := rootfs.New(root, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer fs.Close()
		c := s.NewContainer(fs)
		for _, tag := range tags {
			if err := os.WriteFile(filepath.Join(root, tag), wasiModule(tag), 0o755); err != nil {
				t.Fatal(err)
			}
			if r := run(t, c, "", "/"+tag); r.code != 0 {
				t.Fatalf("%s: %+v", tag, r)
			}
		}
	}
	open := func(maxBytes int64) *sandbox.Sandbox {
		t.Helper()
		s, err := sandbox.New(ctx, sandbox.Options{CacheDir: dir, CacheMaxBytes: maxBytes})
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	// A cap smaller than anything: only the applets stay.
	s := open(1)
	applets := s.CacheSize()
	if applets < 1<<20 {
		t.Fatalf("the applets' compiled file was not kept (%d bytes cached)", applets)
	}
	runIn(s, "m1", "m2", "m3")
	if got := s.CacheSize(); got != applets {
		t.Fatalf("cache holds %d bytes, want the applets' %d", got, applets)
	}
	s.Close(ctx)
	// Measure one program's file.
	s = open(1 << 40)
	runIn(s, "m1")
	one := s.CacheSize() - applets
	s.Close(ctx)
	if one <= 0 {
		t.Fatalf("program file size %d", one)
	}
	// Room for the applets and two programs: m1 and m2 are cached, m1
	// is used again, m3 evicts the least recently used, m2.
	limit := applets + 2*one + one/2
	s = open(limit)
	defer s.Close(ctx)
	runIn(s, "m1", "m2", "m1", "m3")
	key := func(tag string) string { h := sha256.Sum256(wasiModule(tag)); return hex.EncodeToString(h[:]) }
	want := []string{"applets", key("m1"), key("m3")}
	slices.Sort(want)
	if got := cacheKeys(t, dir); !slices.Equal(got, want) {
		t.Fatalf("cached %v, want %v (m2 is the least recently used); %d bytes cached, cap %d (applets %d, one program %d)", got, want, s.CacheSize(), limit, applets, one)
	}
}
