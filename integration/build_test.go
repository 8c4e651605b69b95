package integration

import (
	"archive/tar"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sockerless/sockerless/internal/embedded"
)

// writeContext writes a build context: name → content.
func writeContext(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, body := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// TestBuild drives the classic builder through the docker CLI (no buildx
// plugin, so the CLI sends POST /build): RUN in the sandbox, COPY from the
// context, ENV and WORKDIR seen at run time, failures with RUN's exit
// code, multi-stage COPY --from, --target, FROM an image built earlier,
// and history/inspect of the result.
func TestBuild(t *testing.T) {
	s := startServer(t, embedded.Options{StateDir: t.TempDir(), CacheDir: filepath.Join(os.TempDir(), "sockerless-test-wazero")})
	simple := writeContext(t, map[string]string{"Dockerfile": "FROM alpine:3.20\nRUN echo built > /built.txt\nCMD [\"cat\",\"/built.txt\"]\n"})
	full := writeContext(t, map[string]string{
		"Dockerfile": `FROM alpine:3.20
ARG GREETING=hello
ENV APP_HOME=/srv/app MODE=$GREETING
WORKDIR $APP_HOME
COPY --chown=1000:1000 greet.txt sub/ ./
COPY data/* /data/
ADD bundle.tar /opt/
RUN cat greet.txt > out.txt && echo "$GREETING-$MODE" >> out.txt && rm -f /etc/gone-soon
LABEL org.example.kind=test
EXPOSE 8080
USER 1000:1000
VOLUME /srv/data
STOPSIGNAL SIGINT
HEALTHCHECK --interval=5s CMD true
ENTRYPOINT ["sh", "-c"]
CMD ["cat out.txt; pwd; echo $APP_HOME"]
`,
		"greet.txt":     "from the context\n",
		"sub/inner.txt": "inner\n",
		"data/a.txt":    "a\n",
		"data/b.txt":    "b\n",
		"data/skip.md":  "no\n",
		".dockerignore": "*.secret\n",
		"x.secret":      "never copied\n",
	})
	writeTar(t, filepath.Join(full, "bundle.tar"), map[string]string{"bundled/file.txt": "unpacked by ADD\n"})
	fail := writeContext(t, map[string]string{"Dockerfile": "FROM alpine:3.20\nRUN echo step-output; exit 3\n"})
	multi := writeContext(t, map[string]string{"Dockerfile": `FROM alpine:3.20 AS builder
RUN mkdir -p /out && echo artifact > /out/app.txt && echo junk > /junk.txt
FROM alpine:3.20 AS tester
RUN echo tested > /tested.txt
FROM scratch
COPY --from=builder /out/app.txt /app.txt
COPY --from=0 /out /copied/
CMD ["cat", "/app.txt"]
`})
	derived := writeContext(t, map[string]string{"Dockerfile": "FROM built:1\nRUN rm /built.txt && echo second > /second.txt\nCMD [\"sh\",\"-c\",\"ls /built.txt 2>&1; cat /second.txt\"]\n"})
	escape := writeContext(t, map[string]string{"Dockerfile": "FROM alpine:3.20\nCOPY ../../etc/passwd /x\n"})
	runSteps(t, s, []step{
		d(0, ``, "pull", "alpine:3.20"),
		d(0, `(?s)Step 1/3 : FROM alpine:3.20.*Step 2/3 : RUN echo built > /built.txt.*Step 3/3 : CMD \["cat","/built.txt"\].*Successfully built [0-9a-f]{12}\nSuccessfully tagged built:1`, "build", "-t", "built:1", simple),
		d(0, `^built$`, "run", "--rm", "built:1"),
		d(0, `(?s)CMD \["cat","/built.txt"\].*/bin/sh -c echo built > /built.txt`, "history", "--no-trunc", "built:1"),
		d(0, `^\[cat /built.txt\] 1$`, "inspect", "built:1", "--format", "{{.Config.Cmd}} {{len .RootFS.Layers}}"),

		d(0, `Successfully tagged full:1`, "build", "-t", "full:1", "--build-arg", "GREETING=hi", "--label", "extra=yes", full),
		d(0, `^from the context\nhi-hi\n/srv/app\n/srv/app$`, "run", "--rm", "full:1"),
		d(0, `^inner\na\nb\nunpacked by ADD\n(gone|no)$`, "run", "--rm", "--entrypoint", "sh", "full:1", "-c",
			"cat /srv/app/inner.txt /data/a.txt /data/b.txt /opt/bundled/file.txt; ls /data/skip.md >/dev/null 2>&1 && echo no || echo gone"),
		d(0, `^safe$`, "run", "--rm", "--entrypoint", "sh", "full:1", "-c", "test -e /srv/app/x.secret && echo leaked || echo safe"),
		d(0, `^1000:1000 SIGINT test yes map\[8080/tcp:\{\}\] map\[/srv/data:\{\}\] \[CMD-SHELL true\]$`, "inspect", "full:1", "--format",
			"{{.Config.User}} {{.Config.StopSignal}} {{index .Config.Labels \"org.example.kind\"}} {{index .Config.Labels \"extra\"}} {{.Config.ExposedPorts}} {{.Config.Volumes}} {{.Config.Healthcheck.Test}}"),

		d(3, `(?s)step-output.*The command '/bin/sh -c echo step-output; exit 3' returned a non-zero code: 3`, "build", "-t", "fails:1", fail),
		d(1, `No such (image|object)`, "image", "inspect", "fails:1"),

		d(0, `Successfully tagged multi:1`, "build", "-t", "multi:1", multi),
		d(0, `^artifact$`, "run", "--rm", "multi:1"),
		d(0, `^artifact\nno-junk no-tested$`, "run", "--rm", "multi:1", "sh", "-c", "cat /copied/app.txt; (test -e /junk.txt && echo junk || echo no-junk) | tr -d '\\n'; echo -n ' '; test -e /tested.txt && echo tested || echo no-tested"),
		d(0, `Successfully tagged tester:1`, "build", "--target", "tester", "-t", "tester:1", multi),
		d(0, `^tested$`, "run", "--rm", "tester:1", "cat", "/tested.txt"),
		d(1, `failed to reach build target nope`, "build", "--target", "nope", multi),

		d(0, `Successfully tagged derived:1`, "build", "-t", "derived:1", derived),
		d(0, `No such file or directory\nsecond$|not found\nsecond$|cannot access.*\nsecond$`, "run", "--rm", "derived:1"),
		d(1, `COPY failed|file not found|escapes`, "build", escape),
	})
}

// writeTar writes a tar archive of files to p.
func writeTar(t *testing.T, p string, files map[string]string) {
	t.Helper()
	f, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	tw := tar.NewWriter(f)
	for name, body := range files {
		if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(body)), Typeflag: tar.TypeReg}); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write([]byte(body)); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
}

// TestBuildNeedsFilesystemProvider: a provider that does not run image
// filesystems (synthetic) answers docker build with a clear 501, never a
// silent success.
func TestBuildNeedsFilesystemProvider(t *testing.T) {
	s := startServer(t, embedded.Options{Synthetic: true})
	ctx := writeContext(t, map[string]string{"Dockerfile": "FROM alpine:3.20\nRUN true\n"})
	runSteps(t, s, []step{
		d(1, `docker build needs a provider that runs image filesystems`, "build", "-t", "x:1", ctx),
	})
	code, _, body := raw(t, s, "POST", "/build?t=x:1", "")
	if code != 501 || !strings.Contains(body, "provider synthetic does neither") {
		t.Fatalf("POST /build = %d %s, want 501", code, body)
	}
}
