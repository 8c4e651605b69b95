package conformance

import (
	"context"
	"strings"
	"testing"
)

// TestCorpus checks the corpus itself: at least 150 scenarios, unique
// names, each with lines or an SDK call.
func TestCorpus(t *testing.T) {
	seen := map[string]bool{}
	for _, s := range Scenarios() {
		if seen[s.Name] {
			t.Errorf("duplicate scenario %s", s.Name)
		}
		seen[s.Name] = true
		if len(s.Lines) == 0 && s.SDK == nil {
			t.Errorf("scenario %s does nothing", s.Name)
		}
	}
	if len(seen) < 150 {
		t.Errorf("%d scenarios, want at least 150", len(seen))
	}
}

func TestNormalise(t *testing.T) {
	tests := []struct{ in, want string }{
		{"abcdef012345 Up 3 seconds", "<id> Up <ago>"},
		{"2026-12-06T07:26:42.123456789Z x", "<time> x"},
		{"modest_shannon_1048f4 and eager_babbage", "<name> and <name>"},
		{"10.160.0.2/24 2.1MB", "<ip> <size>"},
		{"p2 Up 1 second", "p2 Up <ago>"},
		{"p2 Up Less than a second", "p2 Up <ago>"},
		{"p2 Up 2 seconds (Paused)", "p2 Up <ago> (Paused)"},
		{"p2 Up About a minute (healthy)", "p2 Up <ago> (healthy)"},
		{"p2 Up About an hour", "p2 Up <ago>"},
		{"p2 Up 59 minutes", "p2 Up <ago>"},
		{"p2 Up 1 hour", "p2 Up <ago>"},
		{"p2 Up 3 days", "p2 Up <ago>"},
		{"p2 Up 2 weeks", "p2 Up <ago>"},
		{"p2 Up 5 months", "p2 Up <ago>"},
		{"p2 Up 1 year", "p2 Up <ago>"},
		{"p3 Exited (1) Less than a second ago", "p3 Exited (1) <ago>"},
		{"p3 Exited (137) 1 second ago", "p3 Exited (137) <ago>"},
		{"p3 Restarting (1) About a minute ago", "p3 Restarting (1) <ago>"},
		{"An hour ago", "<ago>"},
		{"time=\"2026-12-06T08:06:04Z\" level=error msg=\"Can't close tar writer\"", ""},
		{"time=\"2026-12-06T08:06:04Z\" level=error msg=\"closed pipe\"\nno such directory\n", "no such directory\n"},
	}
	for _, tc := range tests {
		if got := Normalise(tc.in); got != tc.want {
			t.Errorf("Normalise(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

// TestAcceptedFile: every accepted difference names a scenario of the
// corpus and a target, with a reason.
func TestAcceptedFile(t *testing.T) {
	acc, err := ReadAccepted("accepted.txt")
	if err != nil {
		t.Fatal(err)
	}
	names := map[string]bool{}
	for _, s := range Scenarios() {
		names[s.Name] = true
	}
	for key := range acc {
		target, scenario, _ := strings.Cut(key, "\t")
		if target != "memory" && target != "docker" && target != "*" {
			t.Errorf("accepted.txt: unknown target %q", target)
		}
		if !names[scenario] {
			t.Errorf("accepted.txt: no scenario %q", scenario)
		}
	}
}

// TestRunDropsCLILogLines: a line whose only error output is the CLI's own
// log lines has no [stderr] section, as one where the race did not log.
func TestRunDropsCLILogLines(t *testing.T) {
	tg := &Target{Name: "local", Env: []string{"PATH=/usr/bin:/bin"}}
	noisy := Run(context.Background(), tg, Scenario{Lines: []string{
		`echo 'time="2026-12-06T08:06:04Z" level=error msg="Can'"'"'t add file /tmp/f to tar: io: read/write on closed pipe"' >&2; echo 'no such directory' >&2`,
	}})
	quiet := Run(context.Background(), tg, Scenario{Lines: []string{`echo 'no such directory' >&2`}})
	_, noisyRest, _ := strings.Cut(noisy, "\n")
	_, quietRest, _ := strings.Cut(quiet, "\n")
	if noisyRest != quietRest {
		t.Errorf("noisy transcript %q, quiet %q", noisy, quiet)
	}
	only := Run(context.Background(), tg, Scenario{Lines: []string{`echo 'time="x" level=error msg="y"' >&2`}})
	if strings.Contains(only, "[stderr]") {
		t.Errorf("only CLI log lines, yet a stderr section: %q", only)
	}
}

// TestBaselineLeavesOutTiming: a scenario whose outcome depends on timing
// never enters the baseline, even when it agreed.
func TestBaselineLeavesOutTiming(t *testing.T) {
	got := Baseline([]Result{
		{Scenario: "a/steady", Target: "memory", Agree: true},
		{Scenario: "a/racy", Target: "memory", Agree: true, Timing: "races"},
		{Scenario: "a/differs", Target: "docker"},
	})
	if !strings.Contains(got, "memory\ta/steady\n") || strings.Contains(got, "a/racy") || strings.Contains(got, "a/differs") {
		t.Errorf("baseline:\n%s", got)
	}
}
