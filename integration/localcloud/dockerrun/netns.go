package dockerrun

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"runtime"
	"strings"
	"sync"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"
	"golang.org/x/sys/unix"
)

// PauseBinary is the static busybox the holder of an isolated task's
// network namespace runs (bind-mounted read-only into the task's image,
// which may have no shell); .ci/tools.sh installs busybox-static.
const PauseBinary = "/bin/busybox"

// netns is an isolated task's network namespace: a holder container on
// the engine's default bridge (the task's own address, which the other
// tasks reach, as awsvpc gives each task an interface in the VPC; no
// security groups are applied), and listeners on its loopback that carry
// connections to the same addresses on the host's loopback — the relay
// and the control plane, which a Fargate task reaches over its own
// network interface.
type netns struct {
	holder string
	lns    []net.Listener
	wg     sync.WaitGroup
}

// loopbackTargets are the host:port of every loopback URL in env's values
// (SOCKERLESS_RELAY_URL, SOCKERLESS_CONTROL_PLANE_URL, ...).
func loopbackTargets(env []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, kv := range env {
		_, v, _ := strings.Cut(kv, "=")
		u, err := url.Parse(v)
		if err != nil || u.Host == "" || u.Port() == "" {
			continue
		}
		ip := net.ParseIP(u.Hostname())
		if (ip == nil || !ip.IsLoopback()) && u.Hostname() != "localhost" {
			continue
		}
		h := u.Host
		if u.Hostname() == "localhost" {
			h = net.JoinHostPort("127.0.0.1", u.Port())
		}
		if !seen[h] {
			seen[h] = true
			out = append(out, h)
		}
	}
	return out
}

// newNetns starts the holder from image and the forwarders for targets.
func (e *Engine) newNetns(ctx context.Context, image string, targets []string) (*netns, error) {
	cfg := &container.Config{Image: image, Entrypoint: []string{"/.sockerless-pause/busybox", "sleep", "2147483647"}, Cmd: nil,
		Labels: map[string]string{"io.sockerless.localcloud": "netns"}}
	hc := &container.HostConfig{NetworkMode: "bridge", Binds: []string{PauseBinary + ":/.sockerless-pause/busybox:ro"}}
	created, err := e.c.ContainerCreate(ctx, client.ContainerCreateOptions{Config: cfg, HostConfig: hc})
	if err != nil {
		return nil, fmt.Errorf("create network holder: %w", err)
	}
	n := &netns{holder: created.ID}
	if _, err := e.c.ContainerStart(ctx, created.ID, client.ContainerStartOptions{}); err != nil {
		n.close(context.WithoutCancel(ctx), e)
		return nil, fmt.Errorf("start network holder: %w", err)
	}
	in, err := e.c.ContainerInspect(ctx, created.ID, client.ContainerInspectOptions{})
	if err != nil || in.Container.State == nil || in.Container.State.Pid == 0 {
		n.close(context.WithoutCancel(ctx), e)
		return nil, fmt.Errorf("network holder's pid: %v", err)
	}
	lns, err := listenIn(fmt.Sprintf("/proc/%d/ns/net", in.Container.State.Pid), targets)
	if err != nil {
		n.close(context.WithoutCancel(ctx), e)
		return nil, err
	}
	n.lns = lns
	for i, ln := range lns {
		target := targets[i]
		n.wg.Add(1)
		go func() {
			defer n.wg.Done()
			for {
				c, err := ln.Accept()
				if err != nil {
					return
				}
				go forward(c, target)
			}
		}()
	}
	return n, nil
}

// listenIn listens on each address inside the network namespace at path.
// The sockets stay in that namespace once the thread returns to its own.
func listenIn(path string, addrs []string) ([]net.Listener, error) {
	type result struct {
		lns []net.Listener
		err error
	}
	ch := make(chan result, 1)
	go func() {
		runtime.LockOSThread()
		own, err := os.Open("/proc/thread-self/ns/net")
		if err != nil {
			runtime.UnlockOSThread()
			ch <- result{err: err}
			return
		}
		defer own.Close()
		target, err := os.Open(path)
		if err != nil {
			runtime.UnlockOSThread()
			ch <- result{err: err}
			return
		}
		defer target.Close()
		if err := unix.Setns(int(target.Fd()), unix.CLONE_NEWNET); err != nil {
			runtime.UnlockOSThread()
			ch <- result{err: fmt.Errorf("enter the task's network namespace: %w", err)}
			return
		}
		var r result
		for _, a := range addrs {
			ln, err := net.Listen("tcp", a)
			if err != nil {
				r.err = fmt.Errorf("listen in the task's network namespace: %w", err)
				break
			}
			r.lns = append(r.lns, ln)
		}
		if r.err != nil {
			for _, l := range r.lns {
				l.Close()
			}
			r.lns = nil
		}
		if err := unix.Setns(int(own.Fd()), unix.CLONE_NEWNET); err == nil {
			runtime.UnlockOSThread()
		} // else the thread stays locked and ends with this goroutine
		ch <- r
	}()
	r := <-ch
	return r.lns, r.err
}

func forward(c net.Conn, target string) {
	defer c.Close()
	d, err := net.Dial("tcp", target)
	if err != nil {
		return
	}
	defer d.Close()
	done := make(chan struct{})
	go func() {
		_, _ = io.Copy(d, c)
		if tc, ok := d.(*net.TCPConn); ok {
			_ = tc.CloseWrite()
		}
		close(done)
	}()
	_, _ = io.Copy(c, d)
	if tc, ok := c.(*net.TCPConn); ok {
		_ = tc.CloseWrite()
	}
	<-done
}

// close stops the forwarders and removes the holder.
func (n *netns) close(ctx context.Context, e *Engine) {
	for _, l := range n.lns {
		l.Close()
	}
	n.wg.Wait()
	_, _ = e.c.ContainerRemove(ctx, n.holder, client.ContainerRemoveOptions{Force: true})
}
