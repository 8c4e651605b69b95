package errdefs_test

import (
	"errors"
	"net/http"
	"testing"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/sockerless/sockerless/internal/errdefs"
)

// TestContainerdClasses: the classes here are containerd/errdefs' (and
// moby's) marker interfaces, not copies with other names: an error
// containerd classifies gets Docker's status here, and an error classified
// here is recognised by containerd/errdefs.
func TestContainerdClasses(t *testing.T) {
	tests := []struct {
		cd     error
		ours   error
		status int
		is     func(error) bool
	}{
		{cerrdefs.ErrNotFound, errdefs.NotFoundf("x"), http.StatusNotFound, cerrdefs.IsNotFound},
		{cerrdefs.ErrInvalidArgument, errdefs.InvalidParameterf("x"), http.StatusBadRequest, cerrdefs.IsInvalidArgument},
		{cerrdefs.ErrConflict, errdefs.Conflictf("x"), http.StatusConflict, cerrdefs.IsConflict},
		{cerrdefs.ErrUnauthenticated, errdefs.Unauthorized(errors.New("x")), http.StatusUnauthorized, cerrdefs.IsUnauthorized},
		{cerrdefs.ErrPermissionDenied, errdefs.Forbidden(errors.New("x")), http.StatusForbidden, cerrdefs.IsPermissionDenied},
		{cerrdefs.ErrUnavailable, errdefs.Unavailablef("x"), http.StatusServiceUnavailable, cerrdefs.IsUnavailable},
		{cerrdefs.ErrNotImplemented, errdefs.NotImplementedf("x"), http.StatusNotImplemented, cerrdefs.IsNotImplemented},
		{cerrdefs.ErrNotModified, errdefs.NotModified(errors.New("x")), http.StatusNotModified, cerrdefs.IsNotModified},
	}
	for _, tc := range tests {
		if got := errdefs.HTTPStatus(tc.cd); got != tc.status {
			t.Errorf("HTTPStatus(containerd %v) = %d, want %d", tc.cd, got, tc.status)
		}
		if !tc.is(tc.ours) {
			t.Errorf("containerd does not recognise %d-class error %v", tc.status, tc.ours)
		}
	}
}
