package functions

import (
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"path"

	"github.com/sockerless/sockerless/functions/httpx"
	"github.com/sockerless/sockerless/internal/errdefs"
	"github.com/sockerless/sockerless/providers"
)

// MaxArchiveUpload bounds a docker cp upload (1 GiB).
const MaxArchiveUpload = 1 << 30

func (a *API) archiver(r *http.Request) (providers.Archiver, string, string, error) {
	c, err := a.st.Container(r.Context(), r.PathValue("id"))
	if err != nil {
		return nil, "", "", err
	}
	p := r.URL.Query().Get("path")
	if p == "" {
		return nil, "", "", errdefs.InvalidParameterf("path is required")
	}
	if !path.IsAbs(p) {
		p = "/" + p
	}
	ar, ok := a.provider.(providers.Archiver)
	if !ok {
		return nil, "", "", errdefs.NotImplementedf("copying files is not supported by the %s provider", a.provider.Name())
	}
	return ar, c.ID, p, nil
}

func setPathStat(w http.ResponseWriter, st providers.PathStat) {
	b, _ := json.Marshal(st)
	w.Header().Set("X-Docker-Container-Path-Stat", base64.StdEncoding.EncodeToString(b))
}

func (a *API) archiveHead(w http.ResponseWriter, r *http.Request) error {
	ar, id, p, err := a.archiver(r)
	if err != nil {
		return err
	}
	st, err := ar.StatPath(r.Context(), id, p)
	if err != nil {
		return err
	}
	setPathStat(w, st)
	w.WriteHeader(http.StatusOK)
	return nil
}

func (a *API) archiveGet(w http.ResponseWriter, r *http.Request) error {
	ar, id, p, err := a.archiver(r)
	if err != nil {
		return err
	}
	rc, st, err := ar.GetArchive(r.Context(), id, p)
	if err != nil {
		return err
	}
	defer rc.Close()
	setPathStat(w, st)
	w.Header().Set("Content-Type", "application/x-tar")
	w.WriteHeader(http.StatusOK)
	_, _ = io.Copy(w, rc)
	return nil
}

func (a *API) archivePut(w http.ResponseWriter, r *http.Request) error {
	ar, id, p, err := a.archiver(r)
	if err != nil {
		return err
	}
	body := http.MaxBytesReader(w, r.Body, MaxArchiveUpload)
	if err := ar.PutArchive(r.Context(), id, p, body, httpx.BoolValue(r, "noOverwriteDirNonDir")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusOK)
	return nil
}
