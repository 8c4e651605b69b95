package localshim

import (
	"encoding/json"
	"net/http"
	"strings"

	"github.com/moby/moby/api/types/common"
	"github.com/sockerless/sockerless/internal/errdefs"
)

// maxBufferedBody bounds a request body the shim reads whole (a create,
// or a body it may have to send again): 4 MiB, functions' own limit on a
// JSON body.
const maxBufferedBody = 4 << 20

// writeError answers err in Docker's shape ({"message": ...}, Docker's
// own common.ErrorResponse) with the status errdefs assigns, or status
// when not zero. 304 has no body.
func writeError(w http.ResponseWriter, err error, status int) {
	if status == 0 {
		status = errdefs.HTTPStatus(err)
	}
	if status == http.StatusNotModified {
		w.WriteHeader(status)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(common.ErrorResponse{Message: err.Error()})
}

// boolValue reads a boolean query parameter as Docker does: absent,
// empty, "0", "no", "false" and "none" are false, anything else true.
func boolValue(r *http.Request, key string) bool {
	switch strings.ToLower(strings.TrimSpace(r.URL.Query().Get(key))) {
	case "", "0", "no", "false", "none":
		return false
	}
	return true
}
