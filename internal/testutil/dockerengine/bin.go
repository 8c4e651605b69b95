package dockerengine

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// CacheDir returns the folder sockerless caches built tools and images in:
// $SOCKERLESS_CACHE, else $XDG_CACHE_HOME/sockerless, else
// ~/.cache/sockerless (the same rule as .ci/dockerd.sh).
func CacheDir() (string, error) {
	if d := os.Getenv("SOCKERLESS_CACHE"); d != "" {
		return d, nil
	}
	if d := os.Getenv("XDG_CACHE_HOME"); d != "" {
		return filepath.Join(d, "sockerless"), nil
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return "", fmt.Errorf("dockerengine: cache folder: %w", err)
	}
	return filepath.Join(home, ".cache", "sockerless"), nil
}

// BinDir returns the folder holding dockerd and docker-proxy Version:
// $SOCKERLESS_DOCKERD_DIR if set, else the folder .ci/dockerd.sh (found
// above the working directory) prints; the script builds the cache from
// the Go module proxy when it is missing or stale (minutes on a cold
// machine; one build at a time per machine) and otherwise returns at once.
// Outside the repository the cache folder is used as it is.
func BinDir(ctx context.Context) (string, error) {
	if d := os.Getenv("SOCKERLESS_DOCKERD_DIR"); d != "" {
		return d, nil
	}
	cache, err := CacheDir()
	if err != nil {
		return "", err
	}
	dir := filepath.Join(cache, "dockerd-"+Version)
	root, err := repoRoot()
	if err != nil {
		// Not inside the repository: use the cache as it is.
		if isExecutable(filepath.Join(dir, "dockerd")) && isExecutable(filepath.Join(dir, "docker-proxy")) {
			return dir, nil
		}
		return "", fmt.Errorf("dockerengine: dockerd %s is not in %s and .ci/dockerd.sh cannot be found to build it: %w", Version, dir, err)
	}
	var stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, "bash", filepath.Join(root, ".ci", "dockerd.sh"))
	cmd.Dir = root
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		tail := stderr.String()
		if len(tail) > 4096 {
			tail = tail[len(tail)-4096:]
		}
		return "", fmt.Errorf("dockerengine: .ci/dockerd.sh failed: %w\n%s", err, tail)
	}
	built := strings.TrimSpace(string(out))
	if i := strings.LastIndexByte(built, '\n'); i >= 0 {
		built = built[i+1:]
	}
	return built, nil
}

func isExecutable(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && !fi.IsDir() && fi.Mode()&0o111 != 0
}

// repoRoot returns the nearest folder at or above the working directory
// that holds .ci/dockerd.sh.
func repoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, ".ci", "dockerd.sh")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("no .ci/dockerd.sh above the working directory")
		}
		dir = parent
	}
}
