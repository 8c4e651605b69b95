package dockerengine

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/moby/moby/api/pkg/stdcopy"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"
	"golang.org/x/sys/unix"
)

// DebianWithTar returns the path of a gzip-compressed tar of the Debian
// minbase root (DebianTar) with packages installed by apt-get from the
// Debian mirror, building it on the engine at host when the cache has
// none: the base is imported, `apt-get install --no-install-recommends`
// runs in a container on the host's network (the test engines have no
// NAT), and the container's file system is exported. Tests use it for
// images that need more than minbase (nodejs, rsync) and that no
// reachable registry serves. The cache file is named by a digest of the
// base's cache name and the sorted package list; one build at a time per
// machine.
func DebianWithTar(ctx context.Context, host string, packages ...string) (string, error) {
	base, err := DebianTar(ctx)
	if err != nil {
		return "", err
	}
	pkgs := slices.Clone(packages)
	slices.Sort(pkgs)
	sum := sha256.Sum256([]byte(filepath.Base(base) + "\n" + strings.Join(pkgs, "\n")))
	path := strings.TrimSuffix(base, ".tar") + "-" + hex.EncodeToString(sum[:6]) + ".tar.gz"
	if _, err := os.Stat(path); err == nil {
		return path, nil
	}
	lock, err := os.OpenFile(path+".lock", os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return "", fmt.Errorf("dockerengine: %w", err)
	}
	defer lock.Close()
	if err := unix.Flock(int(lock.Fd()), unix.LOCK_EX); err != nil {
		return "", fmt.Errorf("dockerengine: %w", err)
	}
	if _, err := os.Stat(path); err == nil {
		return path, nil // built by another process meanwhile
	}
	c, err := client.New(client.WithHost(host))
	if err != nil {
		return "", fmt.Errorf("dockerengine: %w", err)
	}
	defer c.Close()
	if err := buildWith(ctx, c, base, pkgs, path); err != nil {
		return "", fmt.Errorf("dockerengine: Debian with %s: %w", strings.Join(pkgs, ","), err)
	}
	return path, nil
}

// buildWith installs pkgs on the base root with the engine c and writes
// the result, gzip-compressed, to path.
func buildWith(ctx context.Context, c *client.Client, base string, pkgs []string, path string) (err error) {
	ref := "sockerless-build/" + strings.TrimSuffix(filepath.Base(path), ".tar.gz") + ":latest"
	f, err := os.Open(base)
	if err != nil {
		return err
	}
	err = importWith(ctx, c, f, ref, []string{`ENV PATH=` + DefaultPath})
	f.Close()
	if err != nil {
		return err
	}
	defer func() { _, _ = c.ImageRemove(context.WithoutCancel(ctx), ref, client.ImageRemoveOptions{Force: true}) }()
	script := "set -e; export DEBIAN_FRONTEND=noninteractive; apt-get update -qq; " +
		"apt-get install -y -qq --no-install-recommends " + strings.Join(pkgs, " ") + "; " +
		"apt-get clean; rm -rf /var/lib/apt/lists/*"
	cr, err := c.ContainerCreate(ctx, client.ContainerCreateOptions{
		Config:     &container.Config{Image: ref, Cmd: []string{"sh", "-c", script}},
		HostConfig: &container.HostConfig{NetworkMode: "host"},
	})
	if err != nil {
		return err
	}
	defer func() {
		_, _ = c.ContainerRemove(context.WithoutCancel(ctx), cr.ID, client.ContainerRemoveOptions{Force: true})
	}()
	if _, err := c.ContainerStart(ctx, cr.ID, client.ContainerStartOptions{}); err != nil {
		return err
	}
	wr := c.ContainerWait(ctx, cr.ID, client.ContainerWaitOptions{Condition: container.WaitConditionNotRunning})
	select {
	case res := <-wr.Result:
		if res.StatusCode != 0 {
			var out bytes.Buffer
			if lr, err := c.ContainerLogs(ctx, cr.ID, client.ContainerLogsOptions{ShowStdout: true, ShowStderr: true, Tail: "40"}); err == nil {
				_, _ = stdcopy.StdCopy(&out, &out, lr)
				lr.Close()
			}
			return fmt.Errorf("apt-get exit %d:\n%s", res.StatusCode, out.String())
		}
	case err := <-wr.Error:
		return err
	}
	exp, err := c.ContainerExport(ctx, cr.ID, client.ContainerExportOptions{})
	if err != nil {
		return err
	}
	defer exp.Close()
	tmp := path + ".tmp"
	out, err := os.Create(tmp)
	if err != nil {
		return err
	}
	defer os.Remove(tmp)
	zw, err := gzip.NewWriterLevel(out, gzip.BestSpeed)
	if err != nil {
		out.Close()
		return err
	}
	if _, err := io.Copy(zw, exp); err != nil {
		out.Close()
		return fmt.Errorf("export: %w", err)
	}
	if err := zw.Close(); err != nil {
		out.Close()
		return err
	}
	if err := out.Close(); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}
