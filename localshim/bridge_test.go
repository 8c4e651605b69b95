package localshim

import (
	"bytes"
	"net"
	"testing"
)

// TestWriteDocker: a non-TTY payload gets Docker's 8-byte header (stream,
// three zero bytes, big-endian length) and arrives whole; TTY output is
// raw.
func TestWriteDocker(t *testing.T) {
	a, b := net.Pipe()
	defer a.Close()
	got := make(chan []byte, 1)
	go func() {
		buf := make([]byte, 8+70000+3)
		n := 0
		for n < len(buf) {
			k, err := b.Read(buf[n:])
			if err != nil {
				break
			}
			n += k
		}
		got <- buf[:n]
	}()
	p := bytes.Repeat([]byte{'z'}, 70000)
	if err := writeDocker(a, false, 2, p); err != nil {
		t.Fatal(err)
	}
	if err := writeDocker(a, true, 1, []byte("raw")); err != nil {
		t.Fatal(err)
	}
	out := <-got
	want := append([]byte{2, 0, 0, 0, 0, 0x01, 0x11, 0x70}, p...)
	want = append(want, "raw"...)
	if !bytes.Equal(out, want) {
		t.Errorf("wrote %d bytes %x..., want %d bytes %x...", len(out), out[:min(len(out), 8)], len(want), want[:8])
	}
}
