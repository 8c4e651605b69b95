package docker

import (
	"archive/tar"
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/moby/moby/client"
	"github.com/sockerless/sockerless/internal/errdefs"
)

// CheckUser implements providers.UserChecker: the user part of user is
// looked up in the engine container's /etc/passwd (read through the
// engine's archive endpoint), so an exec as an unknown user is refused
// at create with Docker's 400, as on Docker. Numeric users always pass;
// a container whose /etc/passwd cannot be read is not refused here (the
// exec then fails when it starts, as before).
func (p *Provider) CheckUser(ctx context.Context, id, user string) error {
	name, _, _ := strings.Cut(user, ":")
	if name == "" {
		return nil
	}
	if n, err := strconv.Atoi(name); err == nil && n >= 0 {
		return nil
	}
	res, err := p.opts.Client.CopyFromContainer(ctx, p.name(id), client.CopyFromContainerOptions{SourcePath: "/etc/passwd"})
	if err != nil {
		return nil
	}
	defer res.Content.Close()
	found, err := passwdHas(res.Content, name)
	if err != nil || found {
		return nil
	}
	return errdefs.InvalidParameterf("unable to find user %s: no matching entries in passwd file", name)
}

// passwdHas reports whether the tar of /etc/passwd in r names user.
func passwdHas(r io.Reader, user string) (bool, error) {
	tr := tar.NewReader(r)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return false, errors.New("no /etc/passwd in the archive")
		}
		if err != nil {
			return false, fmt.Errorf("reading /etc/passwd: %w", err)
		}
		if h.Typeflag != tar.TypeReg {
			continue
		}
		sc := bufio.NewScanner(tr)
		for sc.Scan() {
			if n, _, ok := strings.Cut(sc.Text(), ":"); ok && n == user {
				return true, nil
			}
		}
		return false, sc.Err()
	}
}
