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

// Write writes one frame. Payloads longer than MaxPayload are split into
// several frames of the same type.
func Write(w io.Writer, t Type, payload []byte) error {
	for {
		n := min(len(payload), MaxPayload)
		buf := make([]byte, HeaderSize+n)
		buf[0] = byte(t)
		binary.BigEndian.PutUint32(buf[1:], uint32(n))
		copy(buf[HeaderSize:], payload[:n])
		if _, err := w.Write(buf); err != nil {
			return err
		}
		payload = payload[n:]
		if len(payload) == 0 {
			return nil
		}
	}
}

// WriteJSON writes one frame whose payload is v encoded as JSON.
func WriteJSON(w io.Writer, t Type, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return Write(w, t, b)
}

// Read reads one frame. It returns io.EOF only at a frame boundary and
// io.ErrUnexpectedEOF for a truncated frame.
func Read(r io.Reader) (Frame, error) {
	var hdr [HeaderSize]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return Frame{}, err
	}
	n := binary.BigEndian.Uint32(hdr[1:])
	if n > MaxPayload {
		return Frame{}, fmt.Errorf("%w: %d bytes", ErrTooLarge, n)
	}
	f := Frame{Type: Type(hdr[0]), Payload: make([]byte, n)}
	if _, err := io.ReadFull(r, f.Payload); err != nil {
		if errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		return Frame{}, err
	}
	return f, nil
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
