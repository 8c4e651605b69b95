// Package dockerrun runs the local clouds' tasks and invocations as real
// containers on a Docker engine (the reference engine, or any
// DOCKER_HOST), through the Docker Go SDK. It is the one thing the ECS and
// Lambda fakes need from an engine: start a container from an image,
// stream its output, wait for it, stop it.
//
// Containers use the host's network namespace: a cloud workload reaches
// the relay and the control plane over the network, and in the local
// cloud those listen on loopback, which only the host's namespace shares.
// A Spec with OwnNetwork (an ECS task: awsvpc gives each task its own
// interface) gets a network namespace of its own instead, with an
// address on the engine's bridge that the other tasks reach, and whose
// loopback carries connections to the loopback URLs in its environment
// to the host's (netns.go), so two tasks can listen on one port.
package dockerrun

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/moby/moby/api/pkg/stdcopy"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"
)

// Engine starts containers on one Docker engine. Safe for concurrent use.
type Engine struct {
	c *client.Client
}

// New connects to the engine at host ("unix:///path", "tcp://...").
func New(host string) (*Engine, error) {
	c, err := client.New(client.WithHost(host))
	if err != nil {
		return nil, fmt.Errorf("dockerrun: engine %s: %w", host, err)
	}
	return &Engine{c: c}, nil
}

// Close releases the client.
func (e *Engine) Close() error { return e.c.Close() }

// Spec is one container to run.
type Spec struct {
	Image       string
	Entrypoint  []string
	Cmd         []string
	Env         []string
	WorkingDir  string
	User        string
	MemoryBytes int64
	NanoCPUs    int64
	Labels      map[string]string
	// StopTimeout is how long Stop waits before SIGKILL.
	StopTimeout time.Duration
	// OwnNetwork gives the container a network namespace of its own.
	OwnNetwork bool
}

// Exit is how a container ended.
type Exit struct {
	Code      int
	OOMKilled bool
}

// ErrPull wraps failures to pull the image.
var ErrPull = errors.New("cannot pull container image")

// Container is a started container.
type Container struct {
	e       *Engine
	ID      string
	stop    time.Duration
	logDone chan struct{}
	died    chan struct{}
	oom     atomic.Bool
	// stopEvents ends the event subscription.
	stopEvents context.CancelFunc
	mu         sync.Mutex
	removed    bool
	netns      *netns
}

// Run pulls s.Image, creates and starts the container, and calls line
// for every line of its output (stream 1 stdout, 2 stderr; the newline
// removed, a last line without one flushed at the end) until it ends.
//
// # Errors
//
// Wraps ErrPull when the image cannot be pulled.
func (e *Engine) Run(ctx context.Context, s Spec, line func(stream int, text []byte)) (*Container, error) {
	pull, err := e.c.ImagePull(ctx, s.Image, client.ImagePullOptions{})
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %w", ErrPull, s.Image, err)
	}
	for m, err := range pull.JSONMessages(ctx) {
		if err != nil {
			pull.Close()
			return nil, fmt.Errorf("%w: %s: %w", ErrPull, s.Image, err)
		}
		if m.Error != nil {
			pull.Close()
			return nil, fmt.Errorf("%w: %s: %s", ErrPull, s.Image, m.Error.Message)
		}
	}
	pull.Close()
	cfg := &container.Config{Image: s.Image, Entrypoint: s.Entrypoint, Cmd: s.Cmd, Env: s.Env, WorkingDir: s.WorkingDir, User: s.User, Labels: s.Labels}
	if secs := int(s.StopTimeout / time.Second); secs > 0 {
		cfg.StopTimeout = &secs
	}
	hc := &container.HostConfig{NetworkMode: "host"}
	var ns *netns
	if s.OwnNetwork {
		if ns, err = e.newNetns(ctx, s.Image, loopbackTargets(s.Env)); err != nil {
			return nil, err
		}
		hc.NetworkMode = container.NetworkMode("container:" + ns.holder)
	}
	hc.Memory, hc.NanoCPUs = s.MemoryBytes, s.NanoCPUs
	if s.MemoryBytes > 0 {
		hc.MemorySwap = s.MemoryBytes // no swap: over the limit is an OOM kill, as on Fargate
	}
	created, err := e.c.ContainerCreate(ctx, client.ContainerCreateOptions{Config: cfg, HostConfig: hc})
	if err != nil {
		if ns != nil {
			ns.close(context.WithoutCancel(ctx), e)
		}
		return nil, fmt.Errorf("create container: %w", err)
	}
	c := &Container{e: e, ID: created.ID, stop: s.StopTimeout, logDone: make(chan struct{}), died: make(chan struct{}), netns: ns}
	// The engine's events say whether the kernel killed a process of the
	// container for memory: its OOMKilled flag only covers the main
	// process, and the OOM event comes before the die event.
	evCtx, evCancel := context.WithCancel(context.WithoutCancel(ctx))
	c.stopEvents = evCancel
	ev := e.c.Events(evCtx, client.EventsListOptions{Since: strconv.FormatInt(time.Now().Add(-time.Second).Unix(), 10),
		Filters: client.Filters{"container": {created.ID: true}, "type": {"container": true}}})
	go func() {
		defer close(c.died)
		for {
			select {
			case m := <-ev.Messages:
				switch m.Action {
				case "oom":
					c.oom.Store(true)
				case "die":
					return
				}
			case <-ev.Err:
				return
			}
		}
	}()
	// Attach the log reader before the start so no output is missed.
	logs, err := e.c.ContainerAttach(ctx, created.ID, client.ContainerAttachOptions{Stream: true, Stdout: true, Stderr: true})
	if err != nil {
		_ = c.Remove(context.WithoutCancel(ctx))
		return nil, fmt.Errorf("attach container: %w", err)
	}
	go func() {
		defer close(c.logDone)
		defer logs.Close()
		var mu sync.Mutex
		out, err := lineWriter(1, &mu, line), lineWriter(2, &mu, line)
		_, _ = stdcopy.StdCopy(out, err, logs.Reader)
		out.flush()
		err.flush()
	}()
	if _, err := e.c.ContainerStart(ctx, created.ID, client.ContainerStartOptions{}); err != nil {
		_ = c.Remove(context.WithoutCancel(ctx))
		return nil, fmt.Errorf("start container: %w", err)
	}
	return c, nil
}

// Wait returns when the container has ended and all its output has been
// passed on.
func (c *Container) Wait(ctx context.Context) (Exit, error) {
	w := c.e.c.ContainerWait(ctx, c.ID, client.ContainerWaitOptions{Condition: container.WaitConditionNotRunning})
	select {
	case err := <-w.Error:
		return Exit{}, fmt.Errorf("wait: %w", err)
	case <-w.Result:
	}
	select {
	case <-c.logDone:
	case <-ctx.Done():
		return Exit{}, ctx.Err()
	}
	select {
	case <-c.died:
	case <-ctx.Done():
		return Exit{}, ctx.Err()
	}
	in, err := c.e.c.ContainerInspect(ctx, c.ID, client.ContainerInspectOptions{})
	if err != nil {
		return Exit{}, fmt.Errorf("inspect: %w", err)
	}
	return Exit{Code: in.Container.State.ExitCode, OOMKilled: in.Container.State.OOMKilled || c.oom.Load()}, nil
}

// Stop sends SIGTERM and SIGKILL after the spec's StopTimeout.
func (c *Container) Stop(ctx context.Context) error {
	t := int(c.stop / time.Second)
	_, err := c.e.c.ContainerStop(ctx, c.ID, client.ContainerStopOptions{Timeout: &t})
	return err
}

// Kill sends signal n.
func (c *Container) Kill(ctx context.Context, n int) error {
	_, err := c.e.c.ContainerKill(ctx, c.ID, client.ContainerKillOptions{Signal: strconv.Itoa(n)})
	return err
}

// Remove deletes the container, killing it if it still runs.
func (c *Container) Remove(ctx context.Context) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.removed {
		return nil
	}
	if c.stopEvents != nil {
		c.stopEvents()
	}
	_, err := c.e.c.ContainerRemove(ctx, c.ID, client.ContainerRemoveOptions{Force: true})
	if err == nil {
		c.removed = true
		if c.netns != nil {
			c.netns.close(ctx, c.e)
		}
	}
	return err
}

// lines cuts a stream into lines for a callback.
type lines struct {
	stream int
	mu     *sync.Mutex
	fn     func(int, []byte)
	buf    []byte
}

func lineWriter(stream int, mu *sync.Mutex, fn func(int, []byte)) *lines {
	return &lines{stream: stream, mu: mu, fn: fn}
}

func (l *lines) Write(p []byte) (int, error) {
	l.buf = append(l.buf, p...)
	for {
		i := strings.IndexByte(string(l.buf), '\n')
		if i < 0 {
			break
		}
		l.emit(l.buf[:i])
		l.buf = l.buf[i+1:]
	}
	return len(p), nil
}

func (l *lines) emit(b []byte) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.fn(l.stream, append([]byte(nil), b...))
}

func (l *lines) flush() {
	if len(l.buf) > 0 {
		l.emit(l.buf)
		l.buf = nil
	}
}

var _ io.Writer = (*lines)(nil)
