package localshim

import (
	"io"
	"net/http"
	"sync"
)

// HandlerTransport is an http.RoundTripper that serves requests with an
// in-process http.Handler, streaming the response body as the handler
// writes it. The embedded mode uses it so the shim → functions boundary is
// the same http.Request/Response contract as in the cloud.
type HandlerTransport struct {
	Handler http.Handler
}

// RoundTrip runs the handler in a goroutine and returns as soon as it has
// written its header (or returned).
func (t HandlerTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	pr, pw := io.Pipe()
	rw := &pipeWriter{header: http.Header{}, body: pw, ready: make(chan struct{}), req: req}
	// Give the handler a server-side view of the request.
	sreq := req.Clone(req.Context())
	sreq.RequestURI = req.URL.RequestURI()
	if sreq.Body == nil {
		sreq.Body = http.NoBody
	}
	go func() {
		defer func() {
			rw.WriteHeader(http.StatusOK) // no-op when already written
			pw.Close()
		}()
		t.Handler.ServeHTTP(rw, sreq)
	}()
	<-rw.ready
	return rw.resp(pr), nil
}

// pipeWriter is the handler's http.ResponseWriter.
type pipeWriter struct {
	header http.Header
	body   *io.PipeWriter
	req    *http.Request
	once   sync.Once
	ready  chan struct{}
	status int
	snap   http.Header
}

func (w *pipeWriter) Header() http.Header { return w.header }

func (w *pipeWriter) WriteHeader(code int) {
	w.once.Do(func() {
		w.status = code
		w.snap = w.header.Clone()
		close(w.ready)
	})
}

func (w *pipeWriter) Write(p []byte) (int, error) {
	w.WriteHeader(http.StatusOK)
	return w.body.Write(p)
}

// Flush is a no-op: every Write already reaches the reader.
func (w *pipeWriter) Flush() {}

func (w *pipeWriter) resp(body io.ReadCloser) *http.Response {
	return &http.Response{
		Status:        http.StatusText(w.status),
		StatusCode:    w.status,
		Proto:         "HTTP/1.1",
		ProtoMajor:    1,
		ProtoMinor:    1,
		Header:        w.snap,
		Body:          body,
		ContentLength: -1,
		Request:       w.req,
	}
}
