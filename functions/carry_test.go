package functions

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/sockerless/sockerless/internal/controlapi"
	"github.com/sockerless/sockerless/relay/ticket"
)

// TestCarryTicket: a carry ticket is issued only through a shim, for an
// existing container, a known direction and one of its tmpfs mounts (a
// carried bind's destination), and names that direction and directory.
func TestCarryTicket(t *testing.T) {
	a := newTestAPI(t)
	code, body := do(a, "POST", "/containers/create?name=job", `{"Image":"alpine:3.20","Cmd":["true"],"HostConfig":{"Mounts":[{"Type":"tmpfs","Target":"/__w"}]}}`)
	if code != 201 {
		t.Fatalf("create: %d %s", code, body)
	}
	ask := func(path string, shim bool) (int, string) {
		rec := httptest.NewRecorder()
		req := httptest.NewRequest("POST", path, nil)
		if shim {
			req.Header.Set(controlapi.HeaderShim, "1")
		}
		a.ServeHTTP(rec, req)
		return rec.Code, rec.Body.String()
	}
	for _, tc := range []struct {
		name, path string
		shim       bool
		want       int
		msg        string
	}{
		{"no shim", "/_sockerless/carry/job?op=push&dir=/__w", false, 400, "needs the sockerless shim"},
		{"unknown container", "/_sockerless/carry/nope?op=push&dir=/__w", true, 404, "No such container"},
		{"bad direction", "/_sockerless/carry/job?op=sideways&dir=/__w", true, 400, "op must be"},
		{"not a carried mount", "/_sockerless/carry/job?op=push&dir=/etc", true, 400, "not a carried mount"},
		{"push", "/_sockerless/carry/job?op=push&dir=/__w", true, 200, ""},
		{"pull", "/_sockerless/carry/job?op=pull&dir=/__w", true, 200, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, body := ask(tc.path, tc.shim)
			if code != tc.want || !strings.Contains(body, tc.msg) {
				t.Fatalf("%s = %d %s, want %d %q", tc.path, code, body, tc.want, tc.msg)
			}
			if code != http.StatusOK {
				return
			}
			var st controlapi.StreamTicket
			if err := json.Unmarshal([]byte(body), &st); err != nil {
				t.Fatal(err)
			}
			g, err := ticket.Verify([]byte("test-secret"), st.Token, a.st.Now())
			if err != nil {
				t.Fatal(err)
			}
			if g.Kind != ticket.KindCarry || g.Carry == nil || g.Carry.Dir != "/__w" || !strings.Contains(tc.path, "op="+g.Carry.Op) {
				t.Fatalf("grant %+v (carry %+v)", g, g.Carry)
			}
		})
	}
}
