package agent

import (
	"archive/tar"
	"context"
	"encoding/json"
	"errors"
	"io"
	"io/fs"
	"net/http"
	"os"
	"strconv"
	"sync"

	"github.com/sockerless/sockerless/internal/errdefs"
	"github.com/sockerless/sockerless/internal/rootfs"
	"github.com/sockerless/sockerless/internal/treesync"
	"github.com/sockerless/sockerless/providers"
	"github.com/sockerless/sockerless/relay/frame"
	"github.com/sockerless/sockerless/relay/ticket"
)

// Archiver is the optional Workload ability behind docker cp: file access
// in the workload's filesystem. Paths are absolute inside the container.
// Errors are errdefs-classified (NotFound for a missing path,
// InvalidParameter for a bad extraction point or an escaping tar entry).
type Archiver interface {
	StatPath(ctx context.Context, path string) (providers.PathStat, error)
	GetArchive(ctx context.Context, path string) (io.ReadCloser, providers.PathStat, error)
	PutArchive(ctx context.Context, path string, tarball io.Reader, noOverwriteDirNonDir bool) error
}

// serveArchive runs an archive grant's operation on w and answers the
// session: a Result frame, then (get) the tar as Stdout frames, then Exit.
// For put the client's Stdin frames are the tar.
func serveArchive(ctx context.Context, out io.Writer, stdin io.Reader, g ticket.Grant, w Workload) error {
	ar, ok := w.(Archiver)
	if g.Archive == nil {
		return errors.New("archive session without an operation")
	}
	result := func(st providers.PathStat, err error) error {
		r := frame.Result{Status: http.StatusOK}
		if err != nil {
			r.Status, r.Message = errdefs.HTTPStatus(err), err.Error()
		} else {
			r.Stat, _ = json.Marshal(st)
		}
		return frame.WriteJSON(out, frame.ResultType, r)
	}
	a := g.Archive
	switch {
	case !ok:
		if err := result(providers.PathStat{}, errdefs.NotImplementedf("copying files is not supported by this workload")); err != nil {
			return err
		}
	case a.Op == ticket.ArchiveStat:
		if err := result(ar.StatPath(ctx, a.Path)); err != nil {
			return err
		}
	case a.Op == ticket.ArchiveGet:
		rc, st, err := ar.GetArchive(ctx, a.Path)
		if err := result(st, err); err != nil {
			if rc != nil {
				rc.Close()
			}
			return err
		}
		if rc == nil {
			break
		}
		defer rc.Close()
		if _, err := io.CopyBuffer(frame.Writer{W: out, Type: frame.Stdout}, rc, make([]byte, 256<<10)); err != nil {
			return err
		}
	case a.Op == ticket.ArchivePut:
		err := ar.PutArchive(ctx, a.Path, stdin, a.NoOverwriteDirNonDir)
		if err == nil {
			// The rest of the stream (tar padding) is read, so the client
			// sees its whole upload accepted.
			_, _ = io.Copy(io.Discard, stdin)
		}
		if err := result(providers.PathStat{}, err); err != nil {
			return err
		}
	default:
		if err := result(providers.PathStat{}, errdefs.InvalidParameterf("unknown archive operation %q", a.Op)); err != nil {
			return err
		}
	}
	return frame.Write(out, frame.Exit, []byte(strconv.Itoa(0)))
}

// FSArchiver serves docker cp inside the directory Root, which is the
// container's "/": paths are resolved like a chroot (an absolute symlink
// target starts again at Root, ".." never climbs above it) and tar entries
// that would land outside it are refused.
type FSArchiver struct {
	// Root is the container's root directory on this machine ("/" for an
	// agent that is the workload's own filesystem).
	Root string

	once sync.Once
	fs   *rootfs.FS
	err  error

	// watchers keep carried binds' trees watched between carries
	// (carrywatch.go).
	watchOnce sync.Once
	watchers  *treesync.Watchers
}

func (a *FSArchiver) open() (*rootfs.FS, error) {
	a.once.Do(func() {
		root := a.Root
		if root == "" {
			root = "/"
		}
		a.fs, a.err = rootfs.New(root, nil)
	})
	return a.fs, a.err
}

func notFound(err error, p string) error {
	if errors.Is(err, fs.ErrNotExist) {
		return errdefs.NotFoundf("Could not find the file %s in container", p)
	}
	return err
}

// StatPath implements Archiver as Docker's archive HEAD does
// (rootfs.StatCopy: a final symlink is not followed unless the path ends
// in "/").
func (a *FSArchiver) StatPath(ctx context.Context, p string) (providers.PathStat, error) {
	f, err := a.open()
	if err != nil {
		return providers.PathStat{}, err
	}
	cs, err := statCopy(f, p)
	return copyPathStat(cs), err
}

// GetArchive implements Archiver: a tar of p named by its base name, as
// docker cp expects.
func (a *FSArchiver) GetArchive(ctx context.Context, p string) (io.ReadCloser, providers.PathStat, error) {
	f, err := a.open()
	if err != nil {
		return nil, providers.PathStat{}, err
	}
	cs, err := statCopy(f, p)
	if err != nil {
		return nil, providers.PathStat{}, err
	}
	opts := rootfs.TarOptions{}
	if a.Root == "" || a.Root == "/" {
		// The live filesystem the agent runs in.
		mi, _ := os.ReadFile("/proc/self/mountinfo")
		exe, _ := os.Executable()
		opts = liveTarOptions(string(mi), exe)
	}
	pr, pw := io.Pipe()
	go func() {
		tw := tar.NewWriter(pw)
		err := rootfs.WriteCopyTarWith(f, tw, cs, opts)
		if err == nil {
			err = tw.Close()
		}
		pw.CloseWithError(err)
	}()
	return pr, copyPathStat(cs), nil
}

// PutArchive implements Archiver: tarball is extracted below the
// directory p; entries climbing out of it are refused.
func (a *FSArchiver) PutArchive(ctx context.Context, p string, tarball io.Reader, noOverwriteDirNonDir bool) error {
	f, err := a.open()
	if err != nil {
		return err
	}
	fi, err := f.Stat(p)
	if err != nil {
		return notFound(err, p)
	}
	if !fi.IsDir() {
		return errdefs.InvalidParameterf("extraction point is not a directory")
	}
	if err := rootfs.ExtractTar(f, p, tarball, rootfs.ExtractOptions{NoOverwriteDirNonDir: noOverwriteDirNonDir}); err != nil {
		if errors.Is(err, rootfs.ErrUnsafeEntry) {
			return errdefs.InvalidParameter(err)
		}
		return err
	}
	return nil
}
