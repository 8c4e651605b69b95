package rootfs_test

import (
	"archive/tar"
	"bytes"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/sockerless/sockerless/internal/rootfs"
)

// layout makes host dirs: <tmp>/root (the container), <tmp>/outside/secret
// (must never be reachable) and <tmp>/vol (a volume).
func layout(t *testing.T) (tmp, root, vol string) {
	t.Helper()
	tmp = t.TempDir()
	root = filepath.Join(tmp, "root")
	vol = filepath.Join(tmp, "vol")
	for _, d := range []string{root, vol, filepath.Join(tmp, "outside"), filepath.Join(root, "etc")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	write(t, filepath.Join(tmp, "outside", "secret"), "HOST SECRET")
	write(t, filepath.Join(root, "etc", "os-release"), "CONTAINER OS")
	return
}

func write(t *testing.T, p, s string) {
	t.Helper()
	if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestEscapes(t *testing.T) {
	tmp, root, vol := layout(t)
	// Symlinks planted on the host side, as an image layer or another
	// container sharing the volume could.
	links := map[string]string{
		filepath.Join(root, "abs-etc"):     "/etc/os-release", // image symlink: must read the container's file
		filepath.Join(root, "rel-out"):     "../outside/secret",
		filepath.Join(root, "deep-out"):    "../../../../../../" + strings.TrimPrefix(tmp, "/") + "/outside/secret",
		filepath.Join(root, "host-abs"):    filepath.Join(tmp, "outside", "secret"),
		filepath.Join(vol, "vol-out"):      "../outside/secret",
		filepath.Join(vol, "vol-abs"):      "/etc/os-release",
		filepath.Join(root, "etc", "loop"): "loop",
	}
	for link, target := range links {
		if err := os.Symlink(target, link); err != nil {
			t.Fatal(err)
		}
	}
	f, err := rootfs.New(root, []rootfs.Mount{{Target: "/data", Source: vol}})
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()

	tests := []struct {
		path    string
		want    string // content, or "" when the read must fail
		wantErr error
	}{
		{"/etc/os-release", "CONTAINER OS", nil},
		{"/abs-etc", "CONTAINER OS", nil},
		{"/../outside/secret", "", fs.ErrNotExist},
		{"/../../../../" + tmp + "/outside/secret", "", fs.ErrNotExist},
		{"/rel-out", "", fs.ErrNotExist},
		{"/deep-out", "", fs.ErrNotExist},
		{"/host-abs", "", fs.ErrNotExist},
		{"/data/vol-out", "", fs.ErrNotExist},
		{"/data/vol-abs", "CONTAINER OS", nil},
		{"/data/../etc/os-release", "CONTAINER OS", nil},
		{"/etc/loop", "", syscall.ELOOP},
	}
	for _, tc := range tests {
		t.Run(tc.path, func(t *testing.T) {
			data, err := f.ReadFile(tc.path)
			if strings.Contains(string(data), "HOST SECRET") {
				t.Fatalf("%s escaped the root: %q", tc.path, data)
			}
			if tc.wantErr != nil {
				if !errors.Is(err, tc.wantErr) {
					t.Fatalf("%s: err = %v, want %v", tc.path, err, tc.wantErr)
				}
				return
			}
			if err != nil || string(data) != tc.want {
				t.Fatalf("%s: %q, %v; want %q", tc.path, data, err, tc.want)
			}
		})
	}

	// Writes through escaping links land inside (or fail), never outside.
	if err := f.MkdirAll("/outside", 0o755); err != nil {
		t.Fatal(err)
	}
	if err := f.Symlink("../outside/secret", "/w-rel"); err != nil {
		t.Fatal(err)
	}
	if err := f.Symlink(filepath.Join(tmp, "outside", "secret"), "/w-abs"); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"/w-rel", "/w-abs", "/data/vol-out"} {
		_ = f.WriteFile(p, []byte("PWNED"), 0o644)
	}
	if data, _ := os.ReadFile(filepath.Join(tmp, "outside", "secret")); string(data) != "HOST SECRET" {
		t.Fatalf("host file overwritten: %q", data)
	}
	// Creation through a dangling escaping link stays in the root.
	data, err := os.ReadFile(filepath.Join(root, "outside", "secret"))
	if err != nil || string(data) != "PWNED" {
		t.Fatalf("write via /w-rel should land in <root>/outside/secret: %q %v", data, err)
	}
}

func TestMounts(t *testing.T) {
	_, root, vol := layout(t)
	other := t.TempDir()
	write(t, filepath.Join(other, "file.conf"), "conf")
	f, err := rootfs.New(root, []rootfs.Mount{
		{Target: "/data", Source: vol},
		{Target: "/ro", Source: vol, ReadOnly: true},
		{Target: "/etc/app.conf", Source: filepath.Join(other, "file.conf")},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := f.WriteFile("/data/x", []byte("shared"), 0o644); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(filepath.Join(vol, "x")); string(b) != "shared" {
		t.Fatalf("volume write not visible on host: %q", b)
	}
	if b, err := f.ReadFile("/ro/x"); err != nil || string(b) != "shared" {
		t.Fatalf("ro read: %q %v", b, err)
	}
	if err := f.WriteFile("/ro/y", nil, 0o644); !errors.Is(err, syscall.EROFS) {
		t.Fatalf("ro write: %v, want EROFS", err)
	}
	if err := f.Rename("/data/x", "/tmpx"); !errors.Is(err, syscall.EXDEV) {
		t.Fatalf("cross-mount rename: %v, want EXDEV", err)
	}
	if err := f.Rename("/data/x", "/data/z"); err != nil {
		t.Fatal(err)
	}
	if b, err := f.ReadFile("/etc/app.conf"); err != nil || string(b) != "conf" {
		t.Fatalf("file mount: %q %v", b, err)
	}
	if err := f.Remove("/data"); !errors.Is(err, syscall.EBUSY) {
		t.Fatalf("remove mount point: %v, want EBUSY", err)
	}
	ents, err := f.ReadDir("/")
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	if got := strings.Join(names, ","); !strings.Contains(got, "data") || !strings.Contains(got, "ro") {
		t.Fatalf("mount points not listed in /: %s", got)
	}
}

func TestExtractTar(t *testing.T) {
	tests := []struct {
		name    string
		entries []tar.Header
		wantErr error
		check   func(t *testing.T, tmp, root string, f *rootfs.FS)
	}{
		{
			name:    "dotdot",
			entries: []tar.Header{{Name: "../outside/evil", Typeflag: tar.TypeReg, Mode: 0o644}},
			wantErr: rootfs.ErrUnsafeEntry,
		},
		{
			name:    "nested-dotdot",
			entries: []tar.Header{{Name: "a/../../evil", Typeflag: tar.TypeReg, Mode: 0o644}},
			wantErr: rootfs.ErrUnsafeEntry,
		},
		{
			name:    "hardlink-out",
			entries: []tar.Header{{Name: "h", Typeflag: tar.TypeLink, Linkname: "../outside/secret"}},
			wantErr: rootfs.ErrUnsafeEntry,
		},
		{
			name: "symlink-then-write-through",
			entries: []tar.Header{
				{Name: "esc", Typeflag: tar.TypeSymlink, Linkname: "../../../../etc"},
				{Name: "esc/passwd", Typeflag: tar.TypeReg, Mode: 0o644},
				{Name: "abs", Typeflag: tar.TypeSymlink, Linkname: "/etc"},
				{Name: "abs/os-release", Typeflag: tar.TypeReg, Mode: 0o644},
			},
			check: func(t *testing.T, tmp, root string, f *rootfs.FS) {
				if b, _ := os.ReadFile(filepath.Join(tmp, "outside", "secret")); string(b) != "HOST SECRET" {
					t.Fatalf("host file changed: %q", b)
				}
				if b, err := f.ReadFile("/etc/passwd"); err != nil || string(b) != "payload" {
					t.Fatalf("write through /esc should hit the container's /etc: %q %v", b, err)
				}
				if b, err := f.ReadFile("/etc/os-release"); err != nil || string(b) != "payload" {
					t.Fatalf("write through /abs should hit the container's /etc: %q %v", b, err)
				}
			},
		},
		{
			name: "absolute-names-and-whiteout",
			entries: []tar.Header{
				{Name: "/usr/bin/tool", Typeflag: tar.TypeReg, Mode: 0o755},
				{Name: "etc/.wh.os-release", Typeflag: tar.TypeReg},
			},
			check: func(t *testing.T, tmp, root string, f *rootfs.FS) {
				fi, err := f.Stat("/usr/bin/tool")
				if err != nil || fi.Mode().Perm() != 0o755 {
					t.Fatalf("tool: %v %v", fi, err)
				}
				if _, err := f.Stat("/etc/os-release"); !errors.Is(err, fs.ErrNotExist) {
					t.Fatalf("whiteout not applied: %v", err)
				}
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tmp, root, _ := layout(t)
			f, err := rootfs.New(root, nil)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			var buf bytes.Buffer
			tw := tar.NewWriter(&buf)
			for _, h := range tc.entries {
				h := h
				body := []byte("payload")
				if h.Typeflag == tar.TypeReg {
					h.Size = int64(len(body))
				}
				if err := tw.WriteHeader(&h); err != nil {
					t.Fatal(err)
				}
				if h.Typeflag == tar.TypeReg {
					tw.Write(body)
				}
			}
			tw.Close()
			err = rootfs.ExtractLayer(f, &buf)
			if tc.wantErr != nil {
				if !errors.Is(err, tc.wantErr) {
					t.Fatalf("err = %v, want %v", err, tc.wantErr)
				}
			} else if err != nil {
				t.Fatal(err)
			}
			if b, _ := os.ReadFile(filepath.Join(tmp, "outside", "secret")); string(b) != "HOST SECRET" {
				t.Fatalf("host file changed: %q", b)
			}
			if _, err := os.Stat(filepath.Join(tmp, "outside", "evil")); err == nil {
				t.Fatal("entry written outside the root")
			}
			if tc.check != nil {
				tc.check(t, tmp, root, f)
			}
		})
	}
}

func TestSkeleton(t *testing.T) {
	_, root, _ := layout(t)
	f, err := rootfs.New(root, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	// An image symlink at /etc/hostname must not redirect the write.
	if err := f.Symlink("/etc/os-release", "/etc/hostname"); err != nil {
		t.Fatal(err)
	}
	if err := rootfs.Skeleton(f, rootfs.SkeletonOptions{Hostname: "h1"}); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"/etc/passwd", "/etc/group", "/etc/hosts", "/tmp", "/dev/null", "/bin"} {
		if _, err := f.Stat(p); err != nil {
			t.Errorf("%s missing: %v", p, err)
		}
	}
	if b, _ := f.ReadFile("/etc/hostname"); string(b) != "h1\n" {
		t.Errorf("hostname %q", b)
	}
	if b, _ := f.ReadFile("/etc/os-release"); string(b) != "CONTAINER OS" {
		t.Errorf("os-release overwritten via symlink: %q", b)
	}
	if fi, _ := f.Stat("/tmp"); fi.Mode()&fs.ModeSticky == 0 || fi.Mode().Perm() != 0o777 {
		t.Errorf("/tmp mode %v", fi.Mode())
	}
}
