package dockerengine

import (
	"context"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
)

// Shared is one engine shared by the tests of a test binary: started by
// the first Get, stopped by Stop (call it from TestMain after m.Run).
//
//	var engine dockerengine.Shared
//
//	func TestMain(m *testing.M) {
//		code := m.Run()
//		engine.Stop()
//		os.Exit(code)
//	}
//
//	func TestSomething(t *testing.T) {
//		eng := engine.Get(t) // fails t if the engine cannot start
//		cmd := exec.Command("docker", "run", "--rm", dockerengine.BusyboxImage, "true")
//		cmd.Env = eng.Env()
//		...
//	}
//
// The zero value is ready to use; Options may be set before the first Get.
type Shared struct {
	// Options are passed to Start.
	Options Options

	once     sync.Once
	eng      *Engine
	err      error
	reported atomic.Bool
}

// Get returns the running engine, starting it on the first call. It fails
// t (every time it is called) if the engine could not start.
func (s *Shared) Get(t testing.TB) *Engine {
	t.Helper()
	s.once.Do(func() { s.eng, s.err = Start(context.Background(), s.Options) })
	if s.err != nil {
		if s.reported.Swap(true) {
			msg, _, _ := strings.Cut(s.err.Error(), "\n")
			t.Fatalf("%s (full reason in the first failure)", msg)
		}
		t.Fatal(s.err)
	}
	return s.eng
}

// Debian returns the engine with the Debian minbase image loaded (see
// Engine.LoadDebian), failing t if either cannot be had.
func (s *Shared) Debian(t testing.TB) (*Engine, string) {
	t.Helper()
	eng := s.Get(t)
	ref, err := eng.LoadDebian(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return eng, ref
}

// Stop stops the engine if Get started one, and returns Stop's error.
func (s *Shared) Stop() error {
	s.once.Do(func() { s.err = errors.New("dockerengine: shared engine already stopped") })
	if s.eng == nil {
		return nil
	}
	return s.eng.Stop()
}
