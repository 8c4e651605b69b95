package bufpipe

import (
	"bytes"
	"io"
	"testing"
	"time"
)

func TestPipeBoundsAndDrains(t *testing.T) {
	p := New(4)
	done := make(chan struct{})
	go func() {
		defer close(done)
		if n, err := p.Write([]byte("0123456789")); n != 10 || err != nil {
			t.Errorf("Write() = %d, %v", n, err)
		}
		p.CloseWrite()
	}()
	time.Sleep(20 * time.Millisecond)
	if got := p.Buffered(); got > 4 {
		t.Fatalf("Buffered() = %d, want <= 4", got)
	}
	got, err := io.ReadAll(p)
	if err != nil || !bytes.Equal(got, []byte("0123456789")) {
		t.Fatalf("ReadAll() = %q, %v", got, err)
	}
	<-done
}

func TestCloseReadFailsWriter(t *testing.T) {
	p := New(1)
	errc := make(chan error)
	go func() { _, err := p.Write([]byte("abc")); errc <- err }()
	time.Sleep(10 * time.Millisecond)
	p.Close()
	if err := <-errc; err != io.ErrClosedPipe {
		t.Fatalf("Write() after Close error = %v, want ErrClosedPipe", err)
	}
}

// BenchmarkPipeStream streams 64 MiB through a pipe as a relay session's
// stdin does: 64 KiB frames written, read back 32 KiB at a time (the
// agent's tunnel copy buffer).
func BenchmarkPipeStream(b *testing.B) {
	frame := make([]byte, 64<<10)
	const total = 64 << 20
	b.SetBytes(total)
	b.ReportAllocs()
	for b.Loop() {
		p := New(1 << 20)
		done := make(chan struct{})
		go func() {
			defer close(done)
			buf := make([]byte, 32<<10)
			for {
				if _, err := p.Read(buf); err != nil {
					return
				}
			}
		}()
		for sent := 0; sent < total; sent += len(frame) {
			if _, err := p.Write(frame); err != nil {
				b.Fatal(err)
			}
		}
		p.CloseWrite()
		<-done
	}
}

// TestPipeKeepsOrderAcrossReuse streams bytes through a small pipe with
// writes and reads of unequal sizes, so the buffer is compacted and
// reused many times, and checks that every byte arrives in order.
func TestPipeKeepsOrderAcrossReuse(t *testing.T) {
	const total = 3<<20 + 17
	src := make([]byte, total)
	for i := range src {
		src[i] = byte(i*7 + i>>11)
	}
	p := New(100 << 10)
	got := make(chan []byte, 1)
	go func() {
		var out bytes.Buffer
		buf := make([]byte, 33<<10+5)
		for i := 0; ; i++ {
			n, err := p.Read(buf[:1+(i*4099)%len(buf)])
			out.Write(buf[:n])
			if err != nil {
				got <- out.Bytes()
				return
			}
		}
	}()
	for i, off := 0, 0; off < total; i++ {
		n := min(total-off, 1+(i*65537)%(70<<10))
		if _, err := p.Write(src[off : off+n]); err != nil {
			t.Fatal(err)
		}
		off += n
	}
	p.CloseWrite()
	if out := <-got; !bytes.Equal(out, src) {
		t.Fatalf("read %d bytes, not the %d written in order", len(out), total)
	}
	if p.Buffered() != 0 {
		t.Fatalf("Buffered() = %d after the stream", p.Buffered())
	}
}
