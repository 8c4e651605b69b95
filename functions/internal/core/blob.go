package core

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strings"

	"github.com/sockerless/sockerless/internal/controlapi"
	"github.com/sockerless/sockerless/internal/errdefs"
	"github.com/sockerless/sockerless/relay/ticket"
)

// MaxBlobBody bounds a request body carried through the relay's blob
// store (docker load, a build context): 8 GiB.
const MaxBlobBody = 8 << 30

// Blob purposes: a blob uploaded for one is never read as the other.
const (
	BlobLoad  = "load"
	BlobBuild = "build"
)

// blobClient fetches blobs from the relay. Requests are bounded by their
// request's context, not by a client timeout: a blob may be large.
var blobClient = &http.Client{}

var blobIDPattern = regexp.MustCompile(`^[0-9a-f]{32}$`)

// directBodies reports whether request bodies may reach this process as
// they are: there is no network relay (embedded mode), so no platform
// limit stands between the shim and functions.
func (a *Backend) directBodies() bool {
	return a.cfg.RelayURL == "" || strings.HasPrefix(a.cfg.RelayURL, "inproc:")
}

// RequestBody returns the body of a request whose body may be larger than
// the platform accepts (see controlapi.HeaderBlobTicket), for purpose:
//
//   - asked for a blob ticket (HeaderBlobTicket), it answers the ticket,
//     or BlobDirect in embedded mode, and returns answered;
//   - naming an uploaded blob (HeaderBlob), it fetches the blob from the
//     relay, once, with a download ticket it signs itself, and returns
//     it as the body;
//   - otherwise the body is the request's own.
//
// Callers validate what they can before calling it, so a request the
// shim asks about is refused before any upload. The body must be closed.
func (a *Backend) RequestBody(w http.ResponseWriter, r *http.Request, purpose string) (body io.ReadCloser, answered bool, err error) {
	if r.Header.Get(controlapi.HeaderBlobTicket) != "" {
		return nil, true, a.blobTicket(w, purpose)
	}
	id := r.Header.Get(controlapi.HeaderBlob)
	if id == "" {
		return r.Body, false, nil
	}
	body, err = a.fetchBlob(r, id, purpose)
	return body, false, err
}

// blobTicket answers an upload ticket for a new blob, or BlobDirect.
func (a *Backend) blobTicket(w http.ResponseWriter, purpose string) error {
	if a.directBodies() {
		w.Header().Set(controlapi.HeaderBlobTicket, controlapi.BlobDirect)
		w.WriteHeader(http.StatusNoContent)
		return nil
	}
	if _, err := controlapi.BlobURL(a.cfg.RelayURL, "x"); err != nil {
		return fmt.Errorf("functions: %w", err)
	}
	id := NewID()[:32]
	tok, err := ticket.SignBlob(a.cfg.Secret, ticket.BlobGrant{
		ID: id, Op: ticket.BlobPut, Purpose: purpose, Max: MaxBlobBody,
		Expires: a.st.Now().Add(a.cfg.TicketTTL).Unix(),
	})
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", controlapi.MediaBlobTicket)
	w.WriteHeader(http.StatusOK)
	return json.NewEncoder(w).Encode(controlapi.BlobTicket{RelayURL: a.cfg.RelayURL, Token: tok, ID: id, Max: MaxBlobBody})
}

// fetchBlob opens blob id at the relay for purpose. The relay serves a
// blob once: a second request naming it is refused.
func (a *Backend) fetchBlob(r *http.Request, id, purpose string) (io.ReadCloser, error) {
	if a.directBodies() {
		return nil, errdefs.InvalidParameterf("%s names an uploaded body, but this deployment has no relay to hold one: send the body with the request", controlapi.HeaderBlob)
	}
	if !blobIDPattern.MatchString(id) {
		return nil, errdefs.InvalidParameterf("invalid %s: not a blob id", controlapi.HeaderBlob)
	}
	u, err := controlapi.BlobURL(a.cfg.RelayURL, id)
	if err != nil {
		return nil, fmt.Errorf("functions: %w", err)
	}
	tok, err := ticket.SignBlob(a.cfg.Secret, ticket.BlobGrant{
		ID: id, Op: ticket.BlobGet, Purpose: purpose, Expires: a.st.Now().Add(a.cfg.TicketTTL).Unix(),
	})
	if err != nil {
		return nil, err
	}
	req, err := http.NewRequestWithContext(r.Context(), http.MethodGet, u, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+tok)
	resp, err := blobClient.Do(req)
	if err != nil {
		return nil, errdefs.Unavailable(fmt.Errorf("cannot fetch the uploaded body from the relay: %w", err))
	}
	if resp.StatusCode == http.StatusOK {
		return resp.Body, nil
	}
	defer resp.Body.Close()
	var m struct{ Message string }
	_ = json.NewDecoder(io.LimitReader(resp.Body, 64<<10)).Decode(&m)
	if m.Message == "" {
		m.Message = resp.Status
	}
	err = fmt.Errorf("the uploaded body %s cannot be read: %s", id, m.Message)
	switch resp.StatusCode {
	case http.StatusNotFound, http.StatusForbidden:
		return nil, errdefs.InvalidParameter(err)
	}
	return nil, errdefs.Unavailable(err)
}
