package agent

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/sockerless/sockerless/internal/treesync"
	"github.com/sockerless/sockerless/relay/frame"
	"github.com/sockerless/sockerless/relay/ticket"
)

// carrySession opens a carry session on w as the relay would deliver it
// and returns the client's end.
func carrySession(t *testing.T, w Workload, op, dir string) net.Conn {
	t.Helper()
	c, _ := carrySessionDone(t, w, op, dir)
	return c
}

// carrySessionDone is carrySession that also returns a channel closed
// when the agent's side of the session has returned.
func carrySessionDone(t *testing.T, w Workload, op, dir string) (net.Conn, <-chan struct{}) {
	t.Helper()
	client, agentEnd := net.Pipe()
	g := ticket.Grant{Container: "c", Session: "s", Kind: ticket.KindCarry, Carry: &ticket.Carry{Op: op, Dir: dir}}
	done := make(chan struct{})
	go func() {
		defer close(done)
		_, _ = ServeSession(context.Background(), agentEnd, g, w, nil)
	}()
	t.Cleanup(func() { client.Close() })
	return client, done
}

// until reads frames up to one of type end, returning the Stdout bytes
// before it; an Error frame fails unless wantErr, when its text is
// returned.
func until(t *testing.T, c net.Conn, end frame.Type) (data []byte, last frame.Frame) {
	t.Helper()
	for {
		f, err := frame.Read(c)
		if err != nil {
			t.Fatalf("Read() = %v before %v", err, end)
		}
		switch f.Type {
		case frame.Stdout:
			data = append(data, f.Payload...)
		case end, frame.Error:
			return data, f
		}
	}
}

func openRoot(t *testing.T, dir string) *os.Root {
	t.Helper()
	r, err := os.OpenRoot(dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	return r
}

// push carries host to the agent's dir, as the shim does.
func push(t *testing.T, w Workload, dir, host string) frame.Result {
	t.Helper()
	c, done := carrySessionDone(t, w, ticket.CarryPush, dir)
	data, f := until(t, c, frame.Ready)
	if f.Type != frame.Ready {
		t.Fatalf("push: %s", f.Payload)
	}
	m, err := treesync.ReadManifest(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	go func() {
		_, _ = treesync.Send(context.Background(), frame.Writer{W: c, Type: frame.Stdin}, openRoot(t, host), m)
		_ = frame.Write(c, frame.CloseStdin, nil)
	}()
	_, f = until(t, c, frame.ResultType)
	var res frame.Result
	if err := json.Unmarshal(f.Payload, &res); err != nil {
		t.Fatalf("result %q: %v", f.Payload, err)
	}
	if _, f = until(t, c, frame.Exit); f.Type != frame.Exit {
		t.Fatalf("after the result: %s", f.Payload)
	}
	<-done
	return res
}

func tree(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for p, body := range files {
		full := filepath.Join(dir, p)
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// TestCarryPushPull: a push makes the agent's directory equal to the
// host's folder; a pull (base and host manifests in, delta out) brings the
// workload's changes back.
func TestCarryPushPull(t *testing.T) {
	root, host := t.TempDir(), t.TempDir()
	tree(t, root, map[string]string{"__w/old.txt": "old"})
	tree(t, host, map[string]string{"_temp/x.sh": "echo hi\n", "repo/README": "r"})
	l := &Local{}
	l.Root = root
	t.Cleanup(func() { l.Close() })
	if res := push(t, l, "/__w", host); res.Status != http.StatusOK {
		t.Fatalf("push: %+v", res)
	}
	if _, err := os.Stat(filepath.Join(root, "__w", "old.txt")); !os.IsNotExist(err) {
		t.Fatalf("a first push mirrors the host: old.txt is still there (%v)", err)
	}
	if b, _ := os.ReadFile(filepath.Join(root, "__w", "_temp", "x.sh")); string(b) != "echo hi\n" {
		t.Fatalf("x.sh in the workload = %q", b)
	}

	tree(t, root, map[string]string{"__w/_temp/out": "answer=42\n"})
	base, err := treesync.Scan(openRoot(t, host))
	if err != nil {
		t.Fatal(err)
	}
	c := carrySession(t, l, ticket.CarryPull, "/__w")
	go func() {
		in := frame.Writer{W: c, Type: frame.Stdin}
		_ = treesync.WriteManifest(in, base)
		_ = treesync.WriteManifest(in, base)
		_ = frame.Write(c, frame.CloseStdin, nil)
	}()
	data, f := until(t, c, frame.Exit)
	if f.Type != frame.Exit {
		t.Fatalf("pull: %s", f.Payload)
	}
	st, err := treesync.Apply(context.Background(), bytes.NewReader(data), openRoot(t, host))
	if err != nil || st.Files != 1 {
		t.Fatalf("applying the pull: %+v, %v", st, err)
	}
	if b, _ := os.ReadFile(filepath.Join(host, "_temp", "out")); string(b) != "answer=42\n" {
		t.Fatalf("out on the host = %q", b)
	}
}

// TestCarryStaysInTheContainer: the directory is resolved inside the
// container's root (an absolute link to /etc means the container's /etc),
// a hostile delta is refused with a 400 result and changes nothing
// outside, and a missing directory or a workload that cannot carry ends
// the session with an error.
func TestCarryStaysInTheContainer(t *testing.T) {
	base := t.TempDir()
	root, host, outside := filepath.Join(base, "root"), filepath.Join(base, "host"), filepath.Join(base, "outside")
	tree(t, root, map[string]string{"etc/hostname": "c"})
	tree(t, host, map[string]string{"carried-into-etc": "x"})
	tree(t, outside, map[string]string{"secret": "keep"})
	if err := os.Symlink("/etc", filepath.Join(root, "link")); err != nil {
		t.Fatal(err)
	}
	l := &Local{}
	l.Root = root
	t.Cleanup(func() { l.Close() })
	// The host side has only carried-into-etc: the mirror removes hostname.
	if res := push(t, l, "/link", host); res.Status != http.StatusOK {
		t.Fatalf("push: %+v", res)
	}
	if _, err := os.Stat(filepath.Join(root, "etc", "carried-into-etc")); err != nil {
		t.Fatalf("not carried into the container's /etc: %v", err)
	}
	if _, err := os.Stat("/etc/carried-into-etc"); !os.IsNotExist(err) {
		t.Fatalf("carried into this machine's /etc: %v", err)
	}

	// A hostile sender: a link out of the root, then a write through it.
	c := carrySession(t, l, ticket.CarryPush, "/link")
	if _, f := until(t, c, frame.Ready); f.Type != frame.Ready {
		t.Fatalf("push: %s", f.Payload)
	}
	go func() {
		in := frame.Writer{W: c, Type: frame.Stdin}
		// Made with a real sender: a tree whose "out" links outside and
		// whose out/secret is a file, walked by Send against a receiver
		// that has neither.
		evil := t.TempDir()
		tree(t, evil, map[string]string{"zz/secret": "pwned"})
		_ = os.Symlink("../outside", filepath.Join(evil, "out"))
		var b bytes.Buffer
		_, _ = treesync.Send(context.Background(), &b, openRoot(t, evil), treesync.Manifest{})
		raw := bytes.Replace(b.Bytes(), []byte("\x09zz/secret"), []byte("\x0aout/secret"), 1)
		_, _ = io.Copy(in, bytes.NewReader(raw))
		_ = frame.Write(c, frame.CloseStdin, nil)
	}()
	_, f := until(t, c, frame.ResultType)
	var res frame.Result
	_ = json.Unmarshal(f.Payload, &res)
	if res.Status != http.StatusBadRequest || !strings.Contains(res.Message, "unsafe") {
		t.Fatalf("hostile delta answered %+v", res)
	}
	if b, _ := os.ReadFile(filepath.Join(outside, "secret")); string(b) != "keep" {
		t.Fatalf("outside/secret = %q", b)
	}

	for _, tc := range []struct {
		name string
		w    Workload
		dir  string
		want string
	}{
		{"missing", l, "/nowhere", "does not exist"},
		{"relative", l, "etc", "not an absolute path"},
		{"no carrier", execOnly{}, "/__w", "not supported"},
	} {
		c := carrySession(t, tc.w, ticket.CarryPull, tc.dir)
		go func() { _ = frame.Write(c, frame.CloseStdin, nil) }()
		if _, f := until(t, c, frame.Exit); f.Type != frame.Error || !strings.Contains(string(f.Payload), tc.want) {
			t.Fatalf("%s: %v %q, want an error with %q", tc.name, f.Type, f.Payload, tc.want)
		}
	}
}

// TestCarryWatchesBetweenCarries: the agent keeps a carried directory
// watched from its first carry: a change the workload made after a push
// comes back with the next pull and a change the host made goes with the
// next push, each carry after the first looks only at what changed
// (the watcher's scans are incremental), and Close closes the watcher's
// inotify descriptor.
func TestCarryWatchesBetweenCarries(t *testing.T) {
	// watching counts this process's inotify descriptors that watch dir,
	// read from /proc/self/fdinfo (each watch's line names the watched
	// inode), so descriptors other tests' watchers open or close
	// meanwhile are not counted.
	watching := func(dir string) int {
		var st syscall.Stat_t
		if err := syscall.Stat(dir, &st); err != nil {
			t.Fatal(err)
		}
		ents, err := os.ReadDir("/proc/self/fdinfo")
		if err != nil {
			t.Skip("no /proc/self/fdinfo here") // not Linux: nothing is watched
		}
		want := fmt.Sprintf(" ino:%x ", st.Ino)
		n := 0
		for _, e := range ents {
			b, _ := os.ReadFile(filepath.Join("/proc/self/fdinfo", e.Name()))
			for _, line := range strings.Split(string(b), "\n") {
				if strings.HasPrefix(line, "inotify ") && strings.Contains(line, want) {
					n++
					break
				}
			}
		}
		return n
	}
	root, host := t.TempDir(), t.TempDir()
	tree(t, root, map[string]string{"__w/keep": "k"})
	tree(t, host, map[string]string{"a/one": "1", "b/two": "2"})
	watched := filepath.Join(root, "__w")
	if n := watching(watched); n != 0 {
		t.Fatalf("%d inotify descriptors watch the directory before its first carry", n)
	}
	l := &Local{}
	l.Root = root
	t.Cleanup(func() { l.Close() })
	if res := push(t, l, "/__w", host); res.Status != http.StatusOK {
		t.Fatalf("push: %+v", res)
	}
	// The workload writes a file; the host changes another.
	tree(t, root, map[string]string{"__w/a/out": "answer=42\n"})
	tree(t, host, map[string]string{"b/two": "two"})
	if res := push(t, l, "/__w", host); res.Status != http.StatusOK {
		t.Fatalf("second push: %+v", res)
	}
	if b, _ := os.ReadFile(filepath.Join(root, "__w", "b", "two")); string(b) != "two" {
		t.Fatalf("b/two in the workload = %q", b)
	}
	if _, err := os.Stat(filepath.Join(root, "__w", "a", "out")); !os.IsNotExist(err) {
		t.Fatalf("a push mirrors the host (no base here): a/out is still there (%v)", err)
	}
	tree(t, root, map[string]string{"__w/a/out": "answer=43\n"})
	base, err := treesync.Scan(openRoot(t, host))
	if err != nil {
		t.Fatal(err)
	}
	c, done := carrySessionDone(t, l, ticket.CarryPull, "/__w")
	go func() {
		in := frame.Writer{W: c, Type: frame.Stdin}
		_ = treesync.WriteManifest(in, base)
		_ = treesync.WriteManifest(in, base)
		_ = frame.Write(c, frame.CloseStdin, nil)
	}()
	data, f := until(t, c, frame.Exit)
	if f.Type != frame.Exit {
		t.Fatalf("pull: %s", f.Payload)
	}
	<-done // the session has released the watcher
	if _, err := treesync.Apply(context.Background(), bytes.NewReader(data), openRoot(t, host)); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(filepath.Join(host, "a", "out")); string(b) != "answer=43\n" {
		t.Fatalf("a/out on the host = %q", b)
	}
	st, ok := l.CarryWatchers().Stats("/__w")
	if !ok || st.Full != 1 || st.Incremental != 2 || st.Unwatched != "" {
		t.Fatalf("the carried directory's watcher: %+v (kept %v), want one full walk then incremental scans", st, ok)
	}
	if n := watching(watched); n != 1 {
		t.Fatalf("%d inotify descriptors watch the carried directory after the carries, want 1", n)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if n := watching(watched); n != 0 {
		t.Fatalf("%d inotify descriptors still watch the carried directory after Close", n)
	}
}
