package integration

import (
	"io"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/sockerless/sockerless/internal/embedded"
)

// reportLatencies adds p50/p99 (ms) and requests/s to b from per-request
// durations.
func reportLatencies(b *testing.B, ds []time.Duration, total time.Duration) {
	if len(ds) == 0 {
		return
	}
	sort.Slice(ds, func(i, j int) bool { return ds[i] < ds[j] })
	b.ReportMetric(float64(ds[len(ds)/2].Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(ds[len(ds)*99/100].Microseconds())/1000, "p99-ms")
	b.ReportMetric(float64(len(ds))/total.Seconds(), "req/s")
}

// seed creates n containers directly through the functions handler.
func seed(b *testing.B, s *server, n int) {
	b.Helper()
	s.docker(b, "", "pull", "alpine:3.20")
	for i := 0; i < n; i++ {
		rec := httptest.NewRecorder()
		req := httptest.NewRequest("POST", "/containers/create", strings.NewReader(`{"Image":"alpine:3.20","Cmd":["sleep","1"],"Labels":{"bench":"yes"}}`))
		req.Header.Set("Content-Type", "application/json")
		s.s.API.ServeHTTP(rec, req)
		if rec.Code != 201 {
			b.Fatalf("create: %d %s", rec.Code, rec.Body)
		}
	}
}

// BenchmarkContainerList1000 measures GET /containers/json?all=1 with
// 1,000 containers, calling the functions handler directly and through
// the shim's unix socket; the difference is the shim's cost.
func BenchmarkContainerList1000(b *testing.B) {
	s := startServer(b, embedded.Options{Synthetic: true})
	seed(b, s, 1000)
	b.Run("handler", func(b *testing.B) {
		var ds []time.Duration
		start := time.Now()
		for b.Loop() {
			t0 := time.Now()
			rec := httptest.NewRecorder()
			s.s.API.ServeHTTP(rec, httptest.NewRequest("GET", "/v1.50/containers/json?all=1", nil))
			if rec.Code != 200 {
				b.Fatal(rec.Code)
			}
			ds = append(ds, time.Since(t0))
		}
		reportLatencies(b, ds, time.Since(start))
	})
	b.Run("shim", func(b *testing.B) {
		c := s.httpClient()
		var ds []time.Duration
		start := time.Now()
		for b.Loop() {
			t0 := time.Now()
			resp, err := c.Get("http://docker/v1.50/containers/json?all=1")
			if err != nil || resp.StatusCode != 200 {
				b.Fatal(err, resp)
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			ds = append(ds, time.Since(t0))
		}
		reportLatencies(b, ds, time.Since(start))
	})
}

// BenchmarkPingShimOverhead isolates the shim: /_ping through the socket
// versus the handler directly.
func BenchmarkPingShimOverhead(b *testing.B) {
	s := startServer(b, embedded.Options{Synthetic: true})
	b.Run("handler", func(b *testing.B) {
		var ds []time.Duration
		start := time.Now()
		for b.Loop() {
			t0 := time.Now()
			rec := httptest.NewRecorder()
			s.s.API.ServeHTTP(rec, httptest.NewRequest("GET", "/_ping", nil))
			ds = append(ds, time.Since(t0))
		}
		reportLatencies(b, ds, time.Since(start))
	})
	b.Run("shim", func(b *testing.B) {
		c := s.httpClient()
		var ds []time.Duration
		start := time.Now()
		for b.Loop() {
			t0 := time.Now()
			resp, err := c.Get("http://docker/_ping")
			if err != nil {
				b.Fatal(err)
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			ds = append(ds, time.Since(t0))
		}
		reportLatencies(b, ds, time.Since(start))
	})
}

// BenchmarkCreateRemove measures create + forced remove through the shim.
func BenchmarkCreateRemove(b *testing.B) {
	s := startServer(b, embedded.Options{Synthetic: true})
	s.docker(b, "", "pull", "alpine:3.20")
	c := s.httpClient()
	var ds []time.Duration
	start := time.Now()
	for b.Loop() {
		t0 := time.Now()
		resp, err := c.Post("http://docker/v1.50/containers/create", "application/json", strings.NewReader(`{"Image":"alpine:3.20","Cmd":["true"]}`))
		if err != nil || resp.StatusCode != 201 {
			b.Fatal(err, resp)
		}
		var id struct{ Id string }
		decodeJSON(b, resp.Body, &id)
		resp.Body.Close()
		req, _ := http.NewRequest("DELETE", "http://docker/v1.50/containers/"+id.Id+"?force=1", nil)
		resp, err = c.Do(req)
		if err != nil || resp.StatusCode != 204 {
			b.Fatal(err, resp)
		}
		resp.Body.Close()
		ds = append(ds, time.Since(t0))
	}
	reportLatencies(b, ds, time.Since(start))
}

// BenchmarkCLIPs1000 is the end-to-end wall time of `docker ps -a` with
// 1,000 containers, CLI start-up included. Target: under 100 ms.
func BenchmarkCLIPs1000(b *testing.B) {
	s := startServer(b, embedded.Options{Synthetic: true})
	seed(b, s, 1000)
	var ds []time.Duration
	start := time.Now()
	for b.Loop() {
		t0 := time.Now()
		if out, rc := s.docker(b, "", "ps", "-a"); rc != 0 {
			b.Fatalf("ps: %d %s", rc, out)
		}
		ds = append(ds, time.Since(t0))
	}
	reportLatencies(b, ds, time.Since(start))
}

// BenchmarkCLIRunRm times `docker run --rm alpine:3.20 true` end to end
// through the real CLI, the shim, functions, the relay (attach) and the
// synthetic provider (which holds each main process 50 ms).
func BenchmarkCLIRunRm(b *testing.B) {
	s := startServer(b, embedded.Options{Synthetic: true})
	s.docker(b, "", "pull", "alpine:3.20")
	for b.Loop() {
		if out, rc := s.docker(b, "", "run", "--rm", "alpine:3.20", "true"); rc != 0 {
			b.Fatalf("run: %d %s", rc, out)
		}
	}
}
