package memory

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/sockerless/sockerless/providers"
)

// diskLog is a container's output kept on disk, as Docker's json-file
// driver keeps it: one entry per line (a line longer than maxLine is cut
// into entries, as Docker's 16 KiB partial messages), in files of at most
// maxSize bytes of which the newest maxFile are kept; the heap holds only
// the partial line of each stream and an index of every indexEvery-th
// entry. It is not safe for concurrent use (the workload's mutex guards
// it).
type diskLog struct {
	dir     string
	maxSize int64 // 0: one file, never rotated
	maxFile int
	segs    []*logSegment // oldest first; the last is written
	next    int           // sequence number of the next entry
	partial [3]partialLine
	w       *os.File
	bw      *bufio.Writer
	closed  bool
}

// partialLine is a stream's output since its last newline.
type partialLine struct {
	data  []byte
	start time.Time
}

// logSegment is one file of entries first..first+count-1.
type logSegment struct {
	path  string
	first int
	count int
	size  int64
	index []int64 // offset of entry first+i*indexEvery
}

const (
	// maxLine is the longest entry; longer lines are split, as Docker's
	// log copier does.
	maxLine = 16 << 10
	// indexEvery is how sparse the in-heap index is: finding an entry
	// reads past at most indexEvery-1 others.
	indexEvery = 256
	// recordHeader is a record's stream (1 byte), time (8) and length (4).
	recordHeader = 13
)

// newDiskLog keeps a log under dir with Docker's json-file options
// (max-size, max-file).
func newDiskLog(dir string, cfg map[string]string) (*diskLog, error) {
	l := &diskLog{dir: dir, maxFile: 1}
	if v := cfg["max-size"]; v != "" && v != "-1" {
		n, err := parseBytes(v)
		if err != nil || n <= 0 {
			return nil, fmt.Errorf("invalid max-size %q", v)
		}
		l.maxSize = n
	}
	if v := cfg["max-file"]; v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			return nil, fmt.Errorf("invalid max-file %q", v)
		}
		l.maxFile = n
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	return l, l.newSegment()
}

func (l *diskLog) newSegment() error {
	if l.w != nil {
		if err := l.bw.Flush(); err != nil {
			return err
		}
		if err := l.w.Close(); err != nil {
			return err
		}
	}
	s := &logSegment{path: filepath.Join(l.dir, "log."+strconv.Itoa(l.next)), first: l.next}
	f, err := os.OpenFile(s.path, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	l.w, l.bw = f, bufio.NewWriterSize(f, 4<<10)
	l.segs = append(l.segs, s)
	for len(l.segs) > l.maxFile {
		_ = os.Remove(l.segs[0].path)
		l.segs = l.segs[1:]
	}
	return nil
}

// write takes output of stream 1 or 2 and records every line it
// completes.
func (l *diskLog) write(stream int, b []byte, now time.Time) error {
	p := &l.partial[stream]
	for len(b) > 0 {
		if len(p.data) == 0 {
			p.start = now
		}
		i := 0
		for i < len(b) && b[i] != '\n' && len(p.data)+i < maxLine {
			i++
		}
		if i < len(b) && b[i] == '\n' {
			p.data = append(p.data, b[:i+1]...)
			b = b[i+1:]
		} else if len(p.data)+i >= maxLine {
			p.data = append(p.data, b[:i]...)
			b = b[i:]
		} else {
			p.data = append(p.data, b...)
			return nil
		}
		if err := l.append(stream, p.start, p.data); err != nil {
			return err
		}
		p.data = p.data[:0]
	}
	return nil
}

// flush records the partial lines (the process ended).
func (l *diskLog) flush() error {
	for s := 1; s <= 2; s++ {
		if p := &l.partial[s]; len(p.data) > 0 {
			if err := l.append(s, p.start, p.data); err != nil {
				return err
			}
			p.data = p.data[:0]
		}
	}
	if l.bw != nil {
		return l.bw.Flush()
	}
	return nil
}

// pending is the partial lines not yet recorded, stdout then stderr.
func (l *diskLog) pending() []providers.LogEntry {
	var out []providers.LogEntry
	for s := 1; s <= 2; s++ {
		if p := l.partial[s]; len(p.data) > 0 {
			out = append(out, providers.LogEntry{Stream: s, Time: p.start, Data: append([]byte(nil), p.data...)})
		}
	}
	return out
}

func (l *diskLog) append(stream int, t time.Time, data []byte) error {
	if l.closed {
		return errors.New("log closed")
	}
	seg := l.segs[len(l.segs)-1]
	if l.maxSize > 0 && seg.size > 0 && seg.size+recordHeader+int64(len(data)) > l.maxSize {
		if err := l.newSegment(); err != nil {
			return err
		}
		seg = l.segs[len(l.segs)-1]
	}
	if seg.count%indexEvery == 0 {
		seg.index = append(seg.index, seg.size)
	}
	var h [recordHeader]byte
	h[0] = byte(stream)
	binary.LittleEndian.PutUint64(h[1:], uint64(t.UnixNano()))
	binary.LittleEndian.PutUint32(h[9:], uint32(len(data)))
	if _, err := l.bw.Write(h[:]); err != nil {
		return err
	}
	if _, err := l.bw.Write(data); err != nil {
		return err
	}
	seg.size += recordHeader + int64(len(data))
	seg.count++
	l.next++
	return nil
}

// base is the sequence number of the oldest kept entry.
func (l *diskLog) base() int { return l.segs[0].first }

// each calls fn with entries from sequence number from on, in order,
// until fn returns false.
func (l *diskLog) each(from int, fn func(seq int, e providers.LogEntry) bool) error {
	if err := l.bw.Flush(); err != nil {
		return err
	}
	for _, s := range l.segs {
		if from >= s.first+s.count {
			continue
		}
		start := max(from-s.first, 0)
		f, err := os.Open(s.path)
		if err != nil {
			return err
		}
		k := start / indexEvery
		if _, err := f.Seek(s.index[k], io.SeekStart); err != nil {
			f.Close()
			return err
		}
		r := bufio.NewReaderSize(f, 32<<10)
		var h [recordHeader]byte
		for i := k * indexEvery; i < s.count; i++ {
			if _, err := io.ReadFull(r, h[:]); err != nil {
				f.Close()
				return fmt.Errorf("log %s: %w", s.path, err)
			}
			n := binary.LittleEndian.Uint32(h[9:])
			if i < start {
				if _, err := r.Discard(int(n)); err != nil {
					f.Close()
					return err
				}
				continue
			}
			data := make([]byte, n)
			if _, err := io.ReadFull(r, data); err != nil {
				f.Close()
				return err
			}
			e := providers.LogEntry{Stream: int(h[0]), Time: time.Unix(0, int64(binary.LittleEndian.Uint64(h[1:]))), Data: data}
			if !fn(s.first+i, e) {
				f.Close()
				return nil
			}
		}
		f.Close()
	}
	return nil
}

// page answers a Logs request: the semantics of providers.PageLogs over
// the entries on disk.
func (l *diskLog) page(opts providers.LogOptions) (providers.LogPage, error) {
	from := l.base()
	if opts.After != "" {
		n, _ := strconv.Atoi(opts.After)
		from = max(n, from)
	}
	match := func(e providers.LogEntry) bool {
		return (opts.Since.IsZero() || !e.Time.Before(opts.Since)) && (opts.Until.IsZero() || !e.Time.After(opts.Until))
	}
	if opts.Tail > 0 {
		// The first entry of the last Tail matching ones.
		var ring []int
		if err := l.each(from, func(seq int, e providers.LogEntry) bool {
			if match(e) {
				if len(ring) == opts.Tail {
					ring = ring[1:]
				}
				ring = append(ring, seq)
			}
			return true
		}); err != nil {
			return providers.LogPage{}, err
		}
		if len(ring) > 0 {
			from = ring[0]
		} else {
			from = l.next
		}
	}
	page := providers.LogPage{Cursor: strconv.Itoa(l.next)}
	size := 0
	err := l.each(from, func(seq int, e providers.LogEntry) bool {
		if !match(e) {
			return true
		}
		if opts.MaxBytes > 0 && len(page.Entries) > 0 && size+len(e.Data) > opts.MaxBytes {
			page.Cursor, page.More = strconv.Itoa(seq), true
			return false
		}
		size += len(e.Data)
		page.Entries = append(page.Entries, e)
		return true
	})
	return page, err
}

// close ends the log (its files go with the container's directory).
func (l *diskLog) close() error {
	if l.closed {
		return nil
	}
	l.closed = true
	_ = l.bw.Flush()
	return l.w.Close()
}
