package integration

import (
	"archive/tar"
	"bytes"
	"encoding/binary"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/sockerless/sockerless/internal/embedded"
)

// TestCLIMemoryProvider runs real workloads in the WASM sandbox through
// the docker CLI: output, exit codes, exec, stdin, docker cp both ways,
// logs, volumes shared between containers, and escapes refused.
func TestCLIMemoryProvider(t *testing.T) {
	s := startServer(t, embedded.Options{StateDir: t.TempDir(), CacheDir: filepath.Join(os.TempDir(), "sockerless-test-wazero")})
	host := t.TempDir()
	secret := filepath.Join(host, "secret.txt")
	if err := os.WriteFile(secret, []byte("host-secret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	in := filepath.Join(host, "in.txt")
	if err := os.WriteFile(in, []byte("hello-from-host\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	back := filepath.Join(host, "back.txt")
	runSteps(t, s, []step{
		d(0, ``, "pull", "alpine:3.20"),
		d(0, `^hi$`, "run", "--rm", "alpine:3.20", "echo", "hi"),
		d(3, `^x$`, "run", "--rm", "alpine:3.20", "sh", "-c", "echo x; exit 3"),
		d(0, `^B$`, "run", "--rm", "alpine:3.20", "sh", "-c", "echo b | tr a-z A-Z"),
		d(1, `^before$`, "run", "--rm", "alpine:3.20", "bash", "-c", "set -e; echo before; false; echo after"),
		d(0, `nosuchcmd: not found\n127`, "run", "--rm", "alpine:3.20", "sh", "-c", "nosuchcmd; echo $?"),
		d(0, ``, "run", "-d", "--name", "box", "alpine:3.20", "tail", "-f", "/dev/null"),
		d(0, `^inside$`, "exec", "box", "sh", "-c", "echo inside"),
		{args: []string{"exec", "-i", "box", "wc", "-l"}, stdin: "a\nb\nc\n", rc: 0, want: `^\s*3$`},
		d(7, ``, "exec", "box", "sh", "-c", "exit 7"),
		d(0, `^v1$`, "exec", "-e", "K=v1", "box", "sh", "-c", "echo $K"),
		d(0, `^/tmp$`, "exec", "-w", "/tmp", "box", "pwd"),
		d(0, ``, "cp", in, "box:/tmp/in.txt"),
		d(0, `^hello-from-host$`, "exec", "box", "cat", "/tmp/in.txt"),
		d(0, ``, "cp", "box:/tmp/in.txt", back),
		d(0, `^safe$`, "exec", "box", "sh", "-c", "cat "+secret+" 2>/dev/null | grep -q host-secret && echo leaked || echo safe"),
		d(0, `^safe$`, "exec", "box", "sh", "-c", "ln -s "+host+" /tmp/out 2>/dev/null; cat /tmp/out/secret.txt 2>/dev/null | grep -q host-secret && echo leaked || echo safe"),
		d(0, `^safe$`, "exec", "box", "sh", "-c", "cat /../../../../..$(echo "+secret+") 2>/dev/null | grep -q host-secret && echo leaked || echo safe"),
		d(0, `^uid=65534\(nobody\) gid=65534\(nogroup\)`, "exec", "-u", "nobody", "box", "id"),
		d(1, `unable to find user ghost: no matching entries in passwd file`, "exec", "-u", "ghost", "box", "id"),
		d(0, `tail -f /dev/null`, "top", "box"),
		d(0, ``, "stop", "-t", "1", "box"),
		d(0, `^(137|143)$`, "inspect", "box", "--format", "{{.State.ExitCode}}"),
		d(0, ``, "rm", "box"),
		d(0, `^65534:0$`, "run", "--rm", "-u", "nobody:0", "alpine:3.20", "sh", "-c", "echo $(id -u):$(id -g)"),
		d(0, `^4242$`, "run", "--rm", "-u", "4242", "alpine:3.20", "id", "-u"),
		d(125, `unable to find user ghost: no matching entries in passwd file`, "run", "--rm", "-u", "ghost", "alpine:3.20", "true"),
		d(0, ``, "volume", "create", "shared"),
		d(0, ``, "run", "--rm", "-v", "shared:/data", "alpine:3.20", "sh", "-c", "echo persisted > /data/x"),
		d(0, `^persisted$`, "run", "--rm", "-v", "shared:/data", "alpine:3.20", "cat", "/data/x"),
		d(0, ``, "run", "-d", "--name", "logger", "alpine:3.20", "sh", "-c", "echo one; echo two >&2"),
		d(0, `^0$`, "wait", "logger"),
		d(0, `^one\ntwo$|^two\none$`, "logs", "logger"),
	})
	if b, err := os.ReadFile(back); err != nil || string(b) != "hello-from-host\n" {
		t.Fatalf("docker cp out: %q %v", b, err)
	}
	// stdout and stderr stay separate in the multiplexed log stream.
	_, _, body := raw(t, s, "GET", "/containers/logger/logs?stdout=1&stderr=1", "")
	streams := map[byte]string{}
	for b := []byte(body); len(b) >= 8; {
		n := int(binary.BigEndian.Uint32(b[4:8]))
		streams[b[0]] += string(b[8 : 8+n])
		b = b[8+n:]
	}
	if streams[1] != "one\n" || streams[2] != "two\n" {
		t.Fatalf("log streams %q", streams)
	}
}

// TestMemoryHealthcheck: a container with a health check goes starting →
// healthy (or unhealthy after the retries), as act and compose expect.
func TestMemoryHealthcheck(t *testing.T) {
	s := startServer(t, embedded.Options{StateDir: t.TempDir(), CacheDir: filepath.Join(os.TempDir(), "sockerless-test-wazero")})
	runSteps(t, s, []step{
		d(0, ``, "pull", "alpine:3.20"),
		d(0, ``, "run", "-d", "--name", "ok", "--health-cmd", "test -f /tmp/ready", "--health-interval", "100ms", "--health-retries", "2",
			"alpine:3.20", "sh", "-c", "touch /tmp/ready; sleep 30"),
		d(0, ``, "run", "-d", "--name", "bad", "--health-cmd", "exit 1", "--health-interval", "100ms", "--health-retries", "2", "alpine:3.20", "sleep", "30"),
	})
	for _, tc := range []struct{ name, want string }{{"ok", "healthy"}, {"bad", "unhealthy"}} {
		deadline := time.Now().Add(15 * time.Second)
		for {
			out, _ := s.docker(t, "", "inspect", tc.name, "--format", "{{.State.Health.Status}}")
			if strings.TrimSpace(out) == tc.want {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: health %q, want %q", tc.name, out, tc.want)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	// No health check: no Health object at all.
	runSteps(t, s, []step{
		d(0, ``, "run", "-d", "--name", "none", "alpine:3.20", "sleep", "30"),
		d(0, `^false$`, "inspect", "none", "--format", "{{if .State.Health}}true{{else}}false{{end}}"),
	})
}

// tarEntry is one entry of a test layer.
type tarEntry struct {
	name, body, link string
	typ              byte
	mode             int64
}

// layerTar builds an uncompressed layer tar.
func layerTar(t *testing.T, ents []tarEntry) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range ents {
		mode := e.mode
		if mode == 0 {
			mode = 0o644
		}
		hdr := &tar.Header{Name: e.name, Typeflag: e.typ, Mode: mode, Size: int64(len(e.body)), Linkname: e.link, ModTime: time.Unix(1700000000, 0)}
		if e.typ != tar.TypeReg {
			hdr.Size = 0
		}
		if err := tw.WriteHeader(hdr); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write([]byte(e.body)); err != nil && e.typ == tar.TypeReg {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// imageTarball writes a docker-save tarball of an image made of layers
// (bottom first) with cmd, tagged tag, using go-containerregistry.
func imageTarball(t *testing.T, path, tag string, cmd []string, layers ...[]byte) {
	t.Helper()
	img := empty.Image
	for _, b := range layers {
		l, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(b)), nil })
		if err != nil {
			t.Fatal(err)
		}
		if img, err = mutate.AppendLayers(img, l); err != nil {
			t.Fatal(err)
		}
	}
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture = "linux", "amd64"
	cf.Config.Cmd = cmd
	cf.Config.Env = []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"}
	if img, err = mutate.ConfigFile(img, cf); err != nil {
		t.Fatal(err)
	}
	ref, err := name.NewTag(tag)
	if err != nil {
		t.Fatal(err)
	}
	if err := tarball.WriteToFile(path, ref, img); err != nil {
		t.Fatal(err)
	}
}

// TestMemoryImageLayers: a loaded image's layers are the container's
// root — files, modes, whiteouts and opaque directories as the layers say,
// with the skeleton filling only what is missing — and layer entries that
// point or climb out of the root cannot reach host files.
func TestMemoryImageLayers(t *testing.T) {
	s := startServer(t, embedded.Options{StateDir: t.TempDir(), CacheDir: filepath.Join(os.TempDir(), "sockerless-test-wazero")})
	host := t.TempDir()
	if err := os.WriteFile(filepath.Join(host, "secret.txt"), []byte("host-secret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	up := strings.Repeat("../", 20) + strings.TrimPrefix(host, "/")
	base := layerTar(t, []tarEntry{
		{name: "etc/", typ: tar.TypeDir, mode: 0o755},
		{name: "etc/greeting.txt", typ: tar.TypeReg, body: "hello from a layer\n"},
		{name: "etc/hostname", typ: tar.TypeReg, body: "image-hostname\n"},
		{name: "app/", typ: tar.TypeDir, mode: 0o755},
		{name: "app/run.sh", typ: tar.TypeReg, mode: 0o755, body: "#!/bin/sh\necho script ran in $(cat /etc/greeting.txt)\n"},
		{name: "gone.txt", typ: tar.TypeReg, body: "deleted above\n"},
		{name: "opq/", typ: tar.TypeDir, mode: 0o755},
		{name: "opq/a.txt", typ: tar.TypeReg, body: "a\n"},
	})
	top := layerTar(t, []tarEntry{
		{name: ".wh.gone.txt", typ: tar.TypeReg},
		{name: "opq/.wh..wh..opq", typ: tar.TypeReg},
		{name: "opq/b.txt", typ: tar.TypeReg, body: "b\n"},
		{name: "rel", typ: tar.TypeSymlink, link: up},
		{name: "abs", typ: tar.TypeSymlink, link: host},
	})
	good := filepath.Join(host, "good.tar")
	imageTarball(t, good, "layered:1", []string{"cat", "/etc/greeting.txt"}, base, top)
	evil := filepath.Join(host, "evil.tar")
	imageTarball(t, evil, "evil:1", []string{"true"}, layerTar(t, []tarEntry{{name: "../../../../../../" + strings.TrimPrefix(host, "/") + "/planted.txt", typ: tar.TypeReg, body: "x"}}))
	runSteps(t, s, []step{
		d(0, `Loaded image: layered:1`, "load", "-i", good),
		d(0, `^hello from a layer$`, "run", "--rm", "layered:1"),
		d(0, `^script ran in hello from a layer$`, "run", "--rm", "layered:1", "/app/run.sh"),
		d(0, `^gone$`, "run", "--rm", "layered:1", "sh", "-c", "test -e /gone.txt && echo present || echo gone"),
		d(0, `^b\.txt$`, "run", "--rm", "layered:1", "ls", "/opq"),
		// The skeleton fills what the image lacks; hostname is Docker's.
		d(0, `^root:x:0:0.*\n[0-9a-f]{12}\nnameserver`, "run", "--rm", "layered:1", "sh", "-c", "head -1 /etc/passwd; cat /etc/hostname /etc/resolv.conf"),
		d(0, `^safe safe$`, "run", "--rm", "layered:1", "sh", "-c", "a=safe; b=safe; grep -q host-secret /rel/secret.txt 2>/dev/null && a=leaked; grep -q host-secret /abs/secret.txt 2>/dev/null && b=leaked; echo $a $b"),
		d(0, ``, "run", "--rm", "layered:1", "sh", "-c", "echo pwned > /abs/written.txt; echo pwned > /rel/written.txt; true"),
		d(0, `Loaded image: evil:1`, "load", "-i", evil),
		d(125, `escapes`, "run", "--rm", "evil:1"),
	})
	for _, f := range []string{"written.txt", "planted.txt"} {
		if _, err := os.Stat(filepath.Join(host, f)); err == nil {
			t.Fatalf("a layer symlink or entry wrote %s on the host", f)
		}
	}
}
