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
