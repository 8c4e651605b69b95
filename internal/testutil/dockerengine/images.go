package dockerengine

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/sha256"
	"debug/elf"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/moby/moby/client"
	"golang.org/x/sys/unix"
)

// busyboxPasswd and busyboxGroup are the account files of the official
// busybox image (busybox:latest, glibc variant), so that `-u nobody`,
// `-u daemon` and `id` behave as on a pulled image.
const (
	busyboxPasswd = `root:x:0:0:root:/root:/bin/sh
daemon:x:1:1:daemon:/usr/sbin:/bin/false
bin:x:2:2:bin:/bin:/bin/false
sys:x:3:3:sys:/dev:/bin/false
sync:x:4:100:sync:/bin:/bin/sync
mail:x:8:8:mail:/var/spool/mail:/bin/false
www-data:x:33:33:www-data:/var/www:/bin/false
operator:x:37:37:Operator:/var:/bin/false
nobody:x:65534:65534:nobody:/home:/bin/false
`
	busyboxGroup = `root:x:0:
daemon:x:1:
bin:x:2:
sys:x:3:
adm:x:4:
tty:x:5:
disk:x:6:
lp:x:7:
mail:x:8:
kmem:x:9:
wheel:x:10:root
cdrom:x:11:
dialout:x:18:
floppy:x:19:
video:x:28:
audio:x:29:
tape:x:32:
www-data:x:33:
operator:x:37:
utmp:x:43:
plugdev:x:46:
staff:x:50:
lock:x:54:
netdev:x:82:
users:x:100:
nogroup:x:65534:
`
	busyboxShadow = `root:*:10933:0:99999:7:::
daemon:*:10933:0:99999:7:::
bin:*:10933:0:99999:7:::
sys:*:10933:0:99999:7:::
sync:*:10933:0:99999:7:::
mail:*:10933:0:99999:7:::
www-data:*:10933:0:99999:7:::
operator:*:10933:0:99999:7:::
nobody:*:10933:0:99999:7:::
`
)

// BusyboxTar returns the root filesystem of the busybox test image as a
// tar stream: the static busybox binary of Debian's busybox-static at
// /bin/busybox, a hard link in /bin for each of its applets, and the
// official image's /etc/passwd, /etc/group and /etc/shadow.
func BusyboxTar() ([]byte, error) {
	bin, err := exec.LookPath("busybox")
	if err != nil {
		return nil, fmt.Errorf("dockerengine: busybox not on PATH (install busybox-static): %w", err)
	}
	if err := checkStatic(bin); err != nil {
		return nil, err
	}
	body, err := os.ReadFile(bin)
	if err != nil {
		return nil, fmt.Errorf("dockerengine: %w", err)
	}
	out, err := exec.Command(bin, "--list").Output()
	if err != nil {
		return nil, fmt.Errorf("dockerengine: busybox --list: %w", err)
	}
	mtime := time.Unix(0, 0)
	if fi, err := os.Stat(bin); err == nil {
		mtime = fi.ModTime()
	}
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	dir := func(name string, mode int64) {
		_ = tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: name + "/", Mode: mode, ModTime: mtime, Format: tar.FormatPAX})
	}
	file := func(name string, mode int64, data []byte) {
		_ = tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: name, Mode: mode, Size: int64(len(data)), ModTime: mtime, Format: tar.FormatPAX})
		_, _ = tw.Write(data)
	}
	for _, d := range []string{"bin", "dev", "etc", "home", "lib", "usr", "usr/sbin", "var", "var/spool", "var/spool/mail", "var/www"} {
		dir(d, 0o755)
	}
	dir("root", 0o700)
	dir("tmp", 0o1777)
	file("bin/busybox", 0o755, body)
	for _, name := range strings.Fields(string(out)) {
		// `busybox --list` names busybox itself: linking it would replace
		// the binary with a link to itself.
		if name == "busybox" || strings.Contains(name, "/") {
			continue
		}
		_ = tw.WriteHeader(&tar.Header{Typeflag: tar.TypeLink, Name: "bin/" + name, Linkname: "bin/busybox", Mode: 0o755, ModTime: mtime, Format: tar.FormatPAX})
	}
	file("etc/passwd", 0o644, []byte(busyboxPasswd))
	file("etc/group", 0o644, []byte(busyboxGroup))
	file("etc/shadow", 0o640, []byte(busyboxShadow))
	if err := tw.Close(); err != nil {
		return nil, fmt.Errorf("dockerengine: busybox tar: %w", err)
	}
	return buf.Bytes(), nil
}

// checkStatic refuses a dynamically linked busybox (Debian's busybox
// package): the image has no libraries.
func checkStatic(path string) error {
	f, err := elf.Open(path)
	if err != nil {
		return fmt.Errorf("dockerengine: %s: %w", path, err)
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			return fmt.Errorf("dockerengine: %s is dynamically linked; install busybox-static", path)
		}
	}
	return nil
}

// importImage imports a root filesystem tar as ref with the given
// Dockerfile changes and waits for the import to finish.
func (e *Engine) importImage(ctx context.Context, rootfs io.Reader, ref string, changes []string) error {
	c, err := e.Client()
	if err != nil {
		return err
	}
	defer c.Close()
	return importWith(ctx, c, rootfs, ref, changes)
}

// importWith imports rootfs as ref on the engine c answers for.
func importWith(ctx context.Context, c *client.Client, rootfs io.Reader, ref string, changes []string) error {
	res, err := c.ImageImport(ctx, client.ImageImportSource{Source: rootfs, SourceName: "-"}, ref, client.ImageImportOptions{Changes: changes})
	if err != nil {
		return fmt.Errorf("dockerengine: importing %s: %w", ref, err)
	}
	defer res.Close()
	dec := json.NewDecoder(res)
	for {
		var msg struct {
			Error       string `json:"error"`
			ErrorDetail *struct {
				Message string `json:"message"`
			} `json:"errorDetail"`
		}
		if err := dec.Decode(&msg); err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return fmt.Errorf("dockerengine: importing %s: %w", ref, err)
		}
		if msg.Error != "" {
			return fmt.Errorf("dockerengine: importing %s: %s", ref, msg.Error)
		}
	}
}

func (e *Engine) loadBusybox(ctx context.Context) error {
	rootfs, err := BusyboxTar()
	if err != nil {
		return err
	}
	// As the official image: PATH in its environment, sh as its command.
	return e.importImage(ctx, bytes.NewReader(rootfs), BusyboxImage, []string{`ENV PATH=` + DefaultPath, `CMD ["sh"]`})
}

// DefaultPath is the PATH the official busybox and debian images set.
const DefaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// LoadDebian loads a Debian bookworm minbase image as DebianImage (once per
// engine) and returns its reference. The root filesystem is built by
// debootstrap once per machine and cached (DebianTar); the first build
// takes minutes and needs the Debian mirror.
func (e *Engine) LoadDebian(ctx context.Context) (string, error) {
	e.debianMu.Lock()
	defer e.debianMu.Unlock()
	if e.debianRef != "" {
		return e.debianRef, nil
	}
	path, err := DebianTar(ctx)
	if err != nil {
		return "", err
	}
	f, err := os.Open(path)
	if err != nil {
		return "", fmt.Errorf("dockerengine: %w", err)
	}
	defer f.Close()
	if err := e.importImage(ctx, f, DebianImage, []string{`ENV PATH=` + DefaultPath, `CMD ["bash"]`}); err != nil {
		return "", err
	}
	e.debianRef = DebianImage
	return e.debianRef, nil
}

// debianMirror is the Debian archive debootstrap fetches from.
func debianMirror() string {
	if m := os.Getenv("SOCKERLESS_DEBIAN_MIRROR"); m != "" {
		return m
	}
	return "http://deb.debian.org/debian"
}

// DebianTar returns the path of a tar of a `debootstrap --variant=minbase
// bookworm` root, building it when the cache has none. The cache file is
// named by a digest of everything that decides its content (debootstrap's
// version, suite, variant, mirror, architecture), so a change to any of
// them builds a new one; one build at a time per machine.
func DebianTar(ctx context.Context) (string, error) {
	if _, err := exec.LookPath("debootstrap"); err != nil {
		return "", fmt.Errorf("dockerengine: debootstrap not on PATH (install it: .ci/tools.sh): %w", err)
	}
	ver, err := exec.CommandContext(ctx, "debootstrap", "--version").Output()
	if err != nil {
		return "", fmt.Errorf("dockerengine: debootstrap --version: %w", err)
	}
	arch, err := exec.CommandContext(ctx, "dpkg", "--print-architecture").Output()
	if err != nil {
		return "", fmt.Errorf("dockerengine: dpkg --print-architecture: %w", err)
	}
	const suite, variant = "bookworm", "minbase"
	mirror := debianMirror()
	sum := sha256.Sum256([]byte(strings.Join([]string{strings.TrimSpace(string(ver)), suite, variant, mirror, strings.TrimSpace(string(arch))}, "\n")))
	cache, err := CacheDir()
	if err != nil {
		return "", err
	}
	if err := os.MkdirAll(cache, 0o755); err != nil {
		return "", fmt.Errorf("dockerengine: %w", err)
	}
	path := filepath.Join(cache, fmt.Sprintf("debian-%s-%s-%s.tar", suite, variant, hex.EncodeToString(sum[:6])))
	if _, err := os.Stat(path); err == nil {
		return path, nil
	}
	lock, err := os.OpenFile(path+".lock", os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return "", fmt.Errorf("dockerengine: %w", err)
	}
	defer lock.Close()
	if err := unix.Flock(int(lock.Fd()), unix.LOCK_EX); err != nil {
		return "", fmt.Errorf("dockerengine: %w", err)
	}
	if _, err := os.Stat(path); err == nil {
		return path, nil // built by another process meanwhile
	}
	root, err := os.MkdirTemp(cache, "debootstrap-")
	if err != nil {
		return "", fmt.Errorf("dockerengine: %w", err)
	}
	defer func() {
		_ = unmountUnder(root)
		_ = os.RemoveAll(root)
	}()
	cmd := exec.CommandContext(ctx, "debootstrap", "--variant="+variant, suite, root, mirror)
	if out, err := cmd.CombinedOutput(); err != nil {
		if len(out) > 4096 {
			out = out[len(out)-4096:]
		}
		return "", fmt.Errorf("dockerengine: debootstrap %s: %w\n%s", suite, err, out)
	}
	// As the official image: no downloaded packages left in the archive.
	debs, _ := filepath.Glob(filepath.Join(root, "var", "cache", "apt", "archives", "*.deb"))
	for _, d := range debs {
		_ = os.Remove(d)
	}
	tmp := path + ".tmp"
	if out, err := exec.CommandContext(ctx, "tar", "-C", root, "--numeric-owner", "-cf", tmp, ".").CombinedOutput(); err != nil {
		_ = os.Remove(tmp)
		return "", fmt.Errorf("dockerengine: tar of the debootstrap root: %w: %s", err, out)
	}
	if err := os.Rename(tmp, path); err != nil {
		return "", fmt.Errorf("dockerengine: %w", err)
	}
	return path, nil
}
