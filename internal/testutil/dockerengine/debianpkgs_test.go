package dockerengine

import (
	"context"
	"strings"
	"testing"
)

// TestDebianWithTar builds (or finds cached) the Debian root with nodejs
// and rsync, loads it and runs both; a second call answers the same
// cache file.
func TestDebianWithTar(t *testing.T) {
	eng := shared.Get(t)
	ctx := context.Background()
	path, err := DebianWithTar(ctx, eng.Host, "rsync", "nodejs")
	if err != nil {
		t.Fatal(err)
	}
	mustDocker(t, eng, "import", "--change", "ENV PATH="+DefaultPath, path, "debian-with:test")
	if got := mustDocker(t, eng, "run", "--rm", "debian-with:test", "node", "-e", "console.log(process.versions.node.split('.')[0] >= 18, 6*7)"); got != "true 42\n" {
		t.Errorf("node printed %q", got)
	}
	if got := mustDocker(t, eng, "run", "--rm", "debian-with:test", "rsync", "--version"); !strings.HasPrefix(got, "rsync  version 3.") {
		t.Errorf("rsync --version printed %q", got)
	}
	// The package lists are cleaned as in the official images.
	if got := mustDocker(t, eng, "run", "--rm", "debian-with:test", "sh", "-c", "ls /var/lib/apt/lists | wc -l"); strings.TrimSpace(got) != "0" {
		t.Errorf("apt lists left: %s", got)
	}
	// The order of the packages does not matter; the cache answers.
	again, err := DebianWithTar(ctx, eng.Host, "nodejs", "rsync")
	if err != nil || again != path {
		t.Fatalf("second DebianWithTar = %q, %v, want %q", again, err, path)
	}
}
