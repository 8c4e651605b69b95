package integration

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/sockerless/sockerless/internal/embedded"
)

// composeProject is the fixed COMPOSE_PROJECT_NAME of TestCompose.
const composeProject = "slc"

// compose runs Debian's docker-compose 1.29 (python) against s with the
// project testdata/compose and returns its combined output and exit code.
func (s *server) compose(t *testing.T, args ...string) (string, int) {
	t.Helper()
	bin, err := exec.LookPath("docker-compose")
	if err != nil {
		t.Fatalf("docker-compose 1.29 is required on PATH (.ci/tools.sh installs Debian's docker-compose): %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, append([]string{"--ansi", "never", "-f", "testdata/compose/docker-compose.yml"}, args...)...)
	env := []string{}
	for _, kv := range os.Environ() {
		if k, _, _ := strings.Cut(kv, "="); strings.HasPrefix(k, "DOCKER_") || strings.HasPrefix(k, "COMPOSE_") {
			continue // only our daemon, our project
		}
		env = append(env, kv)
	}
	cmd.Env = append(env, "DOCKER_HOST="+s.dockerHost, "DOCKER_CONFIG="+s.configDir, "COMPOSE_PROJECT_NAME="+composeProject, "COMPOSE_INTERACTIVE_NO_CLI=1")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err = cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("docker-compose %v: %v", args, err)
	}
	if ctx.Err() != nil {
		t.Fatalf("docker-compose %v timed out; output so far: %s", args, out.String())
	}
	return out.String(), code
}

// TestCompose brings a two-service project up and down with
// docker-compose 1.29 and checks what it created through the docker CLI.
func TestCompose(t *testing.T) {
	s := startServer(t, embedded.Options{Synthetic: true, SyntheticRunTime: 10 * time.Minute})
	p := composeProject
	label := "label=com.docker.compose.project=" + p
	steps := []struct {
		tool string // "compose" or "docker"
		args []string
		rc   int
		want string // regexp the output must match
	}{
		{"docker", []string{"pull", "alpine:3.20"}, 0, `alpine:3.20`},
		{"compose", []string{"config", "--services"}, 0, `(?m)^db\nweb$`},
		{"compose", []string{"up", "-d"}, 0, `(?s)Creating network "slc_backend".*Creating volume "slc_dbdata".*Creating slc_db_1.*done.*Creating slc_web_1.*done`},
		{"compose", []string{"ps"}, 0, `(?m)^slc_db_1\s+sleep 3600\s+Up\s*$`},
		{"compose", []string{"ps"}, 0, `(?m)^slc_web_1\s+sleep 3600\s+Up\s`},
		{"compose", []string{"ps", "--services", "--filter", "status=running"}, 0, `^(db\nweb|web\ndb)\n$`},
		{"compose", []string{"ps", "-q", "db"}, 0, `^[0-9a-f]{64}\n$`},
		// What compose created, seen by the docker CLI.
		{"docker", []string{"ps", "--filter", label, "--format", "{{.Names}} {{.State}}"}, 0, `^(slc_db_1 running\nslc_web_1 running|slc_web_1 running\nslc_db_1 running)\n$`},
		{"docker", []string{"inspect", "slc_web_1", "--format", `{{index .Config.Labels "com.docker.compose.project"}} {{index .Config.Labels "com.docker.compose.service"}} {{index .Config.Labels "com.docker.compose.container-number"}} {{index .Config.Labels "org.example.role"}}`}, 0, `^slc web 1 web\n$`},
		{"docker", []string{"inspect", "slc_db_1", "--format", `{{range $k, $v := .NetworkSettings.Networks}}{{$k}} {{$v.Aliases}}{{end}}`}, 0, `^slc_backend \[.*\bdatabase\b.*\]\n$`},
		{"docker", []string{"inspect", "slc_db_1", "--format", `{{range .Mounts}}{{.Type}} {{.Name}} {{.Destination}}{{end}}`}, 0, `^volume slc_dbdata /var/lib/db\n$`},
		{"docker", []string{"network", "inspect", "slc_backend", "--format", `{{index .Labels "com.docker.compose.project"}} {{index .Labels "com.docker.compose.network"}} {{index .Labels "org.example.net"}}`}, 0, `^slc backend backend\n$`},
		{"docker", []string{"volume", "inspect", "slc_dbdata", "--format", `{{index .Labels "com.docker.compose.project"}} {{index .Labels "com.docker.compose.volume"}} {{index .Labels "org.example.vol"}}`}, 0, `^slc dbdata dbdata\n$`},
		// A second up changes nothing.
		{"compose", []string{"up", "-d"}, 0, `(?s)slc_db_1 is up-to-date.*slc_web_1 is up-to-date`},
		{"compose", []string{"down", "--timeout", "1"}, 0, `(?s)Stopping slc_(web|db)_1.*done.*Removing slc_(web|db)_1.*done.*Removing network slc_backend`},
		{"docker", []string{"ps", "-a", "--filter", label, "--format", "{{.Names}}"}, 0, `^$`},
		{"docker", []string{"network", "ls", "--filter", label, "--format", "{{.Name}}"}, 0, `^$`},
		{"docker", []string{"network", "inspect", "slc_backend"}, 1, `(?i)not found`},
		// down keeps volumes unless -v.
		{"docker", []string{"volume", "ls", "--filter", label, "--format", "{{.Name}}"}, 0, `^slc_dbdata\n$`},
		{"compose", []string{"ps", "-q"}, 0, `^$`},
		{"compose", []string{"down", "-v"}, 0, `Removing volume slc_dbdata`},
		{"docker", []string{"volume", "ls", "-q"}, 0, `^$`},
	}
	for i, st := range steps {
		var out string
		var rc int
		if st.tool == "compose" {
			out, rc = s.compose(t, st.args...)
		} else {
			out, rc = s.docker(t, "", st.args...)
		}
		if rc != st.rc {
			t.Fatalf("step %d: %s %v: exit %d, want %d\n%s", i, st.tool, st.args, rc, st.rc, out)
		}
		if !regexp.MustCompile(st.want).MatchString(out) {
			t.Fatalf("step %d: %s %v: output does not match %q:\n%s", i, st.tool, st.args, st.want, out)
		}
	}
}
