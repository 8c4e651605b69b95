package integration

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/sockerless/sockerless/internal/embedded"
)

// step is one docker CLI invocation and what it must produce.
type step struct {
	args  []string
	stdin string
	rc    int    // expected exit code
	want  string // regexp the combined output must match ("" = anything)
}

func runSteps(t *testing.T, s *server, steps []step) {
	t.Helper()
	for i, st := range steps {
		out, rc := s.docker(t, st.stdin, st.args...)
		if rc != st.rc {
			t.Fatalf("step %d: docker %q: exit %d, want %d; output:\n%s", i, st.args, rc, st.rc, out)
		}
		if st.want != "" && !regexp.MustCompile(st.want).MatchString(strings.TrimRight(out, "\n")) {
			t.Fatalf("step %d: docker %q: output does not match %q:\n%s", i, st.args, st.want, out)
		}
	}
}

func d(rc int, want string, args ...string) step { return step{args: args, rc: rc, want: want} }

func TestCLIContainers(t *testing.T) {
	s := startServer(t, embedded.Options{Synthetic: true})
	runSteps(t, s, []step{
		d(0, `^1\.5[01]$`, "version", "--format", "{{.Server.APIVersion}}"),
		d(0, `synthetic`, "info", "--format", "{{.OperatingSystem}}"),
		d(0, `placeholder`, "pull", "alpine:3.20"),
		d(0, ``, "create", "--name", "web", "-l", "tier=front", "-e", "FOO=bar", "--restart", "no", "alpine:3.20", "sleep", "100"),
		d(1, `Conflict\. The container name "/web" is already in use`, "create", "--name", "web", "alpine:3.20"),
		d(1, `Invalid container name \(bad name!\)`, "create", "--name", "bad name!", "alpine:3.20"),
		d(0, `^\[FOO=bar PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin\]`, "inspect", "web", "--format", "{{.Config.Env}}"),
		d(0, `^\[sleep 100\] <nil>|^\[sleep 100\] \[\]`, "inspect", "web", "--format", "{{.Config.Cmd}} {{.Config.Entrypoint}}"),
		d(0, `^created json-file$`, "inspect", "web", "--format", "{{.State.Status}} {{.HostConfig.LogConfig.Type}}"),
		d(0, `^web$`, "ps", "-a", "--filter", "label=tier=front", "--format", "{{.Names}}"),
		d(0, `^$`, "ps", "-a", "--filter", "label=tier=back", "--format", "{{.Names}}"),
		d(0, `^web$`, "ps", "-a", "--filter", "status=created", "--format", "{{.Names}}"),
		d(0, `^web$`, "ps", "-a", "--filter", "ancestor=alpine:3.20", "--format", "{{.Names}}"),
		d(0, `^web$`, "ps", "-a", "--filter", "name=^/we", "--format", "{{.Names}}"),
		d(0, `^web$`, "ps", "-a", "--filter", "network=bridge", "--format", "{{.Names}}"),
		d(1, `invalid filter 'bogus'`, "ps", "--filter", "bogus=1"),
		d(0, `web`, "start", "web"),
		d(0, `^0$`, "wait", "web"),
		d(0, `^exited 0$`, "inspect", "web", "--format", "{{.State.Status}} {{.State.ExitCode}}"),
		d(0, `^web$`, "ps", "-a", "--filter", "exited=0", "--format", "{{.Names}}"),
		d(0, ``, "rename", "web", "web2"),
		d(0, `^/web2$`, "inspect", "web2", "--format", "{{.Name}}"),
		d(1, `No such container: web`, "container", "inspect", "web"),
		d(1, `No such container: nosuch`, "container", "inspect", "nosuch"),
		d(1, `No such container: nosuch`, "start", "nosuch"),
		d(0, `web2`, "restart", "-t", "1", "web2"),
		d(0, `^0$`, "wait", "web2"),
		d(0, `web2`, "stop", "web2"), // already stopped: Docker answers 304, the CLI succeeds
		d(1, `is not running`, "kill", "web2"),
		d(1, `is not running`, "exec", "web2", "true"),
		d(1, `No such container: nosuch`, "exec", "nosuch", "true"),
		d(0, `web2`, "rm", "web2"),
		d(0, `^$`, "ps", "-aq"),
		d(0, `^sockerless synthetic mode: no process runs for: echo hi$`, "run", "--rm", "alpine:3.20", "echo", "hi"),
		d(0, `^$`, "ps", "-aq"),
		d(0, `^[0-9a-f]{64}$`, "run", "-d", "--name", "bg", "alpine:3.20", "sleep", "1"),
		d(0, `^0$`, "wait", "bg"),
		d(0, ``, "run", "--name", "fg", "alpine:3.20", "true"),
		d(0, `^exited$`, "inspect", "fg", "--format", "{{.State.Status}}"),
		d(0, `fg`, "rm", "-f", "fg"),
		d(0, `Deleted Containers:\n[0-9a-f]{64}\n`, "container", "prune", "-f"),
		d(0, `^$`, "ps", "-aq"),
		d(1, `not supported`, "swarm", "init"),
		d(1, `not supported`, "service", "ls"),
		d(0, `^$`, "plugin", "ls", "--format", "{{.Name}}"),
		d(0, `Images`, "system", "df"),
	})
}

func TestCLIExecAndAttachStreams(t *testing.T) {
	s := startServer(t, embedded.Options{Synthetic: true, SyntheticRunTime: 30 * time.Second})
	runSteps(t, s, []step{
		d(0, ``, "pull", "alpine:3.20"),
		d(0, ``, "run", "-d", "--name", "c1", "alpine:3.20", "sleep", "100"),
		// Exec crosses the relay; the synthetic workload runs nothing and
		// exits 0, which reaches the CLI through exec inspect.
		d(0, `^$`, "exec", "c1", "echo", "hi"),
		{args: []string{"exec", "-i", "c1", "cat"}, stdin: "some input\n", rc: 0, want: `^$`},
		d(0, `^$`, "exec", "-t", "c1", "sh"),
		d(0, `^sockerless synthetic mode: no process runs for: sleep 100$`, "logs", "c1"),
		d(0, `^\d{4}-\d\d-\d\dT[0-9:.]+Z sockerless synthetic mode`, "logs", "-t", "c1"),
		d(0, `^$`, "logs", "--tail", "0", "c1"),
		d(0, ``, "exec", "-d", "c1", "sleep", "1"),
		d(0, `c1`, "pause", "c1"),
		d(0, `^paused$`, "inspect", "c1", "--format", "{{.State.Status}}"),
		d(1, `is paused`, "exec", "c1", "true"),
		d(0, `c1`, "unpause", "c1"),
		d(0, `^running$`, "inspect", "c1", "--format", "{{.State.Status}}"),
		d(0, `c1`, "kill", "-s", "TERM", "c1"),
		d(0, `^143$`, "wait", "c1"),
		// Attach before start, as docker start -a does: the stream ends
		// with the main process and carries its exit code.
		d(0, ``, "create", "--name", "c2", "alpine:3.20", "true"),
		d(1, `not supported by the synthetic provider`, "top", "c1"),
		d(0, ``, "cp", "c1:/etc", "-"),
		{args: []string{"cp", "-", "c1:/tmp"}, stdin: tarString(t, map[string]string{"f.txt": "x"}), rc: 0},
	})
	go func() {
		time.Sleep(500 * time.Millisecond)
		s.docker(t, "", "kill", "-s", "KILL", "c2")
	}()
	if out, rc := s.docker(t, "", "start", "-a", "c2"); rc != 137 {
		t.Fatalf("start -a: exit %d, want 137 (%s)", rc, out)
	}
}

func TestCLIRestartPolicy(t *testing.T) {
	s := startServer(t, embedded.Options{Synthetic: true})
	runSteps(t, s, []step{
		d(0, ``, "pull", "alpine:3.20"),
		d(0, ``, "run", "-d", "--name", "r1", "--restart", "always", "alpine:3.20", "true"),
	})
	deadline := time.Now().Add(10 * time.Second)
	for {
		out, _ := s.docker(t, "", "inspect", "r1", "--format", "{{.RestartCount}}")
		if n, _ := strconv.Atoi(strings.TrimSpace(out)); n >= 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("restart count %q after 10 s, want >= 2", out)
		}
		time.Sleep(100 * time.Millisecond)
	}
	runSteps(t, s, []step{d(0, `r1`, "stop", "r1")})
	before, _ := s.docker(t, "", "inspect", "r1", "--format", "{{.RestartCount}} {{.State.Status}}")
	time.Sleep(time.Second)
	after, _ := s.docker(t, "", "inspect", "r1", "--format", "{{.RestartCount}} {{.State.Status}}")
	if before != after || !strings.Contains(after, "exited") {
		t.Fatalf("a stopped container kept restarting: %q then %q", before, after)
	}
}

func TestCLINetworksAndVolumes(t *testing.T) {
	s := startServer(t, embedded.Options{Synthetic: true})
	runSteps(t, s, []step{
		d(0, ``, "pull", "alpine:3.20"),
		d(0, `^bridge\nhost\nnone$`, "network", "ls", "--format", "{{.Name}}"),
		d(0, `^[0-9a-f]{64}$`, "network", "create", "n1"),
		d(0, `^172\.18\.0\.0/16 172\.18\.0\.1$`, "network", "inspect", "n1", "--format", "{{range .IPAM.Config}}{{.Subnet}} {{.Gateway}}{{end}}"),
		d(1, `already exists`, "network", "create", "n1"),
		d(0, ``, "network", "create", "n2"),
		d(0, `^172\.19\.0\.0/16$`, "network", "inspect", "n2", "--format", "{{range .IPAM.Config}}{{.Subnet}}{{end}}"),
		d(0, ``, "network", "create", "--subnet", "10.10.0.0/24", "n3"),
		d(1, `overlaps`, "network", "create", "--subnet", "10.10.0.0/24", "n4"),
		d(0, `^n1$`, "network", "ls", "--filter", "name=n1", "--format", "{{.Name}}"),
		d(0, ``, "create", "--name", "aa", "--network", "n1", "--network-alias", "db", "alpine:3.20", "sleep", "5"),
		d(0, `^172\.18\.0\.2 \[db\]$`, "inspect", "aa", "--format", "{{range .NetworkSettings.Networks}}{{.IPAddress}} {{.Aliases}}{{end}}"),
		d(0, ``, "network", "connect", "--ip", "10.10.0.7", "n3", "aa"),
		d(0, `^10\.10\.0\.7$`, "inspect", "aa", "--format", "{{(index .NetworkSettings.Networks \"n3\").IPAddress}}"),
		d(0, `aa`, "network", "inspect", "n3", "--format", "{{range .Containers}}{{.Name}}{{end}}"),
		d(1, `already exists`, "network", "connect", "n3", "aa"),
		d(1, `active endpoints`, "network", "rm", "n1"),
		d(0, ``, "network", "disconnect", "n3", "aa"),
		d(1, `not connected`, "network", "disconnect", "n3", "aa"),
		d(1, `pre-defined`, "network", "rm", "bridge"),
		d(1, `network nosuch not found`, "network", "inspect", "nosuch"),
		d(0, `aa`, "rm", "-f", "aa"),
		d(0, `n1`, "network", "rm", "n1"),
		d(0, `n2`, "network", "prune", "-f"),
		d(0, `^bridge\nhost\nnone$`, "network", "ls", "--format", "{{.Name}}"),

		d(0, `^v1$`, "volume", "create", "--label", "k=v", "v1"),
		d(0, `^v1 local map\[k:v\]$`, "volume", "inspect", "v1", "--format", "{{.Name}} {{.Driver}} {{.Labels}}"),
		d(0, `^v1$`, "volume", "ls", "--filter", "label=k=v", "--format", "{{.Name}}"),
		d(0, ``, "create", "--name", "user", "-v", "v1:/data", "-v", "v2:/cache", "alpine:3.20", "true"),
		d(0, `^v1\nv2$`, "volume", "ls", "--format", "{{.Name}}"),
		d(0, `^/data v1 volume$`, "inspect", "user", "--format", "{{range .Mounts}}{{if eq .Destination \"/data\"}}{{.Destination}} {{.Name}} {{.Type}}{{end}}{{end}}"),
		d(1, `volume is in use`, "volume", "rm", "v1"),
		d(0, ``, "rm", "user"),
		d(0, `v1`, "volume", "rm", "v1"),
		d(1, `no such volume`, "volume", "inspect", "v1"),
		d(0, `v2`, "volume", "prune", "-af"),
		d(0, `^$`, "volume", "ls", "-q"),
	})
}

// writeImageTar writes a docker-save tarball of a one-layer image with a
// real config, tagged ref.
func writeImageTar(t *testing.T, path, ref string) v1.Image {
	t.Helper()
	layerTar, err := io.ReadAll(tarOf(t, map[string]string{"hello.txt": "hi\n"}))
	if err != nil {
		t.Fatal(err)
	}
	layer, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(layerTar)), nil })
	if err != nil {
		t.Fatal(err)
	}
	img, err := mutate.AppendLayers(empty.Image, layer)
	if err != nil {
		t.Fatal(err)
	}
	cfg, _ := img.ConfigFile()
	cfg = cfg.DeepCopy()
	cfg.OS, cfg.Architecture = "linux", "amd64"
	cfg.Config.Env = []string{"PATH=/custom/bin:/usr/bin", "GREETING=hello"}
	cfg.Config.Entrypoint = []string{"/bin/greet"}
	cfg.Config.Cmd = []string{"world"}
	cfg.Config.Labels = map[string]string{"org.example": "yes"}
	img, err = mutate.ConfigFile(img, cfg)
	if err != nil {
		t.Fatal(err)
	}
	tag, err := name.NewTag(ref)
	if err != nil {
		t.Fatal(err)
	}
	if err := tarball.WriteToFile(path, tag, img); err != nil {
		t.Fatal(err)
	}
	return img
}

func TestCLIImages(t *testing.T) {
	s := startServer(t, embedded.Options{Synthetic: true})
	tarPath := filepath.Join(t.TempDir(), "img.tar")
	img := writeImageTar(t, tarPath, "example.com/team/greeter:1.0")
	cfgName, _ := img.ConfigName()
	runSteps(t, s, []step{
		{args: []string{"load", "-i", tarPath}, rc: 0, want: `Loaded image: example.com/team/greeter:1.0`},
		d(0, `^`+cfgName.String()+`$`, "image", "inspect", "example.com/team/greeter:1.0", "--format", "{{.Id}}"),
		d(0, `^\[PATH=/custom/bin:/usr/bin GREETING=hello\] \[/bin/greet\] \[world\] map\[org.example:yes\]$`, "image", "inspect", "example.com/team/greeter:1.0", "--format", "{{.Config.Env}} {{.Config.Entrypoint}} {{.Config.Cmd}} {{.Config.Labels}}"),
		d(0, ``, "tag", "example.com/team/greeter:1.0", "greeter:latest"),
		d(0, `^(example.com/team/greeter:1.0\ngreeter:latest|greeter:latest\nexample.com/team/greeter:1.0)$`, "images", "--format", "{{.Repository}}:{{.Tag}}"),
		d(0, `^greeter:latest$`, "images", "--filter", "reference=greeter", "--format", "{{.Repository}}:{{.Tag}}"),
		d(0, ``, "create", "--name", "e1", "-e", "X=1", "-e", "GREETING=bye", "greeter"),
		// The docker CLI (28.2.2) sends its -e variables in no fixed order
		// (11 of 40 creates captured from it had GREETING first); Docker
		// keeps the request's order, then the image's variables.
		d(0, `^\[(X=1 GREETING=bye|GREETING=bye X=1) PATH=/custom/bin:/usr/bin\]$`, "inspect", "e1", "--format", "{{.Config.Env}}"),
		d(0, ``, "rm", "e1"),
		d(0, ``, "create", "--name", "g1", "--entrypoint", "/bin/other", "greeter"),
		d(0, `^\[/bin/other\] \[\]$`, "inspect", "g1", "--format", "{{.Config.Entrypoint}} {{.Config.Cmd}}"),
		d(0, ``, "create", "--name", "g2", "greeter", "mars"),
		d(0, `^\[/bin/greet\] \[mars\]$`, "inspect", "g2", "--format", "{{.Config.Entrypoint}} {{.Config.Cmd}}"),
		d(1, `must be forced\) - image is referenced in multiple repositories`, "rmi", cfgName.String()),
		d(0, `Untagged: greeter:latest`, "rmi", "greeter"),
		d(0, ``, "rm", "g1", "g2"),
		d(0, `^[0-9]+B $`, "history", "--format", "{{.Size}} {{.CreatedBy}}", "example.com/team/greeter:1.0"),
		d(0, `Deleted: `+cfgName.String(), "rmi", "example.com/team/greeter:1.0"),
		d(1, `No such image`, "image", "inspect", "greeter"),
		d(0, ``, "pull", "busybox"),
		d(0, ``, "tag", "busybox", "bb:1"),
		// As dockerd 28.2.2: a forced rmi of one of several tags only
		// untags it; the image goes with its last tag.
		d(0, `^Untagged: busybox:latest$`, "rmi", "-f", "busybox"),
		d(0, `^Untagged: bb:1\nDeleted: sha256:`, "rmi", "-f", "bb:1"),
		d(1, `invalid reference format`, "pull", "UPPER/case"),
	})
	_ = os.Remove(tarPath)
}
