package lambdahttp_test

import (
	"context"
	"encoding/base64"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/events"
	"github.com/sockerless/sockerless/internal/lambdahttp"
)

// echo answers what it received, so a response through Lambda events can
// be compared with the same request over plain HTTP.
func echo() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("X-Cursor", r.Header.Get("X-Sockerless-Cursor"))
		w.Header().Set("X-Query", r.URL.Query().Get("filters"))
		switch r.URL.Path {
		case "/binary":
			w.Header().Set("Content-Type", "application/x-tar")
			w.WriteHeader(http.StatusOK)
			_, _ = w.Write([]byte{0, 0xff, 0xfe, 1})
			return
		case "/big":
			w.WriteHeader(http.StatusOK)
			_, _ = w.Write([]byte(strings.Repeat("x", 300)))
			return
		}
		w.WriteHeader(http.StatusCreated)
		_, _ = io.WriteString(w, r.Method+" "+r.URL.Path+" "+string(body))
	})
}

type result struct {
	status  int
	body    string
	headers map[string]string
}

func viaHTTP(t *testing.T, method, target, body string, hdr map[string]string) result {
	t.Helper()
	srv := httptest.NewServer(echo())
	defer srv.Close()
	req, _ := http.NewRequest(method, srv.URL+target, strings.NewReader(body))
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return result{resp.StatusCode, string(b), map[string]string{
		"Content-Type": resp.Header.Get("Content-Type"), "X-Cursor": resp.Header.Get("X-Cursor"), "X-Query": resp.Header.Get("X-Query")}}
}

func TestEventsMatchPlainHTTP(t *testing.T) {
	h := lambdahttp.New(echo(), lambdahttp.Options{})
	tests := []struct {
		name, method, path, query, body string
		headers                         map[string]string
		base64                          bool
	}{
		{"post json", "POST", "/v1.50/containers/create", "name=web", `{"Image":"alpine"}`, map[string]string{"Content-Type": "application/json"}, false},
		{"base64 body", "POST", "/v1.50/containers/create", "", `{"Image":"alpine"}`, nil, true},
		{"json cursor header keeps its commas", "POST", "/v1.50/containers/x/wait", "",
			"", map[string]string{"X-Sockerless-Cursor": `{"id":"x","s":1,"c":0,"t":5}`}, false},
		{"encoded query", "GET", "/v1.50/containers/json", "filters=%7B%22name%22%3A%7B%22a%2Cb%22%3Atrue%7D%7D", "", nil, false},
		{"binary response", "GET", "/binary", "", "", nil, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			want := viaHTTP(t, tt.method, tt.path+"?"+tt.query, tt.body, tt.headers)
			body := tt.body
			if tt.base64 {
				body = base64.StdEncoding.EncodeToString([]byte(tt.body))
			}
			hdr := map[string]string{}
			for k, v := range tt.headers {
				hdr[strings.ToLower(k)] = v
			}
			for name, invoke := range map[string]func() (int, string, bool, map[string]string){
				"function url": func() (int, string, bool, map[string]string) {
					ev := events.LambdaFunctionURLRequest{Version: "2.0", RawPath: tt.path, RawQueryString: tt.query, Headers: hdr, Body: body, IsBase64Encoded: tt.base64}
					ev.RequestContext.HTTP.Method, ev.RequestContext.HTTP.Path = tt.method, tt.path
					resp, err := h.InvokeFunctionURL(context.Background(), ev)
					if err != nil {
						t.Fatal(err)
					}
					return resp.StatusCode, resp.Body, resp.IsBase64Encoded, resp.Headers
				},
				"http api v2": func() (int, string, bool, map[string]string) {
					ev := events.APIGatewayV2HTTPRequest{Version: "2.0", RouteKey: "$default", RawPath: tt.path, RawQueryString: tt.query, Headers: hdr, Body: body, IsBase64Encoded: tt.base64}
					ev.RequestContext.HTTP.Method, ev.RequestContext.HTTP.Path = tt.method, tt.path
					resp, err := h.Invoke(context.Background(), ev)
					if err != nil {
						t.Fatal(err)
					}
					return resp.StatusCode, resp.Body, resp.IsBase64Encoded, resp.Headers
				},
			} {
				status, rbody, isB64, headers := invoke()
				got := rbody
				if isB64 {
					b, err := base64.StdEncoding.DecodeString(rbody)
					if err != nil {
						t.Fatal(err)
					}
					got = string(b)
				}
				if status != want.status || got != want.body {
					t.Errorf("%s: %d %q, plain HTTP: %d %q", name, status, got, want.status, want.body)
				}
				for k, v := range want.headers {
					if headers[k] != v {
						t.Errorf("%s: header %s = %q, plain HTTP %q", name, k, headers[k], v)
					}
				}
			}
		})
	}
}

func TestResponseOverLimit(t *testing.T) {
	h := lambdahttp.New(echo(), lambdahttp.Options{MaxResponse: 100})
	ev := events.APIGatewayV2HTTPRequest{RawPath: "/big"}
	ev.RequestContext.HTTP.Method = "GET"
	resp, err := h.Invoke(context.Background(), ev)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusRequestEntityTooLarge || !strings.Contains(resp.Body, "exceeds the Lambda response limit") {
		t.Fatalf("over-limit response = %d %s", resp.StatusCode, resp.Body)
	}
}
