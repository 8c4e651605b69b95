package core

import (
	"encoding/json"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/moby/moby/api/types/jsonstream"
)

// TestProgress: messages go out one JSON value a line, and a failure
// carries both errorDetail and the top-level error dockerd sends.
func TestProgress(t *testing.T) {
	rec := httptest.NewRecorder()
	p := NewProgress(rec)
	aux := json.RawMessage(`{"ID":"sha256:1"}`)
	p.Send(jsonstream.Message{Status: "Pull complete", ID: "abc"})
	p.Send(jsonstream.Message{Aux: &aux})
	p.Fail("no space", 1)
	want := []string{
		`{"status":"Pull complete","id":"abc"}`,
		`{"aux":{"ID":"sha256:1"}}`,
		`{"errorDetail":{"code":1,"message":"no space"},"error":"no space"}`,
	}
	got := strings.Split(strings.TrimSpace(rec.Body.String()), "\n")
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("stream = %q, want %q", got, want)
	}
	if ct := rec.Header().Get("Content-Type"); ct != "application/json" || rec.Code != 200 {
		t.Fatalf("answer = %d %q, want 200 application/json", rec.Code, ct)
	}
}
