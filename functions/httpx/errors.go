package httpx

import (
	"encoding/json"
	"net/http"

	"github.com/moby/moby/api/types/common"
	"github.com/sockerless/sockerless/internal/errdefs"
)

// WriteError answers err in Docker's shape: {"message": "..."} with the
// status errdefs assigns (or status, when not zero). 304 has no body.
func WriteError(w http.ResponseWriter, err error, status int) {
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

// NotImplemented is the handler of a route Sockerless does not serve: it
// answers 501 naming what is missing, so a client sees why instead of a
// pretended success.
func NotImplemented(what string) HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		return errdefs.NotImplementedf("%s is not supported by sockerless", what)
	}
}
