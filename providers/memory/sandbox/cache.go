package sandbox

import (
	"encoding/hex"
	"encoding/json"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
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
// around the compilation, records it in cacheIndexName, and marks a file
// used by its modification time.
type diskCache struct {
	dir string
	max int64

	mu    sync.Mutex
	index map[string]string // program key -> cache file, relative to dir
	keep  map[string]bool   // files (relative) never evicted: the applets
}

func newDiskCache(dir string, maxBytes int64) *diskCache {
	d := &diskCache{dir: dir, max: maxBytes, index: map[string]string{}, keep: map[string]bool{}}
	if data, err := os.ReadFile(filepath.Join(dir, cacheIndexName)); err == nil {
		_ = json.Unmarshal(data, &d.index)
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
			d.index[key], found = p, true
		}
	}
	if _, known := d.index[key]; !found && !known {
		// Served from a file cached before the index knew it: the one
		// the compilation read (its access time moved; on a noatime
		// filesystem it stays unknown and ages out).
		for p, fi := range after {
			if b, ok := before[p]; ok {
				if ta, ok1 := accessTime(fi); ok1 {
					if tb, ok2 := accessTime(b); ok2 && ta.After(tb) {
						d.index[key] = p
					}
				}
			}
		}
	}
	if keep {
		d.keep[d.index[key]] = true
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

func (d *diskCache) touchLocked(key string) {
	if p, ok := d.index[key]; ok {
		now := time.Now()
		if err := os.Chtimes(filepath.Join(d.dir, p), now, now); err != nil {
			delete(d.index, key)
		}
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
	slices.SortFunc(paths, func(a, b string) int { return files[a].ModTime().Compare(files[b].ModTime()) })
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
	for k, p := range d.index {
		if _, ok := files[p]; !ok {
			delete(d.index, k)
		}
	}
	if data, err := json.Marshal(d.index); err == nil {
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
