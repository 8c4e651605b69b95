package build

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/sockerless/sockerless/internal/errdefs"
	"github.com/sockerless/sockerless/internal/layerstore"
	"github.com/sockerless/sockerless/providers"
)

// fakeRunner runs "RUN write PATH TEXT", "RUN exit N" and "RUN env" by
// touching the root directly, and records what it was given.
type fakeRunner struct{ calls []providers.RootProcess }

func (f *fakeRunner) RunInRoot(ctx context.Context, root string, p providers.RootProcess) (int, error) {
	f.calls = append(f.calls, p)
	cmd := p.Argv[len(p.Argv)-1]
	fields := strings.Fields(cmd)
	switch fields[0] {
	case "write":
		return 0, os.WriteFile(filepath.Join(root, p.Dir, fields[1]), []byte(fields[2]), 0o644)
	case "exit":
		var n int
		fmt.Sscan(fields[1], &n)
		fmt.Fprintln(p.Stdout, "exiting")
		return n, nil
	}
	return 0, nil
}

type fakeResolver map[string]*v1.ConfigFile

func (r fakeResolver) Resolve(ctx context.Context, ref string, pull bool) (string, *v1.ConfigFile, error) {
	if c, ok := r[ref]; ok {
		return "sha256:" + strings.Repeat("ab", 32), c, nil
	}
	return "", nil, errdefs.NotFoundf("No such image: %s", ref)
}

func contextTar(t *testing.T, files map[string]string) io.Reader {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for name, body := range files {
		tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(body)), Typeflag: tar.TypeReg})
		tw.Write([]byte(body))
	}
	tw.Close()
	return &buf
}

func newBuilder(t *testing.T, runner providers.RootRunner) *Builder {
	t.Helper()
	ls, err := layerstore.New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	base := &v1.ConfigFile{OS: "linux", Architecture: "amd64", Config: v1.Config{Env: []string{"PATH=/bin"}, Cmd: []string{"/bin/sh"}}}
	b, err := New(Config{Layers: ls, Resolver: fakeResolver{"alpine": base}, Runner: runner, TempDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestPrepareRefuses: what cannot be built is refused before anything
// runs, with the error class the endpoint answers with.
func TestPrepareRefuses(t *testing.T) {
	tests := []struct {
		name       string
		files      map[string]string
		opts       Options
		noRunner   bool
		wantClass  func(error) bool
		wantSubstr string
	}{
		{"no Dockerfile", map[string]string{"a": "b"}, Options{}, false, errdefs.IsInvalidParameter, "Cannot locate specified Dockerfile"},
		{"other Dockerfile name", map[string]string{"Dockerfile": "FROM alpine"}, Options{Dockerfile: "other"}, false, errdefs.IsInvalidParameter, "other"},
		{"parse error", map[string]string{"Dockerfile": "FROM alpine\nBOGUS x\n"}, Options{}, false, errdefs.IsInvalidParameter, "unknown instruction"},
		{"no stages", map[string]string{"Dockerfile": "# nothing\n"}, Options{}, false, errdefs.IsInvalidParameter, ""},
		{"unknown target", map[string]string{"Dockerfile": "FROM alpine AS a\n"}, Options{Target: "b"}, false, errdefs.IsInvalidParameter, "failed to reach build target b"},
		{"RUN without runner", map[string]string{"Dockerfile": "FROM alpine\nRUN true\n"}, Options{}, true, isNotImplemented, "RUN needs a provider"},
		{"RUN --mount", map[string]string{"Dockerfile": "FROM alpine\nRUN --mount=type=cache,target=/c true\n"}, Options{}, false, isNotImplemented, "RUN --mount"},
		{"ONBUILD", map[string]string{"Dockerfile": "FROM alpine\nONBUILD RUN true\n"}, Options{}, false, isNotImplemented, "ONBUILD"},
		{"ADD URL", map[string]string{"Dockerfile": "FROM alpine\nADD https://example.com/x /x\n"}, Options{}, false, isNotImplemented, "URL"},
		{"platform", map[string]string{"Dockerfile": "FROM --platform=linux/arm64 alpine\n"}, Options{}, false, isNotImplemented, "linux/arm64"},
		{"context entry escaping", map[string]string{"Dockerfile": "FROM alpine\n", "../../evil": "x"}, Options{}, false, errdefs.IsInvalidParameter, "escapes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var r providers.RootRunner = &fakeRunner{}
			if tt.noRunner {
				r = nil
			}
			p, err := newBuilder(t, r).Prepare(context.Background(), contextTar(t, tt.files), tt.opts)
			if err == nil {
				p.Close()
				t.Fatalf("Prepare() = nil error, want one containing %q", tt.wantSubstr)
			}
			if !tt.wantClass(err) || !strings.Contains(err.Error(), tt.wantSubstr) {
				t.Fatalf("Prepare() error = %v (status %d), want class and %q", err, errdefs.HTTPStatus(err), tt.wantSubstr)
			}
		})
	}
}

// TestRunSteps: instructions become the image config Docker's classic
// builder produces, RUN sees the stage's env, args, workdir and user, and
// filesystem steps become layers.
func TestRunSteps(t *testing.T) {
	df := `ARG BASE=alpine
FROM $BASE AS first
ARG V=default
ARG UNSET
ENV A=1 B="two words"
ENV C=${A}-$V
WORKDIR /app
WORKDIR sub
USER 7:8
RUN write hello.txt $V
COPY ctx.txt ./
LABEL k=$C
EXPOSE 80 53/udp
VOLUME ["/data"]
STOPSIGNAL SIGUSR1
SHELL ["/bin/bash", "-c"]
CMD echo $A
ENTRYPOINT ["/entry"]
HEALTHCHECK --retries=2 CMD ["probe"]
FROM first
CMD ["second"]
`
	runner := &fakeRunner{}
	b := newBuilder(t, runner)
	v := "given"
	p, err := b.Prepare(context.Background(), contextTar(t, map[string]string{"Dockerfile": df, "ctx.txt": "c", ".dockerignore": "ignored*\n", "ignored.txt": "i"}),
		Options{BuildArgs: map[string]*string{"V": &v, "NOPE": &v}, Labels: map[string]string{"extra": "x"}})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	var out bytes.Buffer
	res, err := p.Run(context.Background(), &out)
	if err != nil {
		t.Fatalf("Run() = %v; output:\n%s", err, out.String())
	}
	c := res.Config.Config
	checks := []struct {
		name      string
		got, want any
	}{
		{"env", c.Env, []string{"PATH=/bin", "A=1", "B=two words", "C=1-given"}},
		{"workdir", c.WorkingDir, "/app/sub"},
		{"user", c.User, "7:8"},
		{"labels", c.Labels, map[string]string{"k": "1-given", "extra": "x"}},
		{"ports", c.ExposedPorts, map[string]struct{}{"80/tcp": {}, "53/udp": {}}},
		{"volumes", c.Volumes, map[string]struct{}{"/data": {}}},
		{"stopsignal", c.StopSignal, "SIGUSR1"},
		{"shell", c.Shell, []string{"/bin/bash", "-c"}},
		{"entrypoint", c.Entrypoint, []string{"/entry"}},
		{"cmd of the second stage", c.Cmd, []string{"second"}},
		{"healthcheck", c.Healthcheck.Test, []string{"CMD", "probe"}},
		{"healthcheck retries", c.Healthcheck.Retries, 2},
		// WORKDIR /app, WORKDIR sub, RUN and COPY each made a layer.
		{"layers", len(res.Layers), 4},
		{"run argv", runner.calls[0].Argv, []string{"/bin/sh", "-c", "write hello.txt $V"}},
		{"run dir", runner.calls[0].Dir, "/app/sub"},
		{"run user", runner.calls[0].User, "7:8"},
		{"run env has args", strings.Join(runner.calls[0].Env, ","), "A=1,B=two words,C=1-given,PATH=/bin,UNSET=,V=given"},
	}
	for _, ck := range checks {
		if !reflect.DeepEqual(ck.got, ck.want) {
			t.Errorf("%s = %#v, want %#v", ck.name, ck.got, ck.want)
		}
	}
	for _, want := range []string{"Step 1/20 : FROM $BASE AS first", "Step 19/20 : FROM first", " ---> Running in ", "[Warning] One or more build-args [NOPE] were not consumed"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
	// The layers hold exactly what the steps wrote.
	var names []string
	for _, l := range res.Layers {
		rc, err := b.cfg.Layers.Open(l.DiffID)
		if err != nil {
			t.Fatal(err)
		}
		tr := tar.NewReader(rc)
		for h, err := tr.Next(); err == nil; h, err = tr.Next() {
			names = append(names, h.Name)
		}
		rc.Close()
	}
	// Each layer carries the directories whose entries changed.
	want := []string{"app/", "app/", "app/sub/", "app/sub/", "app/sub/hello.txt", "app/sub/", "app/sub/ctx.txt"}
	if !reflect.DeepEqual(names, want) {
		t.Errorf("layer entries = %q, want %q (ignored.txt must stay out)", names, want)
	}
}

// TestRunFailure: a RUN exiting non-zero is a *RunError naming the
// command and its code.
func TestRunFailure(t *testing.T) {
	p, err := newBuilder(t, &fakeRunner{}).Prepare(context.Background(), contextTar(t, map[string]string{"Dockerfile": "FROM alpine\nRUN exit 4\n"}), Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	var out bytes.Buffer
	_, err = p.Run(context.Background(), &out)
	var re *RunError
	if !errors.As(err, &re) || re.Code != 4 || err.Error() != "The command '/bin/sh -c exit 4' returned a non-zero code: 4" {
		t.Fatalf("Run() error = %v, want the RUN failure with code 4", err)
	}
	if !strings.Contains(out.String(), "exiting") {
		t.Fatalf("RUN output missing: %s", out.String())
	}
}

func isNotImplemented(err error) bool { return errdefs.HTTPStatus(err) == 501 }
