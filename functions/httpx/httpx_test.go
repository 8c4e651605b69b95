package httpx

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/moby/moby/api/types/common"
	"github.com/sockerless/sockerless/internal/errdefs"
)

func TestRouterMatchesDockerPaths(t *testing.T) {
	var rt Router
	got := map[string]string{}
	rt.Handle("GET", "/images/{name:.*}/json", func(w http.ResponseWriter, r *http.Request) error {
		got["image"] = r.PathValue("name")
		return nil
	})
	rt.Handle("POST", "/containers/{id}/start", func(w http.ResponseWriter, r *http.Request) error {
		got["start"] = r.PathValue("id")
		return errdefs.NotFoundf("No such container: %s", r.PathValue("id"))
	})
	tests := []struct {
		method, path string
		status       int
		key, want    string
	}{
		{"GET", "/images/ghcr.io/a/b:1/json", 200, "image", "ghcr.io/a/b:1"},
		{"HEAD", "/images/alpine/json", 200, "image", "alpine"},
		{"POST", "/containers/abc/start", 404, "start", "abc"},
		{"DELETE", "/containers/abc/start", 405, "", ""},
		{"GET", "/nope", 404, "", ""},
	}
	for _, tc := range tests {
		t.Run(tc.method+tc.path, func(t *testing.T) {
			clear(got)
			rec := httptest.NewRecorder()
			rt.ServeHTTP(rec, httptest.NewRequest(tc.method, tc.path, nil))
			if rec.Code != tc.status {
				t.Fatalf("status %d, want %d (%s)", rec.Code, tc.status, rec.Body)
			}
			if tc.key != "" && got[tc.key] != tc.want {
				t.Fatalf("%s = %q, want %q", tc.key, got[tc.key], tc.want)
			}
			if tc.status >= 400 && tc.method != "HEAD" {
				var b common.ErrorResponse
				if err := json.Unmarshal(rec.Body.Bytes(), &b); err != nil || b.Message == "" {
					t.Fatalf("error body %q is not Docker-shaped", rec.Body)
				}
			}
		})
	}
}

func TestWriteErrorNotModifiedHasNoBody(t *testing.T) {
	rec := httptest.NewRecorder()
	WriteError(rec, errdefs.NotModified(errors.New("already started")), 0)
	if rec.Code != 304 || rec.Body.Len() != 0 {
		t.Fatalf("got %d %q", rec.Code, rec.Body)
	}
}

func TestWithVersion(t *testing.T) {
	h := WithVersion(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte(r.URL.Path + " " + APIVersion(r.Context())))
	}))
	tests := []struct {
		path   string
		status int
		body   string
	}{
		{"/_ping", 200, "/_ping " + DefaultAPIVersion},
		{"/v1.50/containers/json", 200, "/containers/json 1.50"},
		{"/v1.24/info", 200, "/info 1.24"},
		{"/v1.12/info", 400, "too old"},
		{"/v1.99/info", 400, "too new"},
		// dockerd 28.2.2's newest version and its refusal of the next.
		{"/v1.51/version", 400, `{"message":"client version 1.51 is too new. Maximum supported API version is 1.50"}`},
	}
	for _, tc := range tests {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest("GET", tc.path, nil))
		if rec.Code != tc.status || !strings.Contains(rec.Body.String(), tc.body) {
			t.Errorf("%s: %d %q, want %d containing %q", tc.path, rec.Code, rec.Body, tc.status, tc.body)
		}
		if rec.Header().Get("Api-Version") != DefaultAPIVersion {
			t.Errorf("%s: no Api-Version header", tc.path)
		}
	}
}

func TestDecodeJSON(t *testing.T) {
	tests := []struct {
		body     string
		optional bool
		status   int
	}{
		{`{"a":1}`, false, 0},
		{``, true, 0},
		{``, false, 400},
		{`{"a":`, false, 400},
		{`{"a":"` + strings.Repeat("x", MaxJSONBody) + `"}`, false, 413},
	}
	for _, tc := range tests {
		var v struct{ A any }
		err := DecodeJSON(httptest.NewRequest("POST", "/", strings.NewReader(tc.body)), &v, tc.optional)
		if got := 0; err != nil {
			got = errdefs.HTTPStatus(err)
			if got != tc.status {
				t.Errorf("body %.20q: status %d, want %d", tc.body, got, tc.status)
			}
		} else if tc.status != 0 {
			t.Errorf("body %.20q: no error, want %d", tc.body, tc.status)
		}
	}
}

func TestParseFilters(t *testing.T) {
	tests := []struct {
		in      string
		wantErr bool
		key     string
		values  []string
	}{
		{``, false, "", nil},
		{`{"label":{"a=b":true}}`, false, "label", []string{"a=b"}},
		{`{"label":["a=b","c"]}`, false, "label", []string{"a=b", "c"}},
		{`{"status":{"exited":true,"running":false}}`, false, "status", []string{"exited"}},
		{`{"label":"x"}`, true, "", nil},
		{`not json`, true, "", nil},
	}
	for _, tc := range tests {
		f, err := ParseFilters(tc.in)
		if (err != nil) != tc.wantErr {
			t.Fatalf("%q: err %v", tc.in, err)
		}
		if err != nil {
			if !errdefs.IsInvalidParameter(err) {
				t.Errorf("%q: error %v is not a 400", tc.in, err)
			}
			continue
		}
		for _, v := range tc.values {
			if !f[tc.key][v] {
				t.Errorf("%q: missing %s=%s", tc.in, tc.key, v)
			}
		}
		if tc.key != "" && len(f[tc.key]) != len(tc.values) {
			t.Errorf("%q: %v", tc.in, f)
		}
	}
}

func TestMatchLabels(t *testing.T) {
	labels := map[string]string{"tier": "front", "app": "web"}
	tests := []struct {
		filter string
		want   bool
	}{
		{`{"label":["tier=front"]}`, true},
		{`{"label":["tier"]}`, true},
		{`{"label":["tier=back"]}`, false},
		{`{"label":["tier=front","app=db"]}`, false},
		{`{"label!":["app=db"]}`, true},
		{`{"label!":["app"]}`, false},
	}
	for _, tc := range tests {
		f, err := ParseFilters(tc.filter)
		if err != nil {
			t.Fatal(err)
		}
		if got := f.MatchLabels(labels); got != tc.want {
			t.Errorf("%s: %v, want %v", tc.filter, got, tc.want)
		}
	}
}

func FuzzParseFilters(f *testing.F) {
	for _, s := range []string{``, `{"label":{"a=b":true}}`, `{"label":["a"]}`, `{"a":1}`, `[`, `{"x":{"y":false}}`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		fl, err := ParseFilters(s)
		if err != nil {
			if !errdefs.IsInvalidParameter(err) {
				t.Fatalf("error %v is not a 400", err)
			}
			return
		}
		_ = fl.MatchLabels(map[string]string{"a": "b"})
		_ = fl.MatchPattern("name", "web")
	})
}

func TestRouterRecoversPanics(t *testing.T) {
	var rt Router
	var logged []string
	rt.OnError = func(r *http.Request, err error) { logged = append(logged, err.Error()) }
	rt.Handle("GET", "/boom", func(w http.ResponseWriter, r *http.Request) error {
		var p *struct{ n int }
		return fmt.Errorf("unreachable: %d", p.n) // nil dereference panics
	})
	rec := httptest.NewRecorder()
	rt.ServeHTTP(rec, httptest.NewRequest("GET", "/boom", nil))
	if rec.Code != 500 || !strings.Contains(rec.Body.String(), "internal error") || strings.Contains(rec.Body.String(), "goroutine") {
		t.Fatalf("got %d %q", rec.Code, rec.Body)
	}
	if len(logged) == 0 || !strings.Contains(logged[0], "goroutine") {
		t.Fatalf("the stack was not logged: %v", logged)
	}
}
