package localshim

import (
	"archive/tar"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/sockerless/sockerless/internal/controlapi"
)

type noDialer struct{}

func (noDialer) Dial(context.Context, string, string) (io.ReadWriteCloser, error) {
	return nil, errors.New("no relay in this test")
}

// fakeFunctions answers a container's inspect (with its carried binds
// and its state) and the provider's name, and records every other
// request, which it answers 501.
type fakeFunctions struct {
	binds   []CarriedBind
	running bool
	mu      sync.Mutex
	other   []string
}

func (f *fakeFunctions) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch r.URL.Path {
	case "/containers/c1/json":
		l, _ := json.Marshal(f.binds)
		_ = json.NewEncoder(w).Encode(map[string]any{"Id": "c1", "Name": "/c1",
			"Config": map[string]any{"Labels": map[string]string{CarryLabel: string(l)}}, "State": map[string]any{"Running": f.running}})
	case "/info":
		_ = json.NewEncoder(w).Encode(map[string]any{"DriverStatus": [][2]string{{"Provider", "ecs"}}})
	default:
		f.mu.Lock()
		f.other = append(f.other, r.Method+" "+r.URL.Path)
		f.mu.Unlock()
		http.Error(w, `{"message":"not here"}`, http.StatusNotImplemented)
	}
}

func tarOf(t *testing.T, files map[string]string) []byte {
	t.Helper()
	var b bytes.Buffer
	tw := tar.NewWriter(&b)
	for n, c := range files {
		if err := tw.WriteHeader(&tar.Header{Name: n, Mode: 0o644, Size: int64(len(c)), Typeflag: tar.TypeReg}); err != nil {
			t.Fatal(err)
		}
		_, _ = tw.Write([]byte(c))
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// TestArchiveIntoCarriedFolder: docker cp (stat, then upload) into a
// created container at a path inside a carried named volume or host
// folder is served by the shim on the folder it carries, as Docker writes
// into the volume; a running container, a path outside the carried
// folders, a read-only bind and a download go to functions.
func TestArchiveIntoCarriedFolder(t *testing.T) {
	volDir, hostDir := t.TempDir(), t.TempDir()
	binds := []CarriedBind{{Volume: "build", Destination: "/builds/group/project"}, {Source: hostDir, Destination: "/host"},
		{Source: t.TempDir(), Destination: "/ro", ReadOnly: true}}
	tests := []struct {
		name        string
		method, p   string
		running     bool
		wantStatus  int
		wantFile    string // written by an upload (relative to the volume folder or hostDir)
		toFunctions bool
	}{
		{"stat the volume's mount point", http.MethodHead, "/builds/group/project", false, http.StatusOK, "", false},
		{"stat a missing path in the volume", http.MethodHead, "/builds/group/project/none", false, http.StatusNotFound, "", false},
		{"upload to the volume's mount point", http.MethodPut, "/builds/group/project", false, http.StatusOK, "build/f.txt", false},
		{"upload below it", http.MethodPut, "/builds/group/project/sub/.", false, http.StatusOK, "build/sub/f.txt", false},
		{"upload to a carried host folder", http.MethodPut, "/host", false, http.StatusOK, "host/f.txt", false},
		{"upload to a missing folder", http.MethodPut, "/builds/group/project/none", false, http.StatusNotFound, "", false},
		{"a running container", http.MethodPut, "/builds/group/project", true, http.StatusNotImplemented, "", true},
		// Staged for the start (TestArchiveStagedUntilStart), functions
		// having refused it.
		{"outside the carried folders", http.MethodPut, "/builds", false, http.StatusOK, "", true},
		{"a read-only bind", http.MethodPut, "/ro", false, http.StatusNotImplemented, "", true},
		{"a download", http.MethodGet, "/builds/group/project", false, http.StatusNotImplemented, "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_ = os.RemoveAll(filepath.Join(volDir, "build"))
			if err := os.MkdirAll(filepath.Join(volDir, "build", "sub"), 0o755); err != nil {
				t.Fatal(err)
			}
			ff := &fakeFunctions{binds: binds, running: tt.running}
			srv := httptest.NewServer(ff)
			defer srv.Close()
			s, err := New(Options{Transport: http.DefaultTransport, BaseURL: srv.URL, Dialer: noDialer{}, CarryBinds: true, VolumeDir: volDir})
			if err != nil {
				t.Fatal(err)
			}
			var body io.Reader = http.NoBody
			if tt.method == http.MethodPut {
				body = bytes.NewReader(tarOf(t, map[string]string{"f.txt": "from the host"}))
			}
			req := httptest.NewRequest(tt.method, "/v1.47/containers/c1/archive?path="+tt.p, body)
			rec := httptest.NewRecorder()
			s.ServeHTTP(rec, req)
			if rec.Code != tt.wantStatus {
				t.Fatalf("status %d, want %d: %s", rec.Code, tt.wantStatus, rec.Body.String())
			}
			if got := len(ff.other) > 0; got != tt.toFunctions {
				t.Fatalf("reached functions: %v (%q), want %v", got, ff.other, tt.toFunctions)
			}
			if tt.method == http.MethodHead && tt.wantStatus == http.StatusOK {
				var st struct {
					Name string
					Mode uint32
				}
				b, _ := base64.StdEncoding.DecodeString(rec.Header().Get("X-Docker-Container-Path-Stat"))
				if err := json.Unmarshal(b, &st); err != nil || st.Name != "project" || os.FileMode(st.Mode)&os.ModeDir == 0 {
					t.Fatalf("path stat %s: %+v %v", b, st, err)
				}
			}
			if tt.wantFile != "" {
				dir, rel, _ := strings.Cut(tt.wantFile, "/")
				root := filepath.Join(volDir, dir)
				if dir == "host" {
					root = hostDir
				}
				if b, err := os.ReadFile(filepath.Join(root, rel)); err != nil || string(b) != "from the host" {
					t.Fatalf("%s: %q %v", tt.wantFile, b, err)
				}
			}
		})
	}
}

// stagingFunctions is functions for a created container with a carried
// volume on a provider whose workloads have their own files: docker cp
// is refused (501) until the container runs; once it runs an upload is
// taken directly (ArchiveDirect) and recorded; carries are refused
// (409, no agent) before the start and answered 501 after.
type stagingFunctions struct {
	mu       sync.Mutex
	provider string // default ecs
	running  bool
	puts     []string // path=…: body of each upload taken
	calls    []string
}

func (f *stagingFunctions) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, r.Method+" "+r.URL.Path)
	r.URL.Path = versionPrefix.ReplaceAllString(r.URL.Path, "")
	switch {
	case r.URL.Path == "/containers/c1/json":
		l, _ := json.Marshal([]CarriedBind{{Volume: "build", Destination: "/builds"}})
		_ = json.NewEncoder(w).Encode(map[string]any{"Id": "c1", "Name": "/c1",
			"Config": map[string]any{"Labels": map[string]string{CarryLabel: string(l)}}, "State": map[string]any{"Running": f.running}})
	case r.URL.Path == "/info":
		p := f.provider
		if p == "" {
			p = "ecs"
		}
		_ = json.NewEncoder(w).Encode(map[string]any{"DriverStatus": [][2]string{{"Provider", p}}})
	case r.URL.Path == "/containers/c1/start":
		f.running = true
		w.WriteHeader(http.StatusNoContent)
	case strings.HasPrefix(r.URL.Path, carryTicketPath) && !f.running:
		http.Error(w, `{"message":"no agent yet"}`, http.StatusConflict)
	case r.URL.Path == "/containers/c1/archive" && r.Method == http.MethodPut && f.running:
		if r.Header.Get(controlapi.HeaderArchiveTicket) != "" {
			w.Header().Set(controlapi.HeaderArchiveTicket, controlapi.ArchiveDirect)
			w.WriteHeader(http.StatusNoContent)
			return
		}
		tr := tar.NewReader(r.Body)
		h, err := tr.Next()
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		b, _ := io.ReadAll(tr)
		f.puts = append(f.puts, r.URL.Query().Get("path")+":"+h.Name+"="+string(b))
		w.WriteHeader(http.StatusOK)
	default:
		http.Error(w, `{"message":"copying files to a container that is not running is not supported"}`, http.StatusNotImplemented)
	}
}

// TestArchiveStagedUntilStart: an upload outside the carried folders of
// a created container with carried folders is staged by the shim and
// applied, in order, once the start is through and before the client
// hears of it; on Lambda (no hold) and for a container without carried
// folders functions' refusal stands.
func TestArchiveStagedUntilStart(t *testing.T) {
	f := &stagingFunctions{}
	srv := httptest.NewServer(f)
	defer srv.Close()
	s, err := New(Options{Transport: http.DefaultTransport, BaseURL: srv.URL, Dialer: noDialer{}, CarryBinds: true, VolumeDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	do := func(method, target string, body []byte) *httptest.ResponseRecorder {
		t.Helper()
		rec := httptest.NewRecorder()
		s.ServeHTTP(rec, httptest.NewRequest(method, target, bytes.NewReader(body)))
		return rec
	}
	for i, name := range []string{"gcl-cmd", "second"} {
		if rec := do(http.MethodPut, "/v1.47/containers/c1/archive?path=/", tarOf(t, map[string]string{name: fmt.Sprint("script ", i)})); rec.Code != http.StatusOK {
			t.Fatalf("staged upload: %d %s", rec.Code, rec.Body.String())
		}
	}
	if len(f.puts) != 0 {
		t.Fatalf("uploads reached functions before the start: %q", f.puts)
	}
	if rec := do(http.MethodPost, "/v1.47/containers/c1/start", nil); rec.Code != http.StatusNoContent {
		t.Fatalf("start: %d %s; calls %q", rec.Code, rec.Body.String(), f.calls)
	}
	want := []string{"/:gcl-cmd=script 0", "/:second=script 1"}
	if strings.Join(f.puts, "|") != strings.Join(want, "|") {
		t.Fatalf("uploads applied %q, want %q", f.puts, want)
	}
	// Applied once: a second start has nothing staged.
	f.mu.Lock()
	f.running, f.puts = false, nil
	f.mu.Unlock()
	if rec := do(http.MethodPost, "/v1.47/containers/c1/start", nil); rec.Code != http.StatusNoContent || len(f.puts) != 0 {
		t.Fatalf("second start: %d, uploads %q", rec.Code, f.puts)
	}

	// On a provider whose agents do not hold the process for the carry
	// (Lambda), functions' refusal stands.
	fl := &stagingFunctions{provider: "lambda"}
	srvL := httptest.NewServer(fl)
	defer srvL.Close()
	sl, err := New(Options{Transport: http.DefaultTransport, BaseURL: srvL.URL, Dialer: noDialer{}, CarryBinds: true, VolumeDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	recL := httptest.NewRecorder()
	sl.ServeHTTP(recL, httptest.NewRequest(http.MethodPut, "/v1.47/containers/c1/archive?path=/", bytes.NewReader(tarOf(t, map[string]string{"f": "x"}))))
	if recL.Code != http.StatusNotImplemented {
		t.Fatalf("upload on lambda: %d, want 501", recL.Code)
	}

	// Without carried folders functions' refusal stands.
	ff := &fakeFunctions{}
	srv2 := httptest.NewServer(ff)
	defer srv2.Close()
	s2, err := New(Options{Transport: http.DefaultTransport, BaseURL: srv2.URL, Dialer: noDialer{}, CarryBinds: true, VolumeDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	rec := httptest.NewRecorder()
	s2.ServeHTTP(rec, httptest.NewRequest(http.MethodPut, "/v1.47/containers/c1/archive?path=/", bytes.NewReader(tarOf(t, map[string]string{"f": "x"}))))
	if rec.Code != http.StatusNotImplemented {
		t.Fatalf("upload without carried folders: %d, want 501", rec.Code)
	}
}
