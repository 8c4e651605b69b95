package errdefs

import (
	"errors"
	"fmt"
	"net/http"
	"testing"
)

func TestHTTPStatus(t *testing.T) {
	base := errors.New("boom")
	tests := []struct {
		name string
		err  error
		want int
	}{
		{"nil", nil, http.StatusOK},
		{"plain", base, http.StatusInternalServerError},
		{"not found", NotFound(base), http.StatusNotFound},
		{"invalid", InvalidParameterf("bad %d", 1), http.StatusBadRequest},
		{"conflict", Conflict(base), http.StatusConflict},
		{"unauthorized", Unauthorized(base), http.StatusUnauthorized},
		{"forbidden", Forbidden(base), http.StatusForbidden},
		{"unavailable", Unavailable(base), http.StatusServiceUnavailable},
		{"not implemented", NotImplemented(base), http.StatusNotImplemented},
		{"not modified", NotModified(base), http.StatusNotModified},
		{"too large", RequestTooLarge(base), http.StatusRequestEntityTooLarge},
		{"wrapped by fmt", fmt.Errorf("ctx: %w", NotFound(base)), http.StatusNotFound},
		{"outermost wins", Conflict(NotFound(base)), http.StatusConflict},
		{"joined", errors.Join(base, NotFound(base)), http.StatusNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := HTTPStatus(tt.err); got != tt.want {
				t.Errorf("HTTPStatus(%v) = %d, want %d", tt.err, got, tt.want)
			}
		})
	}
}

func TestWrapKeepsChain(t *testing.T) {
	base := errors.New("boom")
	if !errors.Is(NotFound(base), base) {
		t.Fatal("errors.Is(NotFound(base), base) = false, want true")
	}
	if NotFound(nil) != nil {
		t.Fatal("NotFound(nil) != nil")
	}
	if got := NotFoundf("No such container: %s", "x").Error(); got != "No such container: x" {
		t.Fatalf("message = %q", got)
	}
}
