package integration

import (
	"strings"
	"testing"
)

// TestStartRefusalWordsOnly: a docker run --rm whose start Docker
// refuses (an unknown user) prints Docker's refusal and nothing of
// Sockerless's own: the attach to a container removed before it ran
// ends without a word, as Docker's does.
func TestStartRefusalWordsOnly(t *testing.T) {
	s := startServer(t, memoryOptions(t))
	runSteps(t, s, []step{
		d(0, ``, "pull", "alpine:3.20"),
		d(125, `^docker: Error response from daemon: unable to find user nosuchuser: no matching entries in passwd file\n\nRun 'docker run --help' for more information\s*$`, "run", "--rm", "-u", "nosuchuser", "alpine:3.20", "id"),
	})
}

// TestNoChangesIsNull: the changes of a container that changed nothing
// are null, as Docker answers, not an empty list.
func TestNoChangesIsNull(t *testing.T) {
	s := startServer(t, memoryOptions(t))
	runSteps(t, s, []step{
		d(0, ``, "pull", "alpine:3.20"),
		d(0, ``, "create", "--name", "still", "alpine:3.20"),
	})
	code, _, body := raw(t, s, "GET", "/v1.50/containers/still/changes", "")
	if code != 200 || strings.TrimSpace(body) != "null" {
		t.Errorf("changes = %d %q, want 200 null", code, body)
	}
}

// TestHomeFromPasswd: on the memory provider a process whose environment
// sets no HOME gets its user's home folder from the container's
// /etc/passwd ("/" for a uid without an entry), as runc gives it.
func TestHomeFromPasswd(t *testing.T) {
	s := startServer(t, memoryOptions(t))
	runSteps(t, s, []step{
		d(0, ``, "pull", "alpine:3.20"),
		d(0, `^/nonexistent\s*$`, "run", "--rm", "-u", "nobody", "alpine:3.20", "sh", "-c", "echo $HOME"),
		d(0, `^/root\s*$`, "run", "--rm", "alpine:3.20", "sh", "-c", "echo $HOME"),
		d(0, `^/\s*$`, "run", "--rm", "-u", "4242", "alpine:3.20", "sh", "-c", "echo $HOME"),
		d(0, `^/mine\s*$`, "run", "--rm", "-u", "nobody", "-e", "HOME=/mine", "alpine:3.20", "sh", "-c", "echo $HOME"),
	})
}
