package localshim

import (
	"archive/tar"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
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
		{"outside the carried folders", http.MethodPut, "/builds", false, http.StatusNotImplemented, "", true},
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
