package localshim

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/sockerless/sockerless/internal/controlapi"
	"github.com/sockerless/sockerless/internal/errdefs"
)

// isBlobBody reports whether r (path p, without the version) has a body
// that may be larger than a serverless platform accepts: docker load's
// archive and docker build's context.
func isBlobBody(r *http.Request, p string) bool {
	return r.Method == http.MethodPost && (p == "/images/load" || p == "/build")
}

// relayClient uploads blobs to the relay. Uploads are bounded by the
// client request's context: a body may be large.
var relayClient = &http.Client{}

// serveBlobBody asks functions, without the body, where the body of r
// goes. BlobDirect: to functions with the request, as it is (embedded
// mode). A blob ticket: to the relay's blob store, after which the
// request goes to functions without a body, naming the blob, and
// functions fetches it from the relay. So a body larger than Lambda's
// 6 MB never passes through functions. Any other answer (a refusal of
// the request itself) is passed through before the body is read.
func (s *Shim) serveBlobBody(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	out, err := s.outgoing(ctx, r, http.NoBody)
	if err != nil {
		s.fail(w, err)
		return
	}
	out.ContentLength = 0
	out.Header.Set(controlapi.HeaderShim, "1")
	out.Header.Set(controlapi.HeaderBlobTicket, "1")
	resp, err := s.client.Do(out)
	if err != nil {
		s.fail(w, err)
		return
	}
	if resp.StatusCode == http.StatusNoContent && resp.Header.Get(controlapi.HeaderBlobTicket) == controlapi.BlobDirect {
		resp.Body.Close()
		s.forward(w, r)
		return
	}
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), controlapi.MediaBlobTicket) {
		defer resp.Body.Close()
		copyHeader(w.Header(), resp.Header)
		w.WriteHeader(resp.StatusCode)
		copyFlushing(w, resp.Body)
		return
	}
	var t controlapi.BlobTicket
	err = json.NewDecoder(io.LimitReader(resp.Body, 64<<10)).Decode(&t)
	resp.Body.Close()
	if err == nil && (t.ID == "" || t.Token == "") {
		err = errors.New("no blob id or token")
	}
	if err != nil {
		writeError(w, fmt.Errorf("invalid blob ticket from functions: %w", err), http.StatusBadGateway)
		return
	}
	if r.ContentLength > t.Max && t.Max > 0 {
		writeError(w, errdefs.RequestTooLarge(fmt.Errorf("request body of %d bytes is over sockerless's limit of %d bytes", r.ContentLength, t.Max)), 0)
		return
	}
	if err := s.uploadBlob(r, t); err != nil {
		writeError(w, err, 0)
		return
	}

	out, err = s.outgoing(ctx, r, http.NoBody)
	if err != nil {
		s.fail(w, err)
		return
	}
	out.ContentLength = 0
	out.Header.Set(controlapi.HeaderShim, "1")
	out.Header.Set(controlapi.HeaderBlob, t.ID)
	// Sent once: the blob is fetched once, so a retry could not succeed.
	resp, err = s.client.Do(out)
	if err != nil {
		s.fail(w, err)
		return
	}
	defer resp.Body.Close()
	copyHeader(w.Header(), resp.Header)
	w.WriteHeader(resp.StatusCode)
	copyFlushing(w, resp.Body)
}

// uploadBlob streams r's body to the relay's blob store with ticket t.
// Its errors are Docker-shaped, carrying the relay's message.
func (s *Shim) uploadBlob(r *http.Request, t controlapi.BlobTicket) error {
	u, err := controlapi.BlobURL(t.RelayURL, t.ID)
	if err != nil {
		return errdefs.Unavailable(fmt.Errorf("cannot upload the request body: %w", err))
	}
	body := io.Reader(r.Body)
	if r.ContentLength == 0 {
		body = http.NoBody
	}
	req, err := http.NewRequestWithContext(r.Context(), http.MethodPut, u, body)
	if err != nil {
		return errdefs.Unavailable(fmt.Errorf("cannot upload the request body: %w", err))
	}
	if r.ContentLength > 0 {
		req.ContentLength = r.ContentLength
	}
	req.Header.Set("Authorization", "Bearer "+t.Token)
	req.Header.Set("Content-Type", "application/octet-stream")
	resp, err := relayClient.Do(req)
	if err != nil {
		s.log.Warn("blob upload failed", "blob", t.ID, "err", err)
		return errdefs.Unavailable(fmt.Errorf("cannot upload the request body to the sockerless relay: %w", err))
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusCreated {
		return nil
	}
	var m struct{ Message string }
	_ = json.NewDecoder(io.LimitReader(resp.Body, 64<<10)).Decode(&m)
	if m.Message == "" {
		m.Message = resp.Status
	}
	err = fmt.Errorf("uploading the request body: %s", m.Message)
	s.log.Warn("blob upload refused", "blob", t.ID, "status", resp.StatusCode, "err", err)
	switch resp.StatusCode {
	case http.StatusRequestEntityTooLarge:
		return errdefs.RequestTooLarge(err)
	case http.StatusForbidden, http.StatusConflict:
		return errdefs.InvalidParameter(err)
	}
	return errdefs.Unavailable(err)
}
