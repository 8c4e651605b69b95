// Package conformance is the differential suite: the same scenarios (docker
// CLI scripts and Go SDK calls) run against the reference Docker engine and
// against Sockerless (memory provider and docker provider); their outputs,
// normalised for what legitimately differs (ids, names, times, sizes,
// addresses), are compared. Docker's own behaviour is the oracle.
//
// The test (conformance_test.go) prints a table and a summary and fails
// when a scenario that agreed (baseline.txt) stops agreeing, unless the
// difference is accepted with a reason in accepted.txt. `make conformance`
// runs it and rewrites docs/conformance.md and baseline.txt.
package conformance

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/moby/moby/client"
)

// Scenario is one behaviour to compare: CLI lines run in order (each by
// bash, so quoting and pipes work; the first word is usually docker), or a
// Go SDK function. Every scenario starts from an empty world (no
// containers, volumes or user networks; the busybox image present).
type Scenario struct {
	Name   string
	Family string
	Lines  []string
	// SDK, when set, runs instead of Lines with a Go SDK client for the
	// target and returns its transcript.
	SDK func(ctx context.Context, t *Target) string
	// Stdin feeds the lines' standard input (each line gets all of it).
	Stdin string
	// Timing, when set, says why the outcome depends on timing even on
	// the reference engine: such a scenario is run and shown but never
	// enters the baseline, so it can never fail the test.
	Timing string
}

// Target is one Docker API the scenarios run against.
type Target struct {
	Name string
	// Env is the environment for the docker CLI (DOCKER_HOST set).
	Env []string
	// Host is the DOCKER_HOST value.
	Host string
}

// Run runs s against t and returns its raw transcript: each line, its
// standard output, its standard error and its exit status.
func Run(ctx context.Context, t *Target, s Scenario) string {
	if s.SDK != nil {
		return s.SDK(ctx, t)
	}
	var b strings.Builder
	for _, line := range s.Lines {
		lctx, cancel := context.WithTimeout(ctx, 60*time.Second)
		cmd := exec.CommandContext(lctx, "bash", "-c", line)
		cmd.Env = t.Env
		cmd.Stdin = strings.NewReader(s.Stdin)
		var out, errb bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &errb
		err := cmd.Run()
		code := 0
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		} else if err != nil {
			code = -1
		}
		if lctx.Err() != nil {
			code = -2 // timed out
		}
		cancel()
		fmt.Fprintf(&b, "$ %s\n%s", line, out.String())
		// The CLI's own log lines are its noise, not the engine's answer
		// (e.g. a racy tar writer on a failed copy logs or not depending
		// on timing): they go before deciding whether there is stderr.
		if stderr := cliLogLine.ReplaceAllString(errb.String(), ""); stderr != "" {
			fmt.Fprintf(&b, "[stderr]\n%s", stderr)
		}
		fmt.Fprintf(&b, "[exit %d]\n", code)
	}
	return b.String()
}

// Reset removes every container, user network and volume of the target,
// and every image but busybox, so that the next scenario starts from the
// same world. It speaks the API directly (one client, no CLI processes):
// it runs before each of the hundreds of scenarios on each target.
func Reset(ctx context.Context, t *Target) {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	c, err := client.New(client.WithHost(t.Host))
	if err != nil {
		return
	}
	defer c.Close()
	// Until no container is left: a removal can be refused while the
	// previous scenario's own removal (--rm, a forced rm) is in progress,
	// and the next scenario would then find its names taken.
	cs, err := c.ContainerList(ctx, client.ContainerListOptions{All: true})
	for err == nil && len(cs.Items) > 0 && ctx.Err() == nil {
		for _, ct := range cs.Items {
			_, _ = c.ContainerRemove(ctx, ct.ID, client.ContainerRemoveOptions{Force: true, RemoveVolumes: true})
		}
		if cs, err = c.ContainerList(ctx, client.ContainerListOptions{All: true}); err == nil && len(cs.Items) > 0 {
			select {
			case <-ctx.Done():
			case <-time.After(50 * time.Millisecond):
			}
		}
	}
	if ns, err := c.NetworkList(ctx, client.NetworkListOptions{}); err == nil {
		for _, n := range ns.Items {
			if n.Name != "bridge" && n.Name != "host" && n.Name != "none" {
				_, _ = c.NetworkRemove(ctx, n.ID, client.NetworkRemoveOptions{})
			}
		}
	}
	if vs, err := c.VolumeList(ctx, client.VolumeListOptions{}); err == nil {
		for _, v := range vs.Items {
			_, _ = c.VolumeRemove(ctx, v.Name, client.VolumeRemoveOptions{Force: true})
		}
	}
	if is, err := c.ImageList(ctx, client.ImageListOptions{}); err == nil {
		// PruneChildren as the CLI's rmi does: a built image's untagged
		// parents go with it (left, they are dangling for image prune).
		rm := client.ImageRemoveOptions{Force: true, PruneChildren: true}
		for _, im := range is.Items {
			keep := false
			for _, tag := range im.RepoTags {
				if tag == "busybox:latest" {
					keep = true
				} else if tag != "<none>:<none>" {
					_, _ = c.ImageRemove(ctx, tag, rm)
				}
			}
			if !keep {
				_, _ = c.ImageRemove(ctx, im.ID, rm)
			}
		}
	}
	// A scenario may have removed busybox itself (one that differs): the
	// next starts with it again, so differences do not cascade.
	if _, err := c.ImageInspect(ctx, "busybox"); err != nil {
		cmd := exec.CommandContext(ctx, "bash", "-c", "docker pull -q busybox >/dev/null")
		cmd.Env = t.Env
		_ = cmd.Run()
	}
}

// cliLogLine matches a log line of the docker CLI itself (logrus text
// format), with or without its final newline.
var cliLogLine = regexp.MustCompile(`(?m)^time="[^"]*" level=\w+ msg=.*(\n|$)`)

// normalisers replace what legitimately differs between engines, in order.
var normalisers = []struct {
	re   *regexp.Regexp
	repl string
}{
	{regexp.MustCompile(`sha256:[0-9a-f]{64}`), "sha256:<digest>"},
	{regexp.MustCompile(`\b[0-9a-f]{64}\b`), "<id>"},
	{regexp.MustCompile(`\b[0-9a-f]{12}\b`), "<id>"},
	{regexp.MustCompile(`\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)`), "<time>"},
	{regexp.MustCompile(`\d{4}-\d\d-\d\d \d\d:\d\d:\d\d( [+-]\d{4} \w+)?`), "<time>"},
	// Every form go-units' HumanDuration gives the CLI (Status, CreatedAt
	// "ago", RunningFor): "Less than a second", "1 second", "2 seconds",
	// "About a minute", "3 minutes", "About an hour", "1 hour", "2 days",
	// "3 weeks", "4 months", "5 years", each with or without " ago".
	{regexp.MustCompile(`(?i)\b(less than a second|about an? (second|minute|hour|day|week|month|year)|(\d+|an?) (second|minute|hour|day|week|month|year)s?)( ago)?`), "<ago>"},
	// The CLI's own log lines (a racy tar writer on a failed copy).
	{cliLogLine, ""},
	{regexp.MustCompile(`\b\d+(\.\d+)?\s?(B|kB|KB|MB|GB|KiB|MiB|GiB)\b`), "<size>"},
	{regexp.MustCompile(`\b\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}(/\d+)?\b`), "<ip>"},
	{regexp.MustCompile(`\b[a-z]+_[a-z]+(_[0-9a-f]{6})?\b`), "<name>"},
	{regexp.MustCompile(`[ \t]+\n`), "\n"},
	{regexp.MustCompile(`  +`), "  "},
}

// Normalise replaces ids, names, times, sizes and addresses with
// placeholders.
func Normalise(s string) string {
	for _, n := range normalisers {
		s = n.re.ReplaceAllString(s, n.repl)
	}
	return s
}

// Result is one scenario's outcome on one Sockerless target.
type Result struct {
	Scenario, Target string
	Agree            bool
	Engine, Got      string // normalised transcripts
	// Timing is the scenario's Timing: its agreement is not recorded.
	Timing string
}

// Accepted maps "target\tscenario" (target "*" for both) to the reason a
// difference is accepted.
type Accepted map[string]string

// ReadAccepted reads accepted.txt: lines "TARGET<TAB>SCENARIO<TAB>REASON";
// '#' starts a comment.
func ReadAccepted(path string) (Accepted, error) {
	acc := Accepted{}
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		parts := strings.SplitN(line, "\t", 3)
		if len(parts) != 3 || strings.TrimSpace(parts[2]) == "" {
			return nil, fmt.Errorf("%s:%d: want TARGET<TAB>SCENARIO<TAB>REASON", path, n)
		}
		acc[parts[0]+"\t"+parts[1]] = strings.TrimSpace(parts[2])
	}
	return acc, sc.Err()
}

// Reason returns why target's difference on scenario is accepted, or "".
func (a Accepted) Reason(target, scenario string) string {
	if r := a[target+"\t"+scenario]; r != "" {
		return r
	}
	return a["*\t"+scenario]
}

// ReadBaseline reads baseline.txt: lines "TARGET<TAB>SCENARIO" that agreed.
func ReadBaseline(path string) (map[string]bool, error) {
	b, err := os.ReadFile(path)
	if os.IsNotExist(err) {
		return map[string]bool{}, nil
	}
	if err != nil {
		return nil, err
	}
	out := map[string]bool{}
	for _, line := range strings.Split(string(b), "\n") {
		if line = strings.TrimSpace(line); line != "" && !strings.HasPrefix(line, "#") {
			out[line] = true
		}
	}
	return out, nil
}

// Baseline renders the agreeing pairs for baseline.txt (scenarios whose
// outcome depends on timing left out).
func Baseline(results []Result) string {
	var lines []string
	for _, r := range results {
		if r.Agree && r.Timing == "" {
			lines = append(lines, r.Target+"\t"+r.Scenario)
		}
	}
	sort.Strings(lines)
	return "# Scenarios that agreed with the reference engine (make conformance rewrites this).\n" + strings.Join(lines, "\n") + "\n"
}
