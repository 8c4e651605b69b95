package treesync

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Stats counts what one delta carried.
type Stats struct {
	// Dirs, Files, Links and Meta count directory, file-content,
	// symlink and metadata-only records; Deleted counts deletions.
	Dirs, Files, Links, Meta, Deleted int
	// Content is the number of file-content bytes carried (holes, runs of
	// zeros sent as a length only, excluded).
	Content int64
	// Wire is the size of the delta stream in bytes.
	Wire int64
}

// Send walks the tree under root and writes to w the delta that makes a
// tree described by other equal to it. File content is read and written
// one chunk at a time. ctx is checked between entries.
func Send(ctx context.Context, w io.Writer, root *os.Root, other Manifest) (Stats, error) {
	return SendTracked(ctx, w, root, other, nil, nil)
}

// SendTracked writes the delta that carries what changed under root since
// base, the last state both sides agreed on, to a receiver whose tree recv
// describes: an entry goes when it differs from base (changed here) and
// from recv (the receiver does not have it already), with content only
// when the receiver's file differs in size or time; a path of base that is
// gone here is deleted there. What changed only on the receiver's side
// stays, to be carried the other way; a path changed on both sides takes
// this side's version. Parents the receiver lacks (or has as something
// else) are sent before an entry below them. With a nil base the delta
// makes the receiver equal to this tree (base is recv).
//
// track, when not nil (it may be base itself), is updated with every
// entry the receiver will have from this side and every deletion, so it
// goes on describing the agreed state.
func SendTracked(ctx context.Context, w io.Writer, root *os.Root, recv, base, track Manifest) (Stats, error) {
	if base == nil {
		base = recv
	}
	seen := make(map[string]Type, len(base))
	dirs := map[string]Entry{} // this side's directories, for parents sent late
	src := source{
		each: func(fn func(Entry) error) error {
			return walk(root, func(x Entry) error {
				seen[x.Path] = x.Type
				if x.Type == Dir {
					dirs[x.Path] = x
				}
				return fn(x)
			})
		},
		typeOf: func(p string) Type { return seen[p] },
		dir:    func(p string) Entry { return dirs[p] },
	}
	return sendDelta(ctx, w, root, src, recv, base, track)
}

// source is the sending side's tree as sendDelta reads it: each calls fn
// for every entry, parents before their children, each directory's
// entries in name order (walk's order); typeOf and dir answer for entries
// each has passed.
type source struct {
	each   func(fn func(Entry) error) error
	typeOf func(p string) Type
	dir    func(p string) Entry
}

// sendDelta is SendTracked on a tree read through src.
func sendDelta(ctx context.Context, w io.Writer, root *os.Root, src source, recv, base, track Manifest) (Stats, error) {
	var st Stats
	e := newEncoder(w)
	e.raw([]byte(deltaMagic))
	sent := map[string]bool{} // directories sent
	buf := make([]byte, MaxChunk)
	zeros := make([]byte, MaxChunk)
	note := func(x Entry) {
		if track == nil {
			return
		}
		if old, ok := track[x.Path]; ok && old.Type == Dir && x.Type != Dir {
			forget(track, x.Path, false)
		}
		track[x.Path] = x
	}
	dir := func(x Entry) {
		st.Dirs++
		sent[x.Path] = true
		note(x)
		e.byte(recDir)
		e.str(x.Path)
		e.uvarint(uint64(x.Mode))
	}
	err := src.each(func(x Entry) error {
		if err := ctx.Err(); err != nil {
			return err
		}
		if b, ok := base[x.Path]; ok {
			if equal, _ := same(x, b); equal {
				return nil // unchanged here since the last carry
			}
		}
		content := true
		if r, ok := recv[x.Path]; ok {
			var equal bool
			if equal, content = same(x, r); equal {
				note(x)
				return nil
			}
		}
		for i := 0; i < len(x.Path); i++ {
			if x.Path[i] != '/' {
				continue
			}
			if a := x.Path[:i]; !sent[a] && recv[a].Type != Dir {
				dir(src.dir(a))
			}
		}
		switch x.Type {
		case Dir:
			dir(x)
		case Symlink:
			st.Links++
			note(x)
			e.byte(recLink)
			e.str(x.Path)
			e.str(x.Target)
		case File:
			note(x)
			if !content {
				st.Meta++
				e.byte(recMeta)
				e.str(x.Path)
				e.uvarint(uint64(x.Mode))
				e.varint(x.Mtime)
				return e.err
			}
			st.Files++
			return sendFile(e, root, x, buf, zeros, &st)
		}
		return e.err
	})
	if err != nil {
		return st, err
	}
	// Deletions, parents before children; a path whose parent is not a
	// directory here goes with its parent (removed or replaced whole).
	var gone []string
	for p := range base {
		if src.typeOf(p) != 0 {
			continue
		}
		if dir := path.Dir(p); dir != "." && src.typeOf(dir) != Dir {
			continue
		}
		gone = append(gone, p)
	}
	sort.Strings(gone)
	for _, p := range gone {
		if track != nil {
			forget(track, p, true)
		}
		if _, ok := recv[p]; !ok {
			continue // gone there too
		}
		st.Deleted++
		e.byte(recDelete)
		e.str(p)
	}
	e.byte(recEnd)
	err = e.flush()
	st.Wire = e.n
	return st, err
}

// forget removes from m the entries below p, and p itself when self.
func forget(m Manifest, p string, self bool) {
	if e, ok := m[p]; ok && e.Type != Dir {
		if self {
			delete(m, p)
		}
		return // nothing below a file or link
	}
	if self {
		delete(m, p)
	}
	for q := range m {
		if strings.HasPrefix(q, p) && len(q) > len(p) && q[len(p)] == '/' {
			delete(m, q)
		}
	}
}

// sendFile writes a file record: its header, then chunks (a uvarint whose
// low bit marks a hole, a run of zeros sent as its length only), then a
// zero-length chunk.
func sendFile(e *encoder, root *os.Root, x Entry, buf, zeros []byte, st *Stats) error {
	f, err := root.Open(x.Path)
	if err != nil {
		return fmt.Errorf("treesync: %w", err)
	}
	defer f.Close()
	if fi, err := f.Stat(); err != nil || !fi.Mode().IsRegular() {
		return fmt.Errorf("treesync: %s changed while it was read", x.Path)
	}
	e.byte(recFile)
	e.str(x.Path)
	e.uvarint(uint64(x.Mode))
	e.varint(x.Mtime)
	for e.err == nil {
		n, rerr := io.ReadFull(f, buf)
		if n > 0 {
			if bytes.Equal(buf[:n], zeros[:n]) {
				e.uvarint(uint64(n)<<1 | 1)
			} else {
				e.uvarint(uint64(n) << 1)
				e.raw(buf[:n])
				st.Content += int64(n)
			}
		}
		if rerr == io.EOF || rerr == io.ErrUnexpectedEOF {
			break
		}
		if rerr != nil {
			return fmt.Errorf("treesync: read %s: %w", x.Path, rerr)
		}
	}
	e.uvarint(0)
	return e.err
}

// Apply reads a delta from r and applies it under root. Every path is
// checked before use: it must be a clean relative path, and each of its
// parents must be a real directory (not a symlink), so a delta can neither
// leave the root nor write through a link it created. Symlinks are made as
// links and never followed. Directory permissions are set once the delta
// has been applied, so a read-only directory can still receive its
// entries. A refused or malformed record stops Apply with an error
// wrapping ErrUnsafe or ErrFormat; records before it stay applied.
func Apply(ctx context.Context, r io.Reader, root *os.Root) (Stats, error) {
	return ApplyTracked(ctx, r, root, nil)
}

// ApplyTracked is Apply that also records in track (when not nil) each
// entry as applied and each deletion (see SendTracked).
func ApplyTracked(ctx context.Context, r io.Reader, root *os.Root, track Manifest) (Stats, error) {
	a := applier{root: root, d: newDecoder(r), dirs: map[string]bool{}, buf: make([]byte, MaxChunk), track: track}
	return a.run(ctx)
}

// record notes an applied entry in the tracked manifest.
func (a *applier) record(e Entry) {
	if a.track == nil {
		return
	}
	if old, ok := a.track[e.Path]; ok && old.Type == Dir && e.Type != Dir {
		forget(a.track, e.Path, false)
	}
	a.track[e.Path] = e
}

type applier struct {
	root *os.Root
	d    *decoder
	// dirs caches paths checked to be real directories.
	dirs  map[string]bool
	modes []dirMode
	buf   []byte
	seq   int
	track Manifest
}

type dirMode struct {
	path string
	mode fs.FileMode
}

func (a *applier) run(ctx context.Context) (Stats, error) {
	var st Stats
	if err := a.d.magic(deltaMagic); err != nil {
		return st, err
	}
	st.Wire = int64(len(deltaMagic))
	for {
		if err := ctx.Err(); err != nil {
			return st, err
		}
		op, err := a.d.byte()
		if err != nil {
			return st, err
		}
		switch op {
		case recEnd:
			// Deepest first, so a parent made read-only last.
			sort.Slice(a.modes, func(i, j int) bool { return a.modes[i].path > a.modes[j].path })
			for _, m := range a.modes {
				if err := a.chmodDir(m.path, m.mode); err != nil {
					return st, err
				}
			}
			return st, nil
		case recDir:
			st.Dirs++
			err = a.dir()
		case recLink:
			st.Links++
			err = a.link()
		case recFile:
			st.Files++
			err = a.file(&st)
		case recMeta:
			st.Meta++
			err = a.meta()
		case recDelete:
			st.Deleted++
			err = a.delete()
		default:
			err = fmt.Errorf("%w: record %d in a delta", ErrFormat, op)
		}
		if err != nil {
			return st, err
		}
	}
}

// parents checks that every parent of p is a real directory; with
// create, missing ones are made.
func (a *applier) parents(p string, create bool) error {
	for i := 0; i < len(p); i++ {
		if p[i] != '/' {
			continue
		}
		dir := p[:i]
		if a.dirs[dir] {
			continue
		}
		fi, err := a.root.Lstat(dir)
		if errors.Is(err, fs.ErrNotExist) && create {
			// Removed on this side since the last carry: made again
			// (the sender's side wins), as a real directory.
			if err := a.root.Mkdir(dir, 0o755); err != nil {
				return fmt.Errorf("treesync: %w", err)
			}
			a.dirs[dir] = true
			a.record(Entry{Path: dir, Type: Dir, Mode: 0o755})
			continue
		}
		if err != nil {
			return fmt.Errorf("%w: %s: parent %s: %w", ErrUnsafe, p, dir, err)
		}
		if !fi.IsDir() {
			return fmt.Errorf("%w: %s: parent %s is not a directory", ErrUnsafe, p, dir)
		}
		a.dirs[dir] = true
	}
	return nil
}

// clear removes whatever is at p (a link itself, never its target) unless
// keep says to keep it, and forgets cached directories at or below p.
func (a *applier) clear(p string, keep func(fs.FileInfo) bool) (existed bool, err error) {
	fi, err := a.root.Lstat(p)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("treesync: %w", err)
	}
	if keep != nil && keep(fi) {
		return true, nil
	}
	if fi.IsDir() {
		for d := range a.dirs {
			if d == p || strings.HasPrefix(d, p+"/") {
				delete(a.dirs, d)
			}
		}
		err = a.root.RemoveAll(p)
	} else {
		err = a.root.Remove(p)
	}
	if err != nil {
		return false, fmt.Errorf("treesync: remove %s: %w", p, err)
	}
	return false, nil
}

func (a *applier) dir() error {
	p, err := a.d.path()
	if err != nil {
		return err
	}
	mode, err := a.d.mode()
	if err != nil {
		return err
	}
	if err := a.parents(p, true); err != nil {
		return err
	}
	isDir := func(fi fs.FileInfo) bool { return fi.IsDir() }
	existed, err := a.clear(p, isDir)
	if err != nil {
		return err
	}
	if !existed {
		if err := a.root.Mkdir(p, 0o700); err != nil {
			return fmt.Errorf("treesync: %w", err)
		}
	}
	a.dirs[p] = true
	a.modes = append(a.modes, dirMode{p, mode})
	a.record(Entry{Path: p, Type: Dir, Mode: mode})
	return nil
}

func (a *applier) chmodDir(p string, mode fs.FileMode) error {
	fi, err := a.root.Lstat(p)
	if err != nil || !fi.IsDir() {
		return nil // replaced later in the same delta
	}
	if err := a.root.Chmod(p, mode); err != nil {
		return fmt.Errorf("treesync: %w", err)
	}
	return nil
}

func (a *applier) link() error {
	p, err := a.d.path()
	if err != nil {
		return err
	}
	target, err := a.d.str(MaxTarget)
	if err != nil {
		return err
	}
	if target == "" || strings.ContainsRune(target, 0) {
		return fmt.Errorf("%w: symlink %s with an empty or NUL target", ErrFormat, p)
	}
	if err := a.parents(p, true); err != nil {
		return err
	}
	if _, err := a.clear(p, nil); err != nil {
		return err
	}
	if err := a.root.Symlink(target, p); err != nil {
		return fmt.Errorf("treesync: %w", err)
	}
	a.record(Entry{Path: p, Type: Symlink, Target: target})
	return nil
}

// file writes a file's content to a new temporary file beside it and
// renames it into place, so a reader never sees a half-written file and an
// existing link at p is replaced, not written through.
func (a *applier) file(st *Stats) error {
	p, err := a.d.path()
	if err != nil {
		return err
	}
	mode, err := a.d.mode()
	if err != nil {
		return err
	}
	mtime, err := a.d.varint()
	if err != nil {
		return err
	}
	if err := a.parents(p, true); err != nil {
		return err
	}
	a.seq++
	tmp := path.Join(path.Dir(p), ".treesync-"+strconv.Itoa(os.Getpid())+"-"+strconv.Itoa(a.seq))
	f, err := a.root.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("treesync: %w", err)
	}
	size, err := a.content(f, st)
	if err == nil {
		err = f.Chmod(mode)
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		t := time.Unix(0, mtime)
		err = a.root.Chtimes(tmp, t, t)
	}
	if err == nil {
		_, err = a.clear(p, func(fi fs.FileInfo) bool { return !fi.IsDir() })
	}
	if err == nil {
		err = a.root.Rename(tmp, p)
	}
	if err != nil {
		_ = a.root.Remove(tmp)
		if errors.Is(err, ErrFormat) || errors.Is(err, ErrUnsafe) {
			return err
		}
		return fmt.Errorf("treesync: write %s: %w", p, err)
	}
	a.record(Entry{Path: p, Type: File, Mode: mode, Size: size, Mtime: mtime})
	return nil
}

// content copies a file record's chunks into f, leaving holes for runs of
// zeros.
func (a *applier) content(f *os.File, st *Stats) (int64, error) {
	var off int64
	for {
		h, err := a.d.uvarint()
		if err != nil {
			return off, err
		}
		n := int64(h >> 1)
		if n == 0 {
			return off, f.Truncate(off)
		}
		if n > MaxChunk {
			return off, fmt.Errorf("%w: chunk of %d bytes (limit %d)", ErrFormat, n, MaxChunk)
		}
		if off > 1<<62-n {
			return off, fmt.Errorf("%w: file too large", ErrFormat)
		}
		if h&1 == 0 {
			b := a.buf[:n]
			if _, err := io.ReadFull(a.d.r, b); err != nil {
				return off, short(err)
			}
			if _, err := f.WriteAt(b, off); err != nil {
				return off, err
			}
			st.Content += n
		}
		off += n
	}
}

func (a *applier) meta() error {
	p, err := a.d.path()
	if err != nil {
		return err
	}
	mode, err := a.d.mode()
	if err != nil {
		return err
	}
	mtime, err := a.d.varint()
	if err != nil {
		return err
	}
	if err := a.parents(p, true); err != nil {
		return err
	}
	fi, err := a.root.Lstat(p)
	if err != nil || !fi.Mode().IsRegular() {
		return fmt.Errorf("%w: %s: metadata for something that is not a regular file", ErrUnsafe, p)
	}
	t := time.Unix(0, mtime)
	if err := a.root.Chmod(p, mode); err != nil {
		return fmt.Errorf("treesync: %w", err)
	}
	if err := a.root.Chtimes(p, t, t); err != nil {
		return fmt.Errorf("treesync: %w", err)
	}
	a.record(Entry{Path: p, Type: File, Mode: mode, Size: fi.Size(), Mtime: mtime})
	return nil
}

func (a *applier) delete() error {
	p, err := a.d.path()
	if err != nil {
		return err
	}
	if err := a.parents(p, false); err != nil {
		// A missing parent means p is gone already; a link or file as
		// parent is refused by parents like any other record.
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		return err
	}
	if _, err = a.clear(p, nil); err == nil && a.track != nil {
		forget(a.track, p, true)
	}
	return err
}
