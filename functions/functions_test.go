package functions

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/sockerless/sockerless/providers"
	"github.com/sockerless/sockerless/providers/synthetic"
	"github.com/sockerless/sockerless/relay"
	"github.com/sockerless/sockerless/statestore/memory"
)

// newTestAPI returns an API over a memory store and the synthetic
// provider, with a placeholder alpine:3.20 pulled.
func newTestAPI(t testing.TB) *API {
	t.Helper()
	secret := []byte("test-secret")
	hub := relay.NewHub(secret)
	a, err := New(context.Background(), Config{
		Store:       memory.New(),
		Secret:      secret,
		RelayURL:    "inproc:",
		Dialer:      hub,
		PullTimeout: time.Second,
		HostBinds:   true,
		NewProvider: func(r providers.Reporter) (providers.Provider, error) {
			return synthetic.New(synthetic.Options{Hub: hub, Reporter: r}), nil
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	if code, body := do(a, "POST", "/images/create?fromImage=alpine&tag=3.20", ""); code != 200 {
		t.Fatalf("pull: %d %s", code, body)
	}
	return a
}

func do(h http.Handler, method, path, body string) (int, string) {
	rec := httptest.NewRecorder()
	req := httptest.NewRequest(method, path, strings.NewReader(body))
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	h.ServeHTTP(rec, req)
	return rec.Code, rec.Body.String()
}

// FuzzContainerCreate sends arbitrary create bodies and names: the answer
// is never a server error, and a refused create stores nothing.
func FuzzContainerCreate(f *testing.F) {
	seeds := []struct{ name, body string }{
		{"web", `{"Image":"alpine:3.20","Cmd":["true"]}`},
		{"", `{"Image":"alpine:3.20","Entrypoint":["sh"],"Env":["A=1","PATH"],"Labels":{"a":"b"}}`},
		{"x y", `{"Image":"alpine:3.20"}`},
		{"ok", `{"Image":"alpine:3.20","Cmd":["a"],"HostConfig":{"Binds":["v:/d:ro","/h:/c"],"NetworkMode":"host"}}`},
		{"ok2", `{"Image":"alpine:3.20","Cmd":["a"],"NetworkingConfig":{"EndpointsConfig":{"bridge":{"Aliases":["q"],"IPAMConfig":{"IPv4Address":"172.17.0.9"}}}}}`},
		{"ok3", `{"Image":"alpine:3.20","Cmd":["a"],"HostConfig":{"Mounts":[{"Type":"volume","Source":"","Target":"/m"}]}}`},
		{"", `{"Image":""}`},
		{"", `[]`},
		{"", `{"Image":"alpine:3.20","ExposedPorts":{"80/tcp":{}},"Healthcheck":{"Test":["CMD","true"]}}`},
		{"", `{"Image":"alpine:3.20","Cmd":["a"],"HostConfig":{"Binds":["a/../../../../tmp/x:/x"]}}`},
		{"", `{"Image":"alpine:3.20","Cmd":["a"],"HostConfig":{"Binds":["fresh:/v","/anon","..:/r"]}}`},
		{"", `{"Image":"alpine:3.20","Cmd":["a"],"Volumes":{"/data":{}},"HostConfig":{"Mounts":[{"Type":"volume","Source":".","Target":"/m"}]}}`},
		{"", `{"Image":"alpine:3.20","Cmd":["a"],"HostConfig":{"Binds":["fresh:/v"],"NetworkMode":"nosuchnet"}}`},
	}
	for _, s := range seeds {
		f.Add(s.name, s.body)
	}
	a := newTestAPI(f)
	f.Fuzz(func(t *testing.T, name, body string) {
		ctx := context.Background()
		before, _ := a.st.Containers(ctx)
		beforeVols, _ := a.st.Volumes(ctx)
		code, resp := do(a, "POST", "/containers/create?name="+url.QueryEscape(name), body)
		if code >= 500 {
			t.Fatalf("create %q %q: %d %s", name, body, code, resp)
		}
		after, _ := a.st.Containers(ctx)
		afterVols, _ := a.st.Volumes(ctx)
		if code != http.StatusCreated && (len(after) != len(before) || len(afterVols) != len(beforeVols)) {
			t.Fatalf("refused create (%d) changed the store", code)
		}
		if code == http.StatusCreated {
			var cr struct{ Id string }
			_ = json.Unmarshal([]byte(resp), &cr)
			if c, _ := do(a, "DELETE", "/containers/"+cr.Id+"?force=1&v=1", ""); c != 204 {
				t.Fatalf("cleanup: %d", c)
			}
			for _, v := range afterVols {
				do(a, "DELETE", "/volumes/"+v.Name, "")
			}
		}
	})
}

// BenchmarkCreateInspectRemove measures the handler path of a container's
// create, inspect and forced removal against the memory store.
func BenchmarkCreateInspectRemove(b *testing.B) {
	a := newTestAPI(b)
	b.ReportAllocs()
	for b.Loop() {
		code, body := do(a, "POST", "/containers/create", `{"Image":"alpine:3.20","Cmd":["true"],"Labels":{"a":"b"}}`)
		if code != 201 {
			b.Fatalf("create: %d %s", code, body)
		}
		var cr struct{ Id string }
		_ = json.Unmarshal([]byte(body), &cr)
		if code, _ := do(a, "GET", "/containers/"+cr.Id+"/json", ""); code != 200 {
			b.Fatalf("inspect: %d", code)
		}
		if code, _ := do(a, "DELETE", "/containers/"+cr.Id+"?force=1", ""); code != 204 {
			b.Fatalf("remove: %d", code)
		}
	}
}

// BenchmarkListContainers measures docker ps -a with 200 containers.
func BenchmarkListContainers(b *testing.B) {
	a := newTestAPI(b)
	for i := 0; i < 200; i++ {
		do(a, "POST", "/containers/create", `{"Image":"alpine:3.20","Cmd":["true"],"Labels":{"a":"b"}}`)
	}
	b.ReportAllocs()
	for b.Loop() {
		if code, _ := do(a, "GET", `/containers/json?all=1&filters={"label":["a=b"]}`, ""); code != 200 {
			b.Fatal(code)
		}
	}
}

// TestGeneratedNamesDoNotCollide creates many unnamed containers: a
// generated name that is taken is retried, never a 409.
func TestGeneratedNamesDoNotCollide(t *testing.T) {
	a := newTestAPI(t)
	names := map[string]bool{}
	for i := 0; i < 1500; i++ {
		code, body := do(a, "POST", "/containers/create", `{"Image":"alpine:3.20","Cmd":["true"]}`)
		if code != 201 {
			t.Fatalf("create %d: %d %s", i, code, body)
		}
	}
	cs, _ := a.st.Containers(context.Background())
	for _, c := range cs {
		if names[c.Name] {
			t.Fatalf("duplicate name %s", c.Name)
		}
		names[c.Name] = true
	}
}
