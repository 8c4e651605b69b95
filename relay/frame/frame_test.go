package frame

import (
	"bytes"
	"errors"
	"io"
	"testing"
)

func TestRoundTrip(t *testing.T) {
	tests := []struct {
		name    string
		typ     Type
		payload []byte
		frames  int
	}{
		{"empty", CloseStdin, nil, 1},
		{"small", Stdout, []byte("hello"), 1},
		{"split", Stdin, bytes.Repeat([]byte{7}, MaxPayload+10), 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			if err := Write(&buf, tt.typ, tt.payload); err != nil {
				t.Fatal(err)
			}
			var got []byte
			for i := 0; i < tt.frames; i++ {
				f, err := Read(&buf)
				if err != nil {
					t.Fatalf("Read() frame %d error = %v", i, err)
				}
				if f.Type != tt.typ {
					t.Fatalf("Read().Type = %v, want %v", f.Type, tt.typ)
				}
				got = append(got, f.Payload...)
			}
			if !bytes.Equal(got, tt.payload) {
				t.Errorf("payload = %d bytes, want %d", len(got), len(tt.payload))
			}
			if _, err := Read(&buf); err != io.EOF {
				t.Errorf("Read() at end error = %v, want io.EOF", err)
			}
		})
	}
}

func TestReadRejects(t *testing.T) {
	tests := []struct {
		name string
		in   []byte
		want error
	}{
		{"too large", []byte{1, 0xff, 0xff, 0xff, 0xff}, ErrTooLarge},
		{"truncated header", []byte{1, 0}, io.ErrUnexpectedEOF},
		{"truncated payload", []byte{1, 0, 0, 0, 4, 'a'}, io.ErrUnexpectedEOF},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := Read(bytes.NewReader(tt.in)); !errors.Is(err, tt.want) {
				t.Errorf("Read() error = %v, want %v", err, tt.want)
			}
		})
	}
}

func FuzzRead(f *testing.F) {
	var buf bytes.Buffer
	_ = Write(&buf, Stdout, []byte("seed"))
	f.Add(buf.Bytes())
	f.Add([]byte{6, 0, 0, 0, 1, '0'})
	f.Add([]byte{1, 0xff, 0xff, 0xff, 0xff})
	f.Fuzz(func(t *testing.T, in []byte) {
		r := bytes.NewReader(in)
		for {
			fr, err := Read(r)
			if err != nil {
				return
			}
			if len(fr.Payload) > MaxPayload {
				t.Fatalf("payload of %d bytes accepted", len(fr.Payload))
			}
			var out bytes.Buffer
			if err := Write(&out, fr.Type, fr.Payload); err != nil {
				t.Fatal(err)
			}
			back, err := Read(&out)
			if err != nil || back.Type != fr.Type || !bytes.Equal(back.Payload, fr.Payload) {
				t.Fatalf("re-encode mismatch: %v", err)
			}
		}
	})
}

// recorder is a FrameWriter that records the frames handed to it.
type recorder struct{ frames []Frame }

func (r *recorder) Write([]byte) (int, error) { return 0, errors.New("Write called on a FrameWriter") }

func (r *recorder) WriteFrame(t Type, p []byte) error {
	r.frames = append(r.frames, Frame{Type: t, Payload: bytes.Clone(p)})
	return nil
}

func TestWriteUsesFrameWriter(t *testing.T) {
	var r recorder
	payload := bytes.Repeat([]byte{3}, MaxPayload+7)
	if err := Write(&r, Stderr, payload); err != nil {
		t.Fatal(err)
	}
	if len(r.frames) != 2 || len(r.frames[0].Payload) != MaxPayload || len(r.frames[1].Payload) != 7 || r.frames[1].Type != Stderr {
		t.Fatalf("frames = %d, want 2 of MaxPayload and 7 bytes", len(r.frames))
	}
	if _, err := (Writer{W: &r, Type: Stdout}).Write([]byte("x")); err != nil || len(r.frames) != 3 {
		t.Fatalf("Writer.Write: %v, %d frames", err, len(r.frames))
	}
}

// oneWrite counts Write calls: each frame must be one call.
type oneWrite struct {
	bytes.Buffer
	calls int
}

func (o *oneWrite) Write(p []byte) (int, error) { o.calls++; return o.Buffer.Write(p) }

func TestReaderReusesBuffer(t *testing.T) {
	var w oneWrite
	sizes := []int{10, 64 << 10, 0, 100 << 10, 3}
	for i, n := range sizes {
		if err := Write(&w, Type(i), bytes.Repeat([]byte{byte(i)}, n)); err != nil {
			t.Fatal(err)
		}
	}
	if w.calls != len(sizes) {
		t.Fatalf("%d frames took %d writes, want one each", len(sizes), w.calls)
	}
	r := Reader{R: &w.Buffer}
	var first *byte
	for i, n := range sizes {
		f, err := r.Next()
		if err != nil {
			t.Fatal(err)
		}
		if f.Type != Type(i) || len(f.Payload) != n || !bytes.Equal(f.Payload, bytes.Repeat([]byte{byte(i)}, n)) {
			t.Fatalf("frame %d: type %v, %d bytes; want %d bytes of %d", i, f.Type, len(f.Payload), n, i)
		}
		if i == 3 {
			first = &f.Payload[0]
		}
		if i == 4 && &f.Payload[0] != first {
			t.Error("Reader allocated again for a frame that fits its buffer")
		}
	}
	if _, err := r.Next(); err != io.EOF {
		t.Errorf("Next() at end = %v, want io.EOF", err)
	}
	p := make([]byte, 1<<10)
	allocs := testing.AllocsPerRun(100, func() {
		w.Reset()
		_ = Write(&w, Stdout, p)
		_, _ = r.Next()
	})
	if allocs > 1 { // the header array read through an interface
		t.Errorf("Write+Next allocate %.0f times per frame", allocs)
	}
}
