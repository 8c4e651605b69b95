package memory

import (
	"fmt"
	"io/fs"
	"maps"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/sockerless/sockerless/internal/errdefs"
	"github.com/sockerless/sockerless/providers"
	"github.com/sockerless/sockerless/providers/memory/sandbox"
)

// sizeLimits are the byte limits s asked for: --storage-opt size= on the
// root ("/") and size= of each --tmpfs, by mount point. A tmpfs size in
// percent (of the host's memory) is not a limit the sandbox can hold to a
// fixed count and is left unbounded.
func sizeLimits(s providers.Spec) (map[string]int64, error) {
	out := map[string]int64{}
	for k, v := range s.StorageOpt {
		if k != "size" {
			return nil, errdefs.InvalidParameterf("unknown storage option %q: the memory provider knows size", k)
		}
		n, err := parseBytes(v)
		if err != nil || n <= 0 {
			return nil, errdefs.InvalidParameterf("invalid storage option size: %q", v)
		}
		out["/"] = n
	}
	for _, dst := range slices.Sorted(maps.Keys(s.Tmpfs)) {
		for _, o := range strings.Split(s.Tmpfs[dst], ",") {
			v, ok := strings.CutPrefix(o, "size=")
			if !ok || strings.HasSuffix(v, "%") {
				continue
			}
			n, err := parseBytes(v)
			if err != nil || n <= 0 {
				return nil, errdefs.InvalidParameterf("invalid tmpfs size for %s: %q", dst, v)
			}
			out[filepath.Clean(dst)] = n
		}
	}
	return out, nil
}

// quotas are w's size limits with what their files hold now: a tmpfs
// all of its files, the root the files written since the container was
// created (Docker's limit is on the container's writable layer, not on
// its image).
func (w *workload) quotas() ([]sandbox.Quota, error) {
	var out []sandbox.Quota
	for _, dst := range slices.Sorted(maps.Keys(w.limits)) {
		q := sandbox.Quota{Target: dst, Limit: w.limits[dst]}
		var err error
		if dst == "/" {
			q.Used, err = usage(filepath.Join(w.dir, "root"), w.created)
		} else {
			q.Used, err = usage(tmpfsDir(w.dir, dst), time.Time{})
		}
		if err != nil {
			return nil, fmt.Errorf("memory: size of %s: %w", dst, err)
		}
		out = append(out, q)
	}
	return out, nil
}

// usage is the bytes of the regular files under dir changed after since.
func usage(dir string, since time.Time) (int64, error) {
	var n int64
	err := filepath.WalkDir(dir, func(_ string, e fs.DirEntry, err error) error {
		if err != nil || !e.Type().IsRegular() {
			return err
		}
		fi, err := e.Info()
		if err != nil {
			return err
		}
		if fi.ModTime().After(since) {
			n += fi.Size()
		}
		return nil
	})
	return n, err
}

// tmpfsDir is where the tmpfs at dst of the container in dir keeps its
// files.
func tmpfsDir(dir, dst string) string {
	return filepath.Join(dir, "tmpfs", strings.ReplaceAll(strings.Trim(dst, "/"), "/", "_"))
}
