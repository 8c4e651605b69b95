package treesync

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"io/fs"
)

// Stream magics: each stream starts with one, so a manifest is never read
// as a delta or the other way round.
const (
	manifestMagic = "TSYNC-M1"
	deltaMagic    = "TSYNC-D1"
)

// Record types.
const (
	recEnd    = 'E' // end of stream
	recEntry  = 'e' // manifest entry
	recDir    = 'd' // delta: make (or keep) a directory: path, mode
	recLink   = 'l' // delta: a symlink: path, target
	recFile   = 'f' // delta: a file's content: path, mode, mtime, chunks
	recMeta   = 'm' // delta: a file whose content is unchanged: path, mode, mtime
	recDelete = 'x' // delta: remove a path (and everything under it)
)

// encoder writes records through a buffer and counts the bytes.
type encoder struct {
	w   *bufio.Writer
	n   int64
	err error
	tmp [binary.MaxVarintLen64]byte
}

type countWriter struct {
	w io.Writer
	n *int64
}

func (c countWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	*c.n += int64(n)
	return n, err
}

func newEncoder(w io.Writer) *encoder {
	e := &encoder{}
	e.w = bufio.NewWriterSize(countWriter{w, &e.n}, 64<<10)
	return e
}

func (e *encoder) raw(b []byte) {
	if e.err == nil {
		_, e.err = e.w.Write(b)
	}
}

func (e *encoder) byte(b byte) {
	if e.err == nil {
		e.err = e.w.WriteByte(b)
	}
}

func (e *encoder) uvarint(v uint64) { e.raw(e.tmp[:binary.PutUvarint(e.tmp[:], v)]) }
func (e *encoder) varint(v int64)   { e.raw(e.tmp[:binary.PutVarint(e.tmp[:], v)]) }

func (e *encoder) str(s string) {
	e.uvarint(uint64(len(s)))
	if e.err == nil {
		_, e.err = e.w.WriteString(s)
	}
}

func (e *encoder) flush() error {
	if e.err == nil {
		e.err = e.w.Flush()
	}
	return e.err
}

// decoder reads records with every length checked against a limit before
// anything is allocated.
type decoder struct {
	r *bufio.Reader
}

// newDecoder reads r through a buffer; a *bufio.Reader is used as it is,
// so several streams read one after another from it (two manifests) do
// not lose bytes to each other's read-ahead.
func newDecoder(r io.Reader) *decoder {
	if br, ok := r.(*bufio.Reader); ok {
		return &decoder{r: br}
	}
	return &decoder{r: bufio.NewReaderSize(r, 64<<10)}
}

// short turns an end of input inside a record into a format error.
func short(err error) error {
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return fmt.Errorf("%w: truncated", ErrFormat)
	}
	return err
}

func (d *decoder) magic(want string) error {
	got := make([]byte, len(want))
	if _, err := io.ReadFull(d.r, got); err != nil {
		return short(err)
	}
	if string(got) != want {
		return fmt.Errorf("%w: not a %s stream", ErrFormat, want)
	}
	return nil
}

func (d *decoder) byte() (byte, error) {
	b, err := d.r.ReadByte()
	return b, short(err)
}

func (d *decoder) uvarint() (uint64, error) {
	v, err := binary.ReadUvarint(d.r)
	if err != nil && !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF) {
		return 0, fmt.Errorf("%w: %v", ErrFormat, err)
	}
	return v, short(err)
}

func (d *decoder) varint() (int64, error) {
	v, err := binary.ReadVarint(d.r)
	if err != nil && !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF) {
		return 0, fmt.Errorf("%w: %v", ErrFormat, err)
	}
	return v, short(err)
}

func (d *decoder) str(limit int) (string, error) {
	n, err := d.uvarint()
	if err != nil {
		return "", err
	}
	if n > uint64(limit) {
		return "", fmt.Errorf("%w: string of %d bytes (limit %d)", ErrFormat, n, limit)
	}
	if int(n) <= d.r.Size() {
		// Within the buffer: one allocation, the string itself.
		b, err := d.r.Peek(int(n))
		if err != nil {
			return "", short(err)
		}
		s := string(b)
		_, _ = d.r.Discard(int(n))
		return s, nil
	}
	b := make([]byte, n)
	if _, err := io.ReadFull(d.r, b); err != nil {
		return "", short(err)
	}
	return string(b), nil
}

// path reads a path and refuses anything but a clean relative path below
// the root.
func (d *decoder) path() (string, error) {
	p, err := d.str(MaxPath)
	if err != nil {
		return "", err
	}
	if !validPath(p) {
		return "", fmt.Errorf("%w: %q is not a relative path inside the root", ErrUnsafe, p)
	}
	return p, nil
}

func (d *decoder) mode() (fs.FileMode, error) {
	v, err := d.uvarint()
	if err != nil {
		return 0, err
	}
	m := fs.FileMode(v)
	if uint64(m) != v || m&^modeBits != 0 {
		return 0, fmt.Errorf("%w: mode %#o", ErrFormat, v)
	}
	return m, nil
}
