package sandbox

import (
	"cmp"
	"encoding/hex"
	"encoding/json"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"
)

// DefaultCacheMaxBytes bounds the compilation cache on disk when
// Options.CacheMaxBytes is zero: the applets (~9 MiB compiled) and a few
// dozen WASI programs from images.
const DefaultCacheMaxBytes = 256 << 20

// cacheIndexName is the file, in the cache directory, that remembers
// which cache file holds which program, so a use can mark it recent.
const cacheIndexName = "sockerless-lru.json"

// diskCache keeps wazero's file cache under a size cap, least recently
// used first. wazero names its files by keys of its own; the sandbox
// learns which file a program compiled to by listing the directory
// around the compilation and records it in cacheIndexName, with the
// value of a use counter at the file's last use. The counter, not the
// file's modification time, orders eviction: two uses within one tick of
// the filesystem's coarse clock (a few ms, easily reached on a busy
// machine) would otherwise tie and evict the wrong file.
type diskCache struct {
	dir string
	max int64

	mu   sync.Mutex
	idx  cacheIndex
	keep map[string]bool // files (relative) never evicted: the applets
}

// cacheIndex is what cacheIndexName holds.
type cacheIndex struct {
	// Files maps a program key to its cache file, relative to dir.
	Files map[string]string `json:"files"`
	// Used is the Clock value at each cache file's last use; a file
	// missing here (cached before the index knew it) is the oldest.
	Used map[string]uint64 `json:"used"`
	// Clock counts uses, so later uses have larger values.
	Clock uint64 `json:"clock"`
}

func newDiskCache(dir string, maxBytes int64) *diskCache {
	d := &diskCache{dir: dir, max: maxBytes, keep: map[string]bool{}}
	if data, err := os.ReadFile(filepath.Join(dir, cacheIndexName)); err == nil {
		// An index it cannot read (an older format) is started afresh:
		// its files age out first.
		_ = json.Unmarshal(data, &d.idx)
	}
	if d.idx.Files == nil {
		d.idx.Files = map[string]string{}
	}
	if d.idx.Used == nil {
		d.idx.Used = map[string]uint64{}
	}
	return d
}

// files lists the cache's files (not the index), relative to dir.
func (d *diskCache) files() map[string]fs.FileInfo {
	out := map[string]fs.FileInfo{}
	_ = filepath.WalkDir(d.dir, func(p string, e fs.DirEntry, err error) error {
		if err != nil || e.IsDir() || e.Name() == cacheIndexName || e.Name() == cacheIndexName+".tmp" {
			return nil
		}
		fi, err := e.Info()
		rel, rerr := filepath.Rel(d.dir, p)
		if err == nil && rerr == nil {
			out[rel] = fi
		}
		return nil
	})
	return out
}

// compile runs compileFn for the program named key, records the
// cache file it produced (or used), marks it recent and evicts the least
// recently used files past the cap. keep protects the file from eviction.
// Compilations are serialised so that the files they add can be told apart.
func (d *diskCache) compile(key string, keep bool, compileFn func() error) error {
	if d == nil {
		return compileFn()
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	before := d.files()
	if err := compileFn(); err != nil {
		return err
	}
	after := d.files()
	found := false
	for p := range after {
		if _, ok := before[p]; !ok {
			d.idx.Files[key], found = p, true
		}
	}
	if _, known := d.idx.Files[key]; !found && !known {
		// Served from a file cached before the index knew it: the one
		// the compilation read (its access time moved; on a noatime
		// filesystem it stays unknown and ages out). Only a single such
		// file that no other program owns is taken: another read at the
		// same moment (the applets loading) must not be taken for it.
		owned := map[string]bool{}
		for _, p := range d.idx.Files {
			owned[p] = true
		}
		var read []string
		for p, fi := range after {
			if b, ok := before[p]; ok && !owned[p] && !d.keep[p] {
				if ta, ok1 := accessTime(fi); ok1 {
					if tb, ok2 := accessTime(b); ok2 && ta.After(tb) {
						read = append(read, p)
					}
				}
			}
		}
		if len(read) == 1 {
			d.idx.Files[key] = read[0]
		}
	}
	if keep {
		d.keep[d.idx.Files[key]] = true
	}
	d.touchLocked(key)
	d.evictLocked()
	return nil
}

// used marks the program's cache file recent (a compiled module served
// from memory).
func (d *diskCache) used(key string) {
	if d == nil {
		return
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	d.touchLocked(key)
}

// programKey names a WASI program in the index: its sha256.
func programKey(sum [32]byte) string { return hex.EncodeToString(sum[:]) }

// touchLocked marks the program's file as the most recently used. The
// modification time is moved too, for people looking at the directory;
// eviction goes by the counter.
func (d *diskCache) touchLocked(key string) {
	if p, ok := d.idx.Files[key]; ok {
		now := time.Now()
		if err := os.Chtimes(filepath.Join(d.dir, p), now, now); err != nil {
			delete(d.idx.Files, key)
			return
		}
		d.idx.Clock++
		d.idx.Used[p] = d.idx.Clock
	}
}

// evictLocked removes the least recently used files until the cache
// fits its cap, and saves the index.
func (d *diskCache) evictLocked() {
	files := d.files()
	var total int64
	paths := make([]string, 0, len(files))
	for p, fi := range files {
		total += fi.Size()
		paths = append(paths, p)
	}
	// Least recently used first; files the index never saw used go
	// before all others, oldest first.
	slices.SortFunc(paths, func(a, b string) int {
		if c := cmp.Compare(d.idx.Used[a], d.idx.Used[b]); c != 0 {
			return c
		}
		if c := files[a].ModTime().Compare(files[b].ModTime()); c != 0 {
			return c
		}
		return strings.Compare(a, b)
	})
	for _, p := range paths {
		if total <= d.max {
			break
		}
		if d.keep[p] {
			continue
		}
		if os.Remove(filepath.Join(d.dir, p)) == nil {
			total -= files[p].Size()
			delete(files, p)
		}
	}
	for k, p := range d.idx.Files {
		if _, ok := files[p]; !ok {
			delete(d.idx.Files, k)
		}
	}
	for p := range d.idx.Used {
		if _, ok := files[p]; !ok {
			delete(d.idx.Used, p)
		}
	}
	if data, err := json.Marshal(d.idx); err == nil {
		tmp := filepath.Join(d.dir, cacheIndexName+".tmp")
		if os.WriteFile(tmp, data, 0o600) == nil {
			_ = os.Rename(tmp, filepath.Join(d.dir, cacheIndexName))
		}
	}
}

// CacheSize is the bytes the compilation cache holds on disk (0 without a
// cache directory).
func (s *Sandbox) CacheSize() int64 {
	if s.disk == nil {
		return 0
	}
	s.disk.mu.Lock()
	defer s.disk.mu.Unlock()
	var n int64
	for _, fi := range s.disk.files() {
		n += fi.Size()
	}
	return n
}
