//go:build !linux

package dockerengine

import (
	"context"
	"errors"
	"io"
	"time"
)

var errNotLinux = errors.New("dockerengine: a Docker engine runs on Linux only")

type state struct{}

type process struct{}

func checkPlatform() error { return errNotLinux }

func prepare() (*Engine, func(), error) { return nil, nil, errNotLinux }

func (e *Engine) launch(context.Context, string, io.Writer) error { return errNotLinux }

func (e *Engine) cleanup() error { return nil }

func (p *process) terminate(time.Duration) error { return nil }

func unmountUnder(string) error { return nil }
