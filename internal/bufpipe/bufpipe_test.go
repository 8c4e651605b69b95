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
