package conformance

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sockerless/sockerless/internal/embedded"
	"github.com/sockerless/sockerless/internal/testutil/dockerengine"
)

// Two engines: the reference, and the one the docker provider runs its
// workloads on (so that resetting one never touches the other).
var reference, backing dockerengine.Shared

func TestMain(m *testing.M) {
	code := m.Run()
	for _, e := range []*dockerengine.Shared{&reference, &backing} {
		if err := e.Stop(); err != nil {
			fmt.Fprintln(os.Stderr, err)
		}
	}
	os.Exit(code)
}

// sockerlessTarget starts an embedded Sockerless on a socket and pulls
// busybox there (the engines have it loaded).
func sockerlessTarget(t *testing.T, name string, opts embedded.Options) *Target {
	t.Helper()
	dir := t.TempDir()
	s, err := embedded.New(context.Background(), opts)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	ln, err := net.Listen("unix", filepath.Join(dir, "d.sock"))
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: s.Handler}
	go srv.Serve(ln)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(ctx)
		s.Close()
	})
	host := "unix://" + filepath.Join(dir, "d.sock")
	tg := &Target{Name: name, Host: host, Env: cliEnv(host, t.TempDir())}
	if out, err := runLine(tg, "docker pull -q busybox"); err != nil {
		t.Fatalf("%s: pull busybox: %v\n%s", name, err, out)
	}
	return tg
}

func cliEnv(host, config string) []string {
	var env []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(k, "DOCKER_") {
			continue
		}
		env = append(env, kv)
	}
	return append(env, "DOCKER_HOST="+host, "DOCKER_CONFIG="+config, "DOCKER_CLI_HINTS=false")
}

func runLine(t *Target, line string) (string, error) {
	cmd := exec.Command("bash", "-c", line)
	cmd.Env = t.Env
	out, err := cmd.CombinedOutput()
	return string(out), err
}

func buildAgent(t *testing.T) string {
	t.Helper()
	out := filepath.Join(t.TempDir(), "sockerless-agent")
	cmd := exec.Command("go", "build", "-tags", "osusergo netgo", "-o", out, "github.com/sockerless/sockerless/cmd/sockerless-agent")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("building sockerless-agent: %v\n%s", err, b)
	}
	return out
}

func TestConformance(t *testing.T) {
	ref := reference.Get(t)
	back := backing.Get(t)
	engine := &Target{Name: "engine", Host: ref.Host, Env: cliEnv(ref.Host, t.TempDir())}
	memory := sockerlessTarget(t, "memory", embedded.Options{})
	docker := sockerlessTarget(t, "docker", embedded.Options{Docker: embedded.DockerOptions{Host: back.Host, AgentPath: buildAgent(t)}})

	scenarios := Scenarios()
	if only := os.Getenv("CONFORMANCE_RUN"); only != "" {
		var keep []Scenario
		for _, s := range scenarios {
			for _, part := range strings.Split(only, ",") {
				if strings.Contains(s.Name, part) {
					keep = append(keep, s)
					break
				}
			}
		}
		scenarios = keep
	}
	targets := []*Target{engine, memory, docker}
	// The three targets share nothing (two engines and two Sockerless
	// instances): each runs the whole corpus in its own goroutine.
	transcripts := make([][]string, len(targets))
	took := make([]time.Duration, len(targets))
	var wg sync.WaitGroup
	ctx := context.Background()
	for i, tg := range targets {
		wg.Add(1)
		go func() {
			defer wg.Done()
			began := time.Now()
			for _, s := range scenarios {
				Reset(ctx, tg)
				out := Run(ctx, tg, s)
				transcripts[i] = append(transcripts[i], Normalise(out))
			}
			Reset(ctx, tg)
			took[i] = time.Since(began)
		}()
	}
	wg.Wait()
	for i, tg := range targets {
		t.Logf("%s: %d scenarios in %s", tg.Name, len(scenarios), took[i].Round(time.Second))
	}

	acc, err := ReadAccepted("accepted.txt")
	if err != nil {
		t.Fatal(err)
	}
	base, err := ReadBaseline("baseline.txt")
	if err != nil {
		t.Fatal(err)
	}
	var results []Result
	for i, s := range scenarios {
		for j, tg := range targets[1:] {
			r := Result{Scenario: s.Name, Target: tg.Name, Engine: transcripts[0][i], Got: transcripts[j+1][i], Timing: s.Timing}
			r.Agree = r.Engine == r.Got
			results = append(results, r)
		}
	}
	table := Table(scenarios, results, acc)
	t.Log("\n" + table)
	for _, r := range results {
		if r.Agree {
			continue
		}
		if os.Getenv("CONFORMANCE_DIFFS") != "" {
			t.Logf("%s on %s differs:\n--- engine\n%s--- %s\n%s", r.Scenario, r.Target, r.Engine, r.Target, r.Got)
		}
		if base[r.Target+"\t"+r.Scenario] && acc.Reason(r.Target, r.Scenario) == "" && r.Timing == "" {
			t.Errorf("%s on %s agreed with the engine and no longer does:\n--- engine\n%s--- %s\n%s", r.Scenario, r.Target, r.Engine, r.Target, r.Got)
		}
	}
	if os.Getenv("CONFORMANCE_UPDATE") != "" && os.Getenv("CONFORMANCE_RUN") == "" {
		if err := os.WriteFile("baseline.txt", []byte(Baseline(results)), 0o644); err != nil {
			t.Fatal(err)
		}
		doc := filepath.Join("..", "..", "docs", "conformance.md")
		if err := os.WriteFile(doc, []byte(Document(table)), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// Table renders the per-scenario outcome and the summary.
func Table(scenarios []Scenario, results []Result, acc Accepted) string {
	by := map[string]Result{}
	for _, r := range results {
		by[r.Target+"\t"+r.Scenario] = r
	}
	var b strings.Builder
	b.WriteString("| scenario | family | memory | docker provider |\n|---|---|---|---|\n")
	agree := map[string]int{}
	for _, s := range scenarios {
		cell := func(target string) string {
			r := by[target+"\t"+s.Name]
			if r.Agree {
				agree[target]++
				return "agree"
			}
			if reason := acc.Reason(target, s.Name); reason != "" {
				return "differ (accepted: " + reason + ")"
			}
			return "differ"
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %s |\n", s.Name, s.Family, cell("memory"), cell("docker"))
	}
	n := len(scenarios)
	pct := func(k int) float64 {
		if n == 0 {
			return 0
		}
		return 100 * float64(k) / float64(n)
	}
	fams := map[string]bool{}
	for _, s := range scenarios {
		fams[s.Family] = true
	}
	names := make([]string, 0, len(fams))
	for f := range fams {
		names = append(names, f)
	}
	sort.Strings(names)
	for _, s := range scenarios {
		if s.Timing != "" {
			fmt.Fprintf(&b, "\n%s is not in the baseline: %s.\n", s.Name, s.Timing)
		}
	}
	fmt.Fprintf(&b, "\nSummary: %d scenarios in %d families (%s); agreement with the reference engine: memory provider %d/%d (%.1f%%), docker provider %d/%d (%.1f%%).\n",
		n, len(names), strings.Join(names, ", "), agree["memory"], n, pct(agree["memory"]), agree["docker"], n, pct(agree["docker"]))
	return b.String()
}

// Document is docs/conformance.md.
func Document(table string) string {
	return `# Conformance with Docker

Every scenario of the differential suite (integration/conformance/) runs
against the reference engine (dockerd 28.2.2, internal/testutil/dockerengine)
and against Sockerless with the memory provider and with the docker provider
(workloads on a second engine of the same version); transcripts (each
command's output, error output and exit status) are normalised for ids,
names, times, sizes, addresses and durations (every form the CLI prints:
"Less than a second", "1 second", "About a minute", ...), and the CLI's own
log lines (time="..." level=...) are dropped from error output, then
compared. Accepted differences, each with its reason, are in
integration/conformance/accepted.txt; a scenario listed in
integration/conformance/baseline.txt that stops agreeing fails the test.
No scenario in the baseline depends on timing: signals wait until the
workload logged that its trap is in place, listings wait for the exits they
show, interleaved stdout/stderr is sorted; a scenario whose outcome depends
on timing even on the engine is marked (Scenario.Timing), shown, and kept
out of the baseline. The three targets run side by side (two engines, two
Sockerless instances, nothing shared), and the reset between scenarios
speaks the API directly. What the differences are and where each fix
belongs: docs/conformance-differences.md.

Produced by:

    make conformance

(` + "`go test ./integration/conformance/ -run TestConformance -count=1 -v`" + ` with
CONFORMANCE_UPDATE=1; CONFORMANCE_DIFFS=1 prints every difference,
CONFORMANCE_RUN=part[,part...] runs the scenarios whose name contains one of the parts.)

` + table
}
