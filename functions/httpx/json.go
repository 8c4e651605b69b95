package httpx

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"

	"github.com/sockerless/sockerless/internal/errdefs"
)

// MaxJSONBody bounds request bodies decoded as JSON (4 MiB): far above any
// real create or exec body, small enough that a huge body cannot exhaust
// a function's memory.
const MaxJSONBody = 4 << 20

// DecodeJSON decodes r's body into v. An empty body leaves v unchanged
// when optional is true. Malformed JSON is a 400, a body over MaxJSONBody
// a 413; neither changes anything.
func DecodeJSON(r *http.Request, v any, optional bool) error {
	if ct := r.Header.Get("Content-Type"); ct != "" {
		// Docker's CheckForJSON: the media type must be JSON.
		mt, _, err := mime.ParseMediaType(ct)
		if err != nil {
			return errdefs.InvalidParameter(fmt.Errorf("malformed Content-Type header (%s): %w", ct, err))
		}
		if mt != "application/json" {
			return errdefs.InvalidParameterf("unsupported Content-Type header (%s): must be 'application/json'", ct)
		}
	}
	body := http.MaxBytesReader(nil, r.Body, MaxJSONBody)
	dec := json.NewDecoder(body)
	err := dec.Decode(v)
	var tooBig *http.MaxBytesError
	switch {
	case errors.As(err, &tooBig):
		return errdefs.RequestTooLarge(fmt.Errorf("request body is larger than %d bytes", MaxJSONBody))
	case errors.Is(err, io.EOF):
		if optional {
			return nil
		}
		return errdefs.InvalidParameterf("invalid JSON: request body is empty")
	case err != nil:
		return errdefs.InvalidParameter(fmt.Errorf("invalid JSON: %w", err))
	case dec.More():
		return errdefs.InvalidParameterf("unexpected content after JSON")
	}
	return nil
}

// WriteJSON answers v as JSON with status.
func WriteJSON(w http.ResponseWriter, status int, v any) error {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	return json.NewEncoder(w).Encode(v)
}
