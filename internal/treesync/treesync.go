// Package treesync carries a directory tree from one side of the cloud
// boundary to the other: a bind whose source is on the runner host and
// whose copy lives in a remote workload. The receiving side describes what
// it has (a Manifest: paths, types, permissions, sizes, modification times
// and symlink targets); the sending side walks its own tree and streams a
// delta — only the entries that differ, with content only for regular files
// whose size or time changed, and deletions — which the receiver applies
// under an os.Root. Applying never follows a symlink, never writes outside
// the root, and holds at most one chunk of file content in memory. A
// Watcher keeps a tree's manifest between carries from the changes the
// kernel reports, so a carry of a small change does not walk the tree.
//
// A carry makes the receiver equal the sender (the sender is authoritative
// at that moment: the host before a start or an exec, the workload after an
// exec and at stop). Equal means: the same paths; the same type of each;
// the same permission bits (with setuid, setgid and sticky) for files and
// directories; the same size, modification time and content for regular
// files; the same target for symlinks. Directory times, ownership, hard
// links (carried as separate files) and special files (FIFOs, sockets,
// devices, which are neither carried nor deleted) are outside that
// definition.
package treesync

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"slices"
	"strings"
)

// Type is the kind of a tree entry.
type Type uint8

// Entry types. Other file kinds (FIFOs, sockets, devices) are not carried.
const (
	File    Type = 'f'
	Dir     Type = 'd'
	Symlink Type = 'l'
)

func (t Type) String() string {
	switch t {
	case File:
		return "file"
	case Dir:
		return "dir"
	case Symlink:
		return "symlink"
	}
	return fmt.Sprintf("type(%d)", uint8(t))
}

// modeBits are the mode bits a carry keeps: permissions plus setuid,
// setgid and sticky.
const modeBits = fs.ModePerm | fs.ModeSetuid | fs.ModeSetgid | fs.ModeSticky

// Limits on what a manifest or delta may declare, so a hostile or corrupt
// stream cannot make a reader allocate without bound.
const (
	// MaxPath is the longest path (relative to the root) accepted.
	MaxPath = 4096
	// MaxTarget is the longest symlink target accepted.
	MaxTarget = 4096
	// MaxChunk is the largest piece of file content in one delta record;
	// the applier's memory for content is one chunk.
	MaxChunk = 256 << 10
	// MaxEntries is the largest manifest accepted.
	MaxEntries = 4 << 20
)

// ErrUnsafe is returned (wrapped) when a delta names a path that is not a
// plain relative path inside the root, or that reaches its target through
// a symlink or a non-directory.
var ErrUnsafe = errors.New("treesync: unsafe path")

// ErrFormat is returned (wrapped) for a stream that is not a well-formed
// manifest or delta.
var ErrFormat = errors.New("treesync: malformed stream")

// Entry describes one path of a tree, relative to its root, with slashes.
type Entry struct {
	Path string
	Type Type
	// Mode holds the permission, setuid, setgid and sticky bits (zero for
	// symlinks).
	Mode fs.FileMode
	// Size and Mtime (Unix nanoseconds) are set for regular files only.
	Size  int64
	Mtime int64
	// Target is a symlink's target, as stored (never resolved).
	Target string
}

// same reports whether the receiver's entry r needs nothing from the
// sender's entry s; content reports whether a file's content must be sent.
func same(s, r Entry) (equal, content bool) {
	if s.Type != r.Type {
		return false, s.Type == File
	}
	switch s.Type {
	case File:
		if s.Size != r.Size || s.Mtime != r.Mtime {
			return false, true
		}
		return s.Mode == r.Mode, false
	case Dir:
		return s.Mode == r.Mode, false
	default:
		return s.Target == r.Target, false
	}
}

// Manifest is the description of a tree, keyed by path. The root itself
// is not an entry.
type Manifest map[string]Entry

// validPath reports whether p is a path a manifest or delta may name: a
// clean, relative, slash-separated path below the root (not the root
// itself), with no NUL.
func validPath(p string) bool {
	return p != "." && len(p) <= MaxPath && fs.ValidPath(p) && !strings.ContainsRune(p, 0) && !strings.ContainsRune(p, '\\')
}

// Scan describes the tree under root. Entries of other kinds (FIFOs,
// sockets, devices) are left out.
func Scan(root *os.Root) (Manifest, error) {
	m := Manifest{}
	err := walk(root, func(e Entry) error {
		m[e.Path] = e
		return nil
	})
	return m, err
}

// walk calls fn for every entry under root, parents before their
// children, each directory's entries in name order.
func walk(root *os.Root, fn func(Entry) error) error {
	var dir func(p string) error
	dir = func(p string) error {
		ents, err := readDir(root, p)
		if err != nil {
			return err
		}
		for _, e := range ents {
			if err := fn(e); err != nil {
				return err
			}
			if e.Type == Dir {
				if err := dir(e.Path); err != nil {
					return err
				}
			}
		}
		return nil
	}
	return dir(".")
}

// WriteManifest encodes m to w, entries in path order.
func WriteManifest(w io.Writer, m Manifest) error {
	paths := make([]string, 0, len(m))
	for p := range m {
		paths = append(paths, p)
	}
	slices.Sort(paths)
	return writeManifest(w, m, paths)
}

// writeManifest encodes the entries of m at paths, in that order.
func writeManifest(w io.Writer, m Manifest, paths []string) error {
	e := newEncoder(w)
	e.raw([]byte(manifestMagic))
	for _, p := range paths {
		x := m[p]
		e.byte(recEntry)
		e.str(x.Path)
		e.byte(byte(x.Type))
		e.uvarint(uint64(x.Mode))
		e.uvarint(uint64(x.Size))
		e.varint(x.Mtime)
		e.str(x.Target)
	}
	e.byte(recEnd)
	return e.flush()
}

// ReadManifest decodes a manifest written by WriteManifest. It refuses
// invalid paths and types, duplicates, and more than MaxEntries entries.
// Given a *bufio.Reader it reads no further than the manifest's end.
func ReadManifest(r io.Reader) (Manifest, error) {
	d := newDecoder(r)
	if err := d.magic(manifestMagic); err != nil {
		return nil, err
	}
	m := Manifest{}
	for {
		op, err := d.byte()
		if err != nil {
			return nil, err
		}
		if op == recEnd {
			return m, nil
		}
		if op != recEntry {
			return nil, fmt.Errorf("%w: record %d in a manifest", ErrFormat, op)
		}
		if len(m) >= MaxEntries {
			return nil, fmt.Errorf("%w: more than %d entries", ErrFormat, MaxEntries)
		}
		var x Entry
		if x.Path, err = d.path(); err != nil {
			return nil, err
		}
		t, err := d.byte()
		if err != nil {
			return nil, err
		}
		x.Type = Type(t)
		mode, err := d.mode()
		if err != nil {
			return nil, err
		}
		x.Mode = mode
		size, err := d.uvarint()
		if err != nil {
			return nil, err
		}
		if size > 1<<62 {
			return nil, fmt.Errorf("%w: size %d", ErrFormat, size)
		}
		x.Size = int64(size)
		if x.Mtime, err = d.varint(); err != nil {
			return nil, err
		}
		if x.Target, err = d.str(MaxTarget); err != nil {
			return nil, err
		}
		switch x.Type {
		case File, Dir, Symlink:
		default:
			return nil, fmt.Errorf("%w: entry type %d", ErrFormat, t)
		}
		n := len(m)
		m[x.Path] = x
		if len(m) == n {
			return nil, fmt.Errorf("%w: %s listed twice", ErrFormat, x.Path)
		}
	}
}
