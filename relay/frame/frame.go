// Package frame is the binary framing spoken on every Sockerless stream
// between the shim, the relay and an agent: a one-byte type, a big-endian
// uint32 payload length, then the payload. Payloads are capped so that
// memory per stream stays bounded.
package frame

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sync"
)

// Type says what a frame carries.
type Type uint8

// Frame types. Stdout and Stderr match Docker's stream numbers so the shim
// can copy them into multiplexed Docker frames unchanged.
const (
	Stdin      Type = 0  // client input
	Stdout     Type = 1  // process standard output
	Stderr     Type = 2  // process standard error
	CloseStdin Type = 3  // client half-closed: close the process's stdin
	Resize     Type = 4  // JSON Size
	Signal     Type = 5  // decimal signal number
	Exit       Type = 6  // decimal exit code; last frame of a session
	Error      Type = 7  // UTF-8 message; last frame of a session
	Spec       Type = 8  // JSON session description, first frame to an agent
	Ready      Type = 9  // the workload side has the process; no payload
	ResultType Type = 10 // JSON Result: an archive operation's outcome, before its data
)

func (t Type) String() string {
	names := [...]string{"stdin", "stdout", "stderr", "close-stdin", "resize", "signal", "exit", "error", "spec", "ready", "result"}
	if int(t) < len(names) {
		return names[t]
	}
	return fmt.Sprintf("type(%d)", uint8(t))
}

// MaxPayload is the largest payload a frame may carry (1 MiB). Writers split
// larger writes; readers refuse larger frames.
const MaxPayload = 1 << 20

// HeaderSize is the size of a frame header.
const HeaderSize = 5

// ErrTooLarge is returned for a frame whose declared length exceeds MaxPayload.
var ErrTooLarge = errors.New("frame: payload exceeds limit")

// Frame is one decoded frame.
type Frame struct {
	Type    Type
	Payload []byte
}

// Size is a terminal size, the payload of a Resize frame.
type Size struct {
	Height uint `json:"h"`
	Width  uint `json:"w"`
}

// Result is the payload of a Result frame: the HTTP status an archive
// operation answers with, Docker's error message when it failed, and the
// path's stat (a JSON providers.PathStat, for X-Docker-Container-Path-Stat)
// when it succeeded.
type Result struct {
	Status  int             `json:"status"`
	Message string          `json:"message,omitempty"`
	Stat    json.RawMessage `json:"stat,omitempty"`
}

// FrameWriter is implemented by writers that send one whole frame
// themselves, without the caller assembling header and payload in one
// buffer (wsclient.Conn sends each frame as one WebSocket message).
// WriteFrame is called with at most MaxPayload bytes and must not retain
// payload.
type FrameWriter interface {
	WriteFrame(t Type, payload []byte) error
}

// PutHeader encodes the header of a frame of type t carrying n payload
// bytes into hdr.
func PutHeader(hdr *[HeaderSize]byte, t Type, n int) {
	hdr[0] = byte(t)
	binary.BigEndian.PutUint32(hdr[1:], uint32(n))
}

// smallFrame is the largest frame assembled in a pooled buffer by Write;
// larger ones (rare: a process pipe delivers at most 64 KiB per read) are
// written as header and payload in two writes of a bufferless path.
const smallFrame = 64<<10 + HeaderSize

var framePool = sync.Pool{New: func() any { b := make([]byte, smallFrame); return &b }}

// Write writes one frame. Payloads longer than MaxPayload are split into
// several frames of the same type. When w is a FrameWriter each frame is
// handed to it; otherwise each frame is one w.Write (so a writer that
// serialises whole Writes keeps frames whole) from a pooled buffer.
func Write(w io.Writer, t Type, payload []byte) error {
	fw, direct := w.(FrameWriter)
	for {
		n := min(len(payload), MaxPayload)
		if direct {
			if err := fw.WriteFrame(t, payload[:n]); err != nil {
				return err
			}
		} else if err := writeOne(w, t, payload[:n]); err != nil {
			return err
		}
		payload = payload[n:]
		if len(payload) == 0 {
			return nil
		}
	}
}

func writeOne(w io.Writer, t Type, p []byte) error {
	var buf []byte
	if HeaderSize+len(p) <= smallFrame {
		bp := framePool.Get().(*[]byte)
		defer framePool.Put(bp)
		buf = (*bp)[:HeaderSize+len(p)]
	} else {
		buf = make([]byte, HeaderSize+len(p))
	}
	PutHeader((*[HeaderSize]byte)(buf), t, len(p))
	copy(buf[HeaderSize:], p)
	_, err := w.Write(buf)
	return err
}

// WriteJSON writes one frame whose payload is v encoded as JSON.
func WriteJSON(w io.Writer, t Type, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return Write(w, t, b)
}

// Read reads one frame into a new payload buffer. It returns io.EOF only
// at a frame boundary and io.ErrUnexpectedEOF for a truncated frame.
func Read(r io.Reader) (Frame, error) {
	var hdr [HeaderSize]byte
	t, n, err := readHeader(r, &hdr)
	if err != nil {
		return Frame{}, err
	}
	f := Frame{Type: t, Payload: make([]byte, n)}
	if err := readPayload(r, f.Payload); err != nil {
		return Frame{}, err
	}
	return f, nil
}

func readHeader(r io.Reader, hdr *[HeaderSize]byte) (Type, int, error) {
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return 0, 0, err
	}
	n := binary.BigEndian.Uint32(hdr[1:])
	if n > MaxPayload {
		return 0, 0, fmt.Errorf("%w: %d bytes", ErrTooLarge, n)
	}
	return Type(hdr[0]), int(n), nil
}

func readPayload(r io.Reader, p []byte) error {
	if _, err := io.ReadFull(r, p); err != nil {
		if errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		return err
	}
	return nil
}

// Reader reads frames like Read but into one buffer it reuses, so a
// stream of frames allocates nothing: the Payload Next returns is valid
// only until the following call. The buffer grows to the largest payload
// seen (at most MaxPayload). It reads exactly the frames' bytes, nothing
// ahead, so R can be handed on between frames.
type Reader struct {
	R   io.Reader
	hdr [HeaderSize]byte
	buf []byte
}

// Next reads the next frame, with Read's errors.
func (r *Reader) Next() (Frame, error) {
	t, n, err := readHeader(r.R, &r.hdr)
	if err != nil {
		return Frame{}, err
	}
	if cap(r.buf) < n {
		r.buf = make([]byte, max(n, 4<<10))
	}
	p := r.buf[:n]
	if err := readPayload(r.R, p); err != nil {
		return Frame{}, err
	}
	return Frame{Type: t, Payload: p}, nil
}

// Writer adapts a frame stream to io.Writer: each Write becomes frames of
// one type. It is how a process's stdout or stderr is sent.
type Writer struct {
	W    io.Writer
	Type Type
}

func (fw Writer) Write(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	if err := Write(fw.W, fw.Type, p); err != nil {
		return 0, err
	}
	return len(p), nil
}
