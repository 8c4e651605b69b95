package functions

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/sockerless/sockerless/internal/controlapi"
)

// Embedded mode (no network relay): a shim's question is answered
// "direct", and a request naming a blob is refused, since nothing holds
// blobs there.
func TestBlobBodiesEmbedded(t *testing.T) {
	a := newTestAPI(t)
	for _, p := range []string{"/images/load", "/build?t=x"} {
		req := httptest.NewRequest("POST", p, nil)
		req.Header.Set(controlapi.HeaderBlobTicket, "1")
		rec := httptest.NewRecorder()
		a.ServeHTTP(rec, req)
		if p == "/build?t=x" {
			// The synthetic provider refuses builds before the body
			// matters.
			if rec.Code != http.StatusNotImplemented {
				t.Fatalf("%s: %d %s", p, rec.Code, rec.Body)
			}
			continue
		}
		if rec.Code != http.StatusNoContent || rec.Header().Get(controlapi.HeaderBlobTicket) != controlapi.BlobDirect {
			t.Fatalf("%s: %d %q; want 204 direct", p, rec.Code, rec.Header().Get(controlapi.HeaderBlobTicket))
		}
	}
	req := httptest.NewRequest("POST", "/images/load", nil)
	req.Header.Set(controlapi.HeaderBlob, strings.Repeat("ab", 16))
	rec := httptest.NewRecorder()
	a.ServeHTTP(rec, req)
	if rec.Code != http.StatusBadRequest || !strings.Contains(rec.Body.String(), "no relay") {
		t.Fatalf("a blob named in embedded mode: %d %s", rec.Code, rec.Body)
	}
}
