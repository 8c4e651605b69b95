package agent

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"path"
	"strconv"

	"github.com/sockerless/sockerless/internal/errdefs"
	"github.com/sockerless/sockerless/internal/treesync"
	"github.com/sockerless/sockerless/relay/frame"
	"github.com/sockerless/sockerless/relay/ticket"
)

// Carrier is the optional Workload ability behind carried binds: a
// directory of the container's filesystem opened as an os.Root, so a
// delta from the runner host is applied inside it and never outside.
type Carrier interface {
	CarryRoot(ctx context.Context, dir string) (*os.Root, error)
}

// serveCarry runs a carry grant on w (see docs/decisions.md, "Binds of
// the runner host are carried"):
//   - push: the agent sends its manifest of the directory as Stdout frames
//     and a Ready frame; the shim's delta arrives as Stdin; the agent
//     applies it and answers a Result frame, then Exit.
//   - pull: two manifests arrive as Stdin, the last state both sides
//     agreed on (the base) and the host's tree; the agent sends the delta
//     of what changed here since the base (treesync.SendTracked) as
//     Stdout frames, then Exit.
//
// Failures end the session with an Error frame (returned as the error).
func serveCarry(ctx context.Context, out io.Writer, stdin io.Reader, g ticket.Grant, w Workload) error {
	c, ok := w.(Carrier)
	switch {
	case g.Carry == nil:
		return errors.New("carry session without a direction")
	case !ok:
		return errdefs.NotImplementedf("carrying binds is not supported by this workload")
	case !path.IsAbs(g.Carry.Dir):
		return errdefs.InvalidParameterf("carry: %q is not an absolute path", g.Carry.Dir)
	}
	root, err := c.CarryRoot(ctx, g.Carry.Dir)
	if err != nil {
		return fmt.Errorf("carry %s: %w", g.Carry.Dir, err)
	}
	var wt *treesync.Watcher
	if cw, ok := w.(CarryWatching); ok {
		// The tree stays watched between carries: each carry looks only
		// at what changed since the last (treesync.Watcher).
		var release func()
		if wt, release, err = cw.CarryWatchers().Acquire(g.Carry.Dir, root); err != nil {
			return fmt.Errorf("carry %s: %w", g.Carry.Dir, err)
		}
		defer release()
		root = wt.Root()
	} else {
		defer root.Close()
	}
	switch g.Carry.Op {
	case ticket.CarryPush:
		manifest := frame.Writer{W: out, Type: frame.Stdout}
		if wt != nil {
			err = wt.WriteManifest(manifest)
		} else {
			var m treesync.Manifest
			if m, err = treesync.Scan(root); err == nil {
				err = treesync.WriteManifest(manifest, m)
			}
		}
		if err != nil {
			return err
		}
		if err := frame.Write(out, frame.Ready, nil); err != nil {
			return err
		}
		st, err := treesync.Apply(ctx, stdin, root)
		_, _ = io.Copy(io.Discard, stdin)
		res := frame.Result{Status: http.StatusOK}
		if err != nil {
			res.Status, res.Message = http.StatusBadRequest, err.Error()
			if !errors.Is(err, treesync.ErrUnsafe) && !errors.Is(err, treesync.ErrFormat) {
				res.Status = http.StatusInternalServerError
			}
		} else {
			res.Message = fmt.Sprintf("%d files (%d bytes), %d dirs, %d links, %d deleted", st.Files, st.Content, st.Dirs, st.Links, st.Deleted)
		}
		if err := frame.WriteJSON(out, frame.ResultType, res); err != nil {
			return err
		}
	case ticket.CarryPull:
		br := bufio.NewReader(stdin)
		base, err := treesync.ReadManifest(br)
		if err != nil {
			return err
		}
		recv, err := treesync.ReadManifest(br)
		if err != nil {
			return err
		}
		_, _ = io.Copy(io.Discard, br)
		delta := frame.Writer{W: out, Type: frame.Stdout}
		if wt != nil {
			_, err = treesync.SendWatched(ctx, delta, wt, recv, base, nil)
		} else {
			_, err = treesync.SendTracked(ctx, delta, root, recv, base, nil)
		}
		if err != nil {
			return err
		}
	default:
		return errdefs.InvalidParameterf("unknown carry direction %q", g.Carry.Op)
	}
	return frame.Write(out, frame.Exit, []byte(strconv.Itoa(0)))
}

// CarryRoot implements Carrier for an agent serving its own filesystem:
// dir is resolved like a chroot below Root (links inside it expanded, never
// leaving it).
func (a *FSArchiver) CarryRoot(ctx context.Context, dir string) (*os.Root, error) {
	f, err := a.open()
	if err != nil {
		return nil, err
	}
	r, err := f.OpenRoot(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, errdefs.NotFoundf("carry: %s does not exist in the container", dir)
	}
	return r, err
}
