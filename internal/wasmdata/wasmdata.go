// Package wasmdata rewrites the data section of a WebAssembly module so
// that it instantiates faster, without changing what it computes.
//
// Go's linker (GOOS=wasip1) writes its initialised data as one active data
// segment per run of non-zero bytes: the applet module has about 57,000 of
// them for 1.4 MB of data. A runtime evaluates each segment's offset
// expression and copies it on every instantiation, so for wazero most of an
// applet's start-up went to segment bookkeeping (one allocation each), not
// to running the applet. [MergeData] joins segments separated by short runs
// of zeros into one segment that carries the zeros explicitly. Linear memory
// starts zeroed, so the memory image after instantiation is byte for byte
// the same; only the file grows by the zeros it now spells out.
package wasmdata

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
)

const (
	sectionData      = 11
	sectionDataCount = 12

	opI32Const = 0x41
	opEnd      = 0x0b
)

// DefaultMaxGap is the longest run of zeros the build joins into a
// segment. Go's linker leaves gaps of a few to a few hundred bytes; 4 KiB
// joins them all, while a large hole (none today) would stay a hole rather
// than bloat the file.
const DefaultMaxGap = 4096

var header = []byte{0x00, 'a', 's', 'm', 0x01, 0x00, 0x00, 0x00}

// ErrUnsupported is returned for modules whose data section holds anything
// but active segments for memory 0 at constant i32 offsets: passive
// segments, other memories or computed offsets cannot be merged by address.
var ErrUnsupported = errors.New("wasmdata: unsupported data segment")

// segment is one active data segment: its bytes go to memory at off.
type segment struct {
	off  uint32
	init []byte
}

// MergeData returns module with its data segments sorted by address and
// every two neighbours no more than maxGap bytes apart joined into one (the
// gap filled with zeros). The other sections are copied unchanged, and a
// data count section, if present, is updated. It fails on malformed input,
// overlapping segments and [ErrUnsupported] segments.
func MergeData(module []byte, maxGap int) ([]byte, error) {
	if !bytes.HasPrefix(module, header) {
		return nil, errors.New("wasmdata: not a WebAssembly 1.0 binary module")
	}
	if maxGap < 0 {
		return nil, fmt.Errorf("wasmdata: negative gap %d", maxGap)
	}
	type section struct {
		id   byte
		body []byte
	}
	var sections []section
	for rest := module[len(header):]; len(rest) > 0; {
		size, n := binary.Uvarint(rest[1:])
		if n <= 0 || size > uint64(len(rest)-1-n) {
			return nil, errors.New("wasmdata: truncated section")
		}
		sections = append(sections, section{rest[0], rest[1+n : 1+n+int(size)]})
		rest = rest[1+n+int(size):]
	}
	count := -1
	for i, s := range sections {
		if s.id != sectionData {
			continue
		}
		segs, err := parseData(s.body)
		if err != nil {
			return nil, err
		}
		if segs, err = merge(segs, uint32(maxGap)); err != nil {
			return nil, err
		}
		sections[i].body = encodeData(segs)
		count = len(segs)
	}
	out := slices.Clone(header)
	for _, s := range sections {
		if s.id == sectionDataCount && count >= 0 {
			s.body = binary.AppendUvarint(nil, uint64(count))
		}
		out = append(out, s.id)
		out = binary.AppendUvarint(out, uint64(len(s.body)))
		out = append(out, s.body...)
	}
	return out, nil
}

// parseData decodes a data section's vector of segments.
func parseData(body []byte) ([]segment, error) {
	count, n := binary.Uvarint(body)
	if n <= 0 || count > uint64(len(body)) {
		return nil, errors.New("wasmdata: bad data segment count")
	}
	body = body[n:]
	segs := make([]segment, 0, count)
	for range count {
		if len(body) < 2 || body[0] != 0 || body[1] != opI32Const {
			return nil, ErrUnsupported
		}
		off, n := readSLEB32(body[2:])
		if n <= 0 || len(body) < 2+n+1 || body[2+n] != opEnd {
			return nil, ErrUnsupported
		}
		body = body[2+n+1:]
		size, m := binary.Uvarint(body)
		if m <= 0 || size > uint64(len(body)-m) {
			return nil, errors.New("wasmdata: truncated data segment")
		}
		segs = append(segs, segment{off: uint32(off), init: body[m : m+int(size)]})
		body = body[m+int(size):]
	}
	if len(body) != 0 {
		return nil, errors.New("wasmdata: trailing bytes in the data section")
	}
	return segs, nil
}

// merge sorts segs by address and joins neighbours at most maxGap apart.
func merge(segs []segment, maxGap uint32) ([]segment, error) {
	segs = slices.Clone(segs)
	slices.SortStableFunc(segs, func(a, b segment) int {
		switch {
		case a.off < b.off:
			return -1
		case a.off > b.off:
			return 1
		}
		return 0
	})
	var out []segment
	for _, s := range segs {
		if uint64(s.off)+uint64(len(s.init)) > 1<<32 {
			return nil, fmt.Errorf("wasmdata: segment at %d overflows the address space", s.off)
		}
		if len(out) > 0 {
			last := &out[len(out)-1]
			end := uint64(last.off) + uint64(len(last.init))
			if uint64(s.off) < end {
				return nil, fmt.Errorf("wasmdata: segments overlap at %d", s.off)
			}
			if gap := uint64(s.off) - end; gap <= uint64(maxGap) {
				// last.init is a copy owned by out (see below), so
				// appending grows it in amortised constant time.
				last.init = append(last.init, make([]byte, gap)...)
				last.init = append(last.init, s.init...)
				continue
			}
		}
		out = append(out, segment{off: s.off, init: slices.Clone(s.init)})
	}
	return out, nil
}

// encodeData writes segs as a data section body.
func encodeData(segs []segment) []byte {
	b := binary.AppendUvarint(nil, uint64(len(segs)))
	for _, s := range segs {
		b = append(b, 0, opI32Const)
		b = appendSLEB32(b, int32(s.off))
		b = append(b, opEnd)
		b = binary.AppendUvarint(b, uint64(len(s.init)))
		b = append(b, s.init...)
	}
	return b
}

// readSLEB32 decodes a signed LEB128 value of at most 5 bytes, as i32.const
// immediates are encoded.
func readSLEB32(b []byte) (int32, int) {
	var v int64
	var shift uint
	for i := 0; i < len(b) && i < 5; i++ {
		c := b[i]
		v |= int64(c&0x7f) << shift
		shift += 7
		if c&0x80 == 0 {
			if shift < 64 && c&0x40 != 0 {
				v |= -1 << shift
			}
			if v < -1<<31 || v > 1<<31-1 {
				return 0, -1
			}
			return int32(v), i + 1
		}
	}
	return 0, -1
}

func appendSLEB32(b []byte, v int32) []byte {
	x := int64(v)
	for {
		c := byte(x & 0x7f)
		x >>= 7
		if (x == 0 && c&0x40 == 0) || (x == -1 && c&0x40 != 0) {
			return append(b, c)
		}
		b = append(b, c|0x80)
	}
}
