package agent

import (
	"archive/tar"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"testing"

	"github.com/sockerless/sockerless/providers"
	"github.com/sockerless/sockerless/relay/frame"
	"github.com/sockerless/sockerless/relay/ticket"
)

type tarEntry struct {
	name, body, link string
	typ              byte
}

func makeTar(t *testing.T, entries ...tarEntry) []byte {
	t.Helper()
	var b bytes.Buffer
	tw := tar.NewWriter(&b)
	for _, e := range entries {
		h := &tar.Header{Name: e.name, Typeflag: e.typ, Mode: 0o644, Size: int64(len(e.body)), Linkname: e.link}
		if e.typ == 0 {
			h.Typeflag = tar.TypeReg
		}
		if h.Typeflag != tar.TypeReg {
			h.Size = 0
			h.Mode = 0o755
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if h.Size > 0 {
			tw.Write([]byte(e.body))
		}
	}
	tw.Close()
	return b.Bytes()
}

// archiveSession runs one archive grant through ServeSession as the relay
// would deliver it and returns the Result and the data that followed.
func archiveSession(t *testing.T, w Workload, a ticket.Archive, upload []byte) (frame.Result, []byte) {
	t.Helper()
	client, agentEnd := net.Pipe()
	g := ticket.Grant{Container: "c", Session: "s", Kind: ticket.KindArchive, Archive: &a}
	go ServeSession(context.Background(), agentEnd, g, w, nil)
	go func() {
		if len(upload) > 0 {
			frame.Write(client, frame.Stdin, upload)
		}
		frame.Write(client, frame.CloseStdin, nil)
	}()
	defer client.Close()
	var res frame.Result
	var data []byte
	got := false
	for {
		f, err := frame.Read(client)
		if err != nil {
			t.Fatalf("Read() = %v before Exit", err)
		}
		switch f.Type {
		case frame.ResultType:
			if err := json.Unmarshal(f.Payload, &res); err != nil {
				t.Fatal(err)
			}
			got = true
		case frame.Stdout:
			data = append(data, f.Payload...)
		case frame.Exit:
			if !got {
				t.Fatal("Exit before Result")
			}
			return res, data
		case frame.Error:
			t.Fatalf("Error frame %s", f.Payload)
		}
	}
}

func TestArchiveStatGetPut(t *testing.T) {
	root := t.TempDir()
	os.MkdirAll(filepath.Join(root, "data/sub"), 0o755)
	os.WriteFile(filepath.Join(root, "data/sub/f.txt"), []byte("hello"), 0o644)
	l := &Local{}
	l.Root = root

	res, _ := archiveSession(t, l, ticket.Archive{Op: ticket.ArchiveStat, Path: "/data"}, nil)
	var st providers.PathStat
	json.Unmarshal(res.Stat, &st)
	if res.Status != http.StatusOK || st.Name != "data" || os.FileMode(st.Mode)&os.ModeDir == 0 {
		t.Errorf("stat /data = %+v %+v", res, st)
	}
	if res, _ := archiveSession(t, l, ticket.Archive{Op: ticket.ArchiveStat, Path: "/missing"}, nil); res.Status != http.StatusNotFound {
		t.Errorf("stat /missing = %+v, want 404", res)
	}

	res, data := archiveSession(t, l, ticket.Archive{Op: ticket.ArchiveGet, Path: "/data"}, nil)
	if res.Status != http.StatusOK {
		t.Fatalf("get = %+v", res)
	}
	names := map[string]string{}
	tr := tar.NewReader(bytes.NewReader(data))
	for {
		h, err := tr.Next()
		if err != nil {
			break
		}
		b, _ := io.ReadAll(tr)
		names[h.Name] = string(b)
	}
	if names["data/sub/f.txt"] != "hello" {
		t.Errorf("tar entries = %v", names)
	}

	up := makeTar(t, tarEntry{name: "new/", typ: tar.TypeDir}, tarEntry{name: "new/g.txt", body: "uploaded"})
	if res, _ := archiveSession(t, l, ticket.Archive{Op: ticket.ArchivePut, Path: "/data"}, up); res.Status != http.StatusOK {
		t.Fatalf("put = %+v", res)
	}
	if b, _ := os.ReadFile(filepath.Join(root, "data/new/g.txt")); string(b) != "uploaded" {
		t.Errorf("uploaded file = %q", b)
	}
	if res, _ := archiveSession(t, l, ticket.Archive{Op: ticket.ArchivePut, Path: "/data/sub/f.txt"}, up); res.Status != http.StatusBadRequest {
		t.Errorf("put into a file = %+v, want 400", res)
	}
}

// TestArchivePutConfined: tar entries that climb out with "..", or through
// a symlink planted by an earlier entry, never write outside the root.
func TestArchivePutConfined(t *testing.T) {
	outside := t.TempDir()
	root := t.TempDir()
	l := &Local{}
	l.Root = root
	res, _ := archiveSession(t, l, ticket.Archive{Op: ticket.ArchivePut, Path: "/"},
		makeTar(t, tarEntry{name: "../../../../" + outside + "/dotdot", body: "x"}))
	if res.Status != http.StatusBadRequest {
		t.Errorf("put with .. = %+v, want 400", res)
	}
	// An absolute link is resolved inside the container: "/" is the root.
	res, _ = archiveSession(t, l, ticket.Archive{Op: ticket.ArchivePut, Path: "/"},
		makeTar(t, tarEntry{name: "toroot", typ: tar.TypeSymlink, link: "/"}, tarEntry{name: "toroot/viaroot", body: "x"}))
	if res.Status != http.StatusOK {
		t.Errorf("put through a link to / = %+v", res)
	}
	if _, err := os.Stat(filepath.Join(root, "viaroot")); err != nil {
		t.Errorf("file through the link to / is not at the root: %v", err)
	}
	// A link naming a host directory leads nowhere outside.
	archiveSession(t, l, ticket.Archive{Op: ticket.ArchivePut, Path: "/"},
		makeTar(t, tarEntry{name: "escape", typ: tar.TypeSymlink, link: outside}, tarEntry{name: "escape/viasymlink", body: "x"}))
	if ents, _ := os.ReadDir(outside); len(ents) != 0 {
		t.Fatalf("files written outside the root: %v", ents)
	}
}

func TestArchiveUnsupportedWorkload(t *testing.T) {
	var w Workload = execOnly{}
	res, _ := archiveSession(t, w, ticket.Archive{Op: ticket.ArchiveStat, Path: "/"}, nil)
	if res.Status != http.StatusNotImplemented {
		t.Errorf("stat on a workload without Archiver = %+v, want 501", res)
	}
}

type execOnly struct{}

func (execOnly) Exec(context.Context, ticket.Grant, ticket.Process, Stdio) (int, error) {
	return 0, nil
}
func (execOnly) Attach(context.Context, ticket.Grant, Stdio) (int, error) { return 0, nil }
