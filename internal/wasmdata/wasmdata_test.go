package wasmdata_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"testing"

	"github.com/tetratelabs/wazero"

	"github.com/sockerless/sockerless/internal/wasmdata"
)

// seg is an active data segment for memory 0 in a test module.
type seg struct {
	off  int32
	data string
}

// module builds a WebAssembly module with one exported memory of pages
// pages, the given data segments and, if dataCount, a data count section.
func module(pages int, dataCount bool, segs ...seg) []byte {
	b := []byte{0x00, 'a', 's', 'm', 0x01, 0x00, 0x00, 0x00}
	section := func(id byte, body []byte) {
		b = append(b, id)
		b = binary.AppendUvarint(b, uint64(len(body)))
		b = append(b, body...)
	}
	section(5, []byte{1, 0, byte(pages)})         // memory: min pages
	section(7, []byte{1, 3, 'm', 'e', 'm', 2, 0}) // export "mem"
	if dataCount {
		section(12, binary.AppendUvarint(nil, uint64(len(segs))))
	}
	data := binary.AppendUvarint(nil, uint64(len(segs)))
	for _, s := range segs {
		data = append(data, 0, 0x41)
		data = appendSLEB(data, s.off)
		data = append(data, 0x0b)
		data = binary.AppendUvarint(data, uint64(len(s.data)))
		data = append(data, s.data...)
	}
	section(11, data)
	return b
}

func appendSLEB(b []byte, v int32) []byte {
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

// memoryImage instantiates m with wazero and returns its whole memory.
func memoryImage(t testing.TB, m []byte) ([]byte, error) {
	ctx := context.Background()
	rt := wazero.NewRuntime(ctx)
	defer rt.Close(ctx)
	inst, err := rt.Instantiate(ctx, m)
	if err != nil {
		return nil, err
	}
	mem := inst.ExportedMemory("mem")
	if mem == nil {
		return nil, errors.New("no memory")
	}
	b, _ := mem.Read(0, mem.Size())
	return bytes.Clone(b), nil
}

// segmentCount reads the number of data segments of m.
func segmentCount(t *testing.T, m []byte) int {
	t.Helper()
	for rest := m[8:]; len(rest) > 0; {
		size, n := binary.Uvarint(rest[1:])
		if rest[0] == 11 {
			c, _ := binary.Uvarint(rest[1+n:])
			return int(c)
		}
		rest = rest[1+n+int(size):]
	}
	return 0
}

func TestMergeData(t *testing.T) {
	for _, tc := range []struct {
		name     string
		in       []byte
		gap      int
		segments int
		wantErr  bool
	}{
		{name: "no segments", in: module(1, false), gap: 16, segments: 0},
		{name: "one segment", in: module(1, false, seg{10, "abc"}), gap: 16, segments: 1},
		{name: "small gap joined", in: module(1, false, seg{0, "ab"}, seg{5, "cd"}), gap: 3, segments: 1},
		{name: "gap one longer than allowed", in: module(1, false, seg{0, "ab"}, seg{6, "cd"}), gap: 3, segments: 2},
		{name: "adjacent joined with zero gap", in: module(1, false, seg{0, "ab"}, seg{2, "cd"}), gap: 0, segments: 1},
		{name: "out of order sorted then joined", in: module(1, false, seg{300, "late"}, seg{100, "early"}, seg{200, "mid"}), gap: 100, segments: 1},
		{name: "large hole kept", in: module(2, false, seg{0, "a"}, seg{70000, "b"}), gap: 4096, segments: 2},
		{name: "data count updated", in: module(1, true, seg{0, "a"}, seg{2, "b"}, seg{4, "c"}), gap: 8, segments: 1},
		{name: "empty segments", in: module(1, false, seg{0, ""}, seg{7, ""}, seg{9, "x"}), gap: 8, segments: 1},
		{name: "overlap refused", in: module(1, false, seg{0, "abcd"}, seg{2, "xy"}), gap: 8, wantErr: true},
		{name: "not wasm", in: []byte("\x7fELF\x02\x01\x01\x00"), gap: 8, wantErr: true},
		{name: "truncated section", in: module(1, false, seg{0, "abcd"})[:20], gap: 8, wantErr: true},
		{name: "negative gap", in: module(1, false), gap: -1, wantErr: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, err := wasmdata.MergeData(tc.in, tc.gap)
			if tc.wantErr {
				if err == nil {
					t.Fatalf("merged %x, want an error", out)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := segmentCount(t, out); got != tc.segments {
				t.Errorf("%d segments, want %d", got, tc.segments)
			}
			// wazero validates the data count against the data section
			// and gives the same memory for both modules.
			want, err := memoryImage(t, tc.in)
			if err != nil {
				t.Fatalf("original does not instantiate: %v", err)
			}
			got, err := memoryImage(t, out)
			if err != nil {
				t.Fatalf("merged does not instantiate: %v", err)
			}
			if !bytes.Equal(got, want) {
				t.Error("merged module's memory differs from the original's")
			}
		})
	}
}

func TestMergeDataUnsupported(t *testing.T) {
	passive := module(1, false)
	// A data section with one passive segment (flag 1).
	passive = append(passive[:len(passive)-3], 11, 4, 1, 1, 1, 'x')
	if _, err := wasmdata.MergeData(passive, 8); !errors.Is(err, wasmdata.ErrUnsupported) {
		t.Fatalf("passive segment: %v, want ErrUnsupported", err)
	}
}

// FuzzMergeData: no input panics, merging is idempotent, and whenever
// wazero instantiates the original it instantiates the merged module to
// the same memory.
func FuzzMergeData(f *testing.F) {
	f.Add(module(1, false, seg{300, "late"}, seg{100, "early"}), uint16(100))
	f.Add(module(1, true, seg{0, "a"}, seg{2, "b"}), uint16(1))
	f.Add(module(1, false, seg{0, "abcd"}, seg{2, "xy"}), uint16(8))
	f.Fuzz(func(t *testing.T, in []byte, gap uint16) {
		out, err := wasmdata.MergeData(in, int(gap))
		if err != nil {
			return
		}
		again, err := wasmdata.MergeData(out, int(gap))
		if err != nil || !bytes.Equal(again, out) {
			t.Fatalf("merging twice: %v, changed %v", err, !bytes.Equal(again, out))
		}
		want, err := memoryImage(t, in)
		if err != nil {
			return
		}
		got, err := memoryImage(t, out)
		if err != nil {
			t.Fatalf("original instantiates, merged does not: %v", err)
		}
		if !bytes.Equal(got, want) {
			t.Fatal("memories differ")
		}
	})
}
