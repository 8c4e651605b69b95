package httpx

import (
	"fmt"
	"net/http"
	"regexp"
	"runtime/debug"
	"strings"

	"github.com/sockerless/sockerless/internal/errdefs"
)

// HandlerFunc serves one request. A returned error is answered by the
// router with Docker's error shape, unless the handler already wrote a
// response (then it is only logged by the caller's middleware).
type HandlerFunc func(w http.ResponseWriter, r *http.Request) error

// Router matches method and path patterns. Patterns are paths with
// {name} segments (one path segment) and {name:.*} wildcards (any
// characters, including slashes; matched non-greedily left to right so
// "/images/{name:.*}/json" splits "a/b/json"). Path values are available
// with r.PathValue. The zero value is an empty router.
type Router struct {
	routes []route
	// OnError, when set, is told about every error a handler returns.
	OnError func(r *http.Request, err error)
}

type route struct {
	method string
	re     *regexp.Regexp
	names  []string
	h      HandlerFunc
}

var segment = regexp.MustCompile(`\{([a-zA-Z]+)(:\.\*)?\}`)

// Handle registers h for method and pattern. It panics on a malformed
// pattern, which is a programming error.
func (rt *Router) Handle(method, pattern string, h HandlerFunc) {
	var names []string
	var b strings.Builder
	b.WriteString("^")
	last := 0
	for _, m := range segment.FindAllStringSubmatchIndex(pattern, -1) {
		b.WriteString(regexp.QuoteMeta(pattern[last:m[0]]))
		names = append(names, pattern[m[2]:m[3]])
		if m[4] >= 0 {
			b.WriteString("(.+?)")
		} else {
			b.WriteString("([^/]+)")
		}
		last = m[1]
	}
	b.WriteString(regexp.QuoteMeta(pattern[last:]))
	b.WriteString("$")
	rt.routes = append(rt.routes, route{method: method, re: regexp.MustCompile(b.String()), names: names, h: h})
}

// ServeHTTP dispatches to the first matching route. An unknown path is
// 404 "page not found", as Docker answers; a known path with another
// method is 405.
func (rt *Router) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	path := r.URL.Path
	pathMatched := false
	for _, rte := range rt.routes {
		m := rte.re.FindStringSubmatch(path)
		if m == nil {
			continue
		}
		pathMatched = true
		if rte.method != r.Method && !(rte.method == http.MethodGet && r.Method == http.MethodHead) {
			continue
		}
		for i, n := range rte.names {
			r.SetPathValue(n, m[i+1])
		}
		rt.serve(w, r, rte.h)
		return
	}
	if pathMatched {
		WriteError(w, errdefs.InvalidParameter(fmt.Errorf("method %s not allowed for %s", r.Method, path)), http.StatusMethodNotAllowed)
		return
	}
	WriteError(w, errdefs.NotFoundf("page not found"), 0)
}

func (rt *Router) serve(w http.ResponseWriter, r *http.Request, h HandlerFunc) {
	tw := &trackingWriter{ResponseWriter: w}
	err := func() (err error) {
		// A handler bug answers 500 for its request; it never takes the
		// process (and every other container's requests) down with it.
		defer func() {
			if p := recover(); p != nil {
				if rt.OnError != nil {
					rt.OnError(r, fmt.Errorf("panic: %v\n%s", p, debug.Stack()))
				}
				err = fmt.Errorf("internal error in sockerless while serving %s %s", r.Method, r.URL.Path)
			}
		}()
		return h(tw, r)
	}()
	if err == nil {
		return
	}
	if rt.OnError != nil {
		rt.OnError(r, err)
	}
	if tw.wrote {
		return
	}
	WriteError(w, err, 0)
}

// trackingWriter remembers whether a response has begun, so a late error
// is not written into a body.
type trackingWriter struct {
	http.ResponseWriter
	wrote bool
}

func (t *trackingWriter) WriteHeader(code int) {
	t.wrote = true
	t.ResponseWriter.WriteHeader(code)
}

func (t *trackingWriter) Write(p []byte) (int, error) {
	t.wrote = true
	return t.ResponseWriter.Write(p)
}

// Unwrap lets http.ResponseController reach Flush and Hijack.
func (t *trackingWriter) Unwrap() http.ResponseWriter { return t.ResponseWriter }

// Flush forwards to the underlying writer when it can flush.
func (t *trackingWriter) Flush() {
	t.wrote = true
	_ = http.NewResponseController(t.ResponseWriter).Flush()
}
