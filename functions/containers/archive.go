package containers

import (
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"path"

	"github.com/sockerless/sockerless/functions/httpx"
	"github.com/sockerless/sockerless/functions/records"
	"github.com/sockerless/sockerless/internal/controlapi"
	"github.com/sockerless/sockerless/internal/errdefs"
	"github.com/sockerless/sockerless/providers"
	"github.com/sockerless/sockerless/relay/ticket"
)

// MaxArchiveUpload bounds a docker cp upload (1 GiB).
const MaxArchiveUpload = 1 << 30

// errArchiveNeedsShim answers an archive request for a workload whose
// files only its agent can reach, when it did not come through a shim.
var errArchiveNeedsShim = errdefs.InvalidParameterf("docker cp with this provider needs the sockerless shim: point DOCKER_HOST at `sockerless`, not at the functions endpoint")

// archiveTarget is where one archive request goes: the provider itself
// (an in-process Archiver), or the workload's agent through the relay.
type archiveTarget struct {
	ar   providers.Archiver // nil: through the relay
	c    *records.Container
	path string
	// exited: the relay name is the exited container's, whose workload
	// still serves its files (providers.ExitedFiles).
	exited bool
}

// archiveRoute decides how an archive request is served. A provider that
// implements providers.Archiver (its workloads' files are in this
// process: memory, synthetic) serves it directly, and so does one whose
// platform reaches a workload that is not running
// (providers.IdleArchiver: docker). Any other provider's
// workloads are remote: the request gets an archive ticket and the shim
// carries the tar over the relay to the agent, so no archive body passes
// through functions (Lambda's 6 MB payload limit). See docs/decisions.md.
func (a *Router) archiveRoute(r *http.Request) (archiveTarget, error) {
	c, err := a.st.Container(r.Context(), r.PathValue("id"))
	if err != nil {
		return archiveTarget{}, err
	}
	p := r.URL.Query().Get("path")
	if p == "" {
		return archiveTarget{}, errdefs.InvalidParameterf("path is required")
	}
	if !path.IsAbs(p) {
		p = "/" + p
	}
	t := archiveTarget{c: c, path: p}
	if ar, ok := providers.As[providers.Archiver](a.provider); ok {
		t.ar = ar
		return t, nil
	}
	if ia, ok := providers.As[providers.IdleArchiver](a.provider); ok && !c.State.Running {
		// No agent to ask: the provider's platform serves it.
		t.ar = ia.IdleArchive()
		return t, nil
	}
	switch {
	case a.cfg.RelayURL == "":
		return t, errdefs.NotImplementedf("copying files is not supported by the %s provider", a.provider.Name())
	case r.Header.Get(controlapi.HeaderShim) == "":
		return t, errArchiveNeedsShim
	case !c.State.Running:
		if ef, ok := providers.As[providers.ExitedFiles](a.provider); ok && r.Method != http.MethodPut && !c.State.FinishedAt.IsZero() && ef.ExitedFilesFor() > 0 {
			kept := ef.ExitedFilesFor()
			if a.st.Now().Sub(c.State.FinishedAt) < kept {
				t.exited = true
				return t, nil
			}
			return t, errdefs.NotImplementedf("copying files from container %s is not supported by the %s provider more than %s after it exited: its workload, which holds them, is gone", c.ID, a.provider.Name(), kept)
		}
		return t, errdefs.NotImplementedf("copying files to or from container %s while it is not running is not supported by the %s provider: its files live in the workload", c.ID, a.provider.Name())
	}
	return t, nil
}

// archiveTicket answers an archive ticket for operation op on t.
func (a *Router) archiveTicket(w http.ResponseWriter, t archiveTarget, op ticket.Archive) error {
	op.Path = t.path
	name := t.c.ID
	if t.exited {
		name = ticket.ExitedContainer(t.c.ID)
	}
	return a.b.IssueTicket(w, ticket.Grant{Container: name, Kind: ticket.KindArchive, Archive: &op}, false, t.c.ID)
}

func setPathStat(w http.ResponseWriter, st providers.PathStat) {
	b, _ := json.Marshal(st)
	w.Header().Set("X-Docker-Container-Path-Stat", base64.StdEncoding.EncodeToString(b))
}

func (a *Router) headContainersArchive(w http.ResponseWriter, r *http.Request) error {
	t, err := a.archiveRoute(r)
	if err != nil {
		return err
	}
	if t.ar == nil {
		return a.archiveTicket(w, t, ticket.Archive{Op: ticket.ArchiveStat})
	}
	st, err := t.ar.StatPath(r.Context(), t.c.ID, t.path)
	if err != nil {
		return archiveNotFound(r, err)
	}
	setPathStat(w, st)
	w.WriteHeader(http.StatusOK)
	return nil
}

func (a *Router) getContainersArchive(w http.ResponseWriter, r *http.Request) error {
	if r.Method == http.MethodHead || r.Header.Get(controlapi.HeaderArchiveTicket) == ticket.ArchiveStat {
		return a.headContainersArchive(w, r)
	}
	t, err := a.archiveRoute(r)
	if err != nil {
		return err
	}
	if t.ar == nil {
		return a.archiveTicket(w, t, ticket.Archive{Op: ticket.ArchiveGet})
	}
	rc, st, err := t.ar.GetArchive(r.Context(), t.c.ID, t.path)
	if err != nil {
		return archiveNotFound(r, err)
	}
	defer rc.Close()
	setPathStat(w, st)
	w.Header().Set("Content-Type", "application/x-tar")
	w.WriteHeader(http.StatusOK)
	_, _ = io.Copy(w, rc)
	return nil
}

func (a *Router) putContainersArchive(w http.ResponseWriter, r *http.Request) error {
	t, err := a.archiveRoute(r)
	if err != nil {
		return err
	}
	noOverwrite := httpx.BoolValue(r, "noOverwriteDirNonDir")
	if t.ar == nil {
		return a.archiveTicket(w, t, ticket.Archive{Op: ticket.ArchivePut, NoOverwriteDirNonDir: noOverwrite})
	}
	if r.Header.Get(controlapi.HeaderArchiveTicket) != "" {
		// A shim asking where the body goes: here.
		w.Header().Set(controlapi.HeaderArchiveTicket, controlapi.ArchiveDirect)
		w.WriteHeader(http.StatusNoContent)
		return nil
	}
	body := http.MaxBytesReader(w, r.Body, MaxArchiveUpload)
	if err := t.ar.PutArchive(r.Context(), t.c.ID, t.path, body, noOverwrite); err != nil {
		return err
	}
	w.WriteHeader(http.StatusOK)
	return nil
}

// archiveNotFound words a missing path as Docker does: the path and the
// container as the request names them.
func archiveNotFound(r *http.Request, err error) error {
	if !errdefs.IsNotFound(err) {
		return err
	}
	return errdefs.NotFoundf("Could not find the file %s in container %s", r.URL.Query().Get("path"), r.PathValue("id"))
}
