package agent

import (
	"bytes"
	"io"
	"strconv"
	"sync"
)

// TagLines returns a writer that writes what it gets to w one tagged line
// at a time: "S data\n" for a complete line of stream S (1 stdout, 2
// stderr) and "S+data\n" for a fragment whose line continues in a later
// write. A log service that cuts the workload's output into one event per
// line and mixes stdout and stderr (Docker's awslogs driver in ECS) then
// keeps both the streams and the exact bytes apart; ParseTaggedLine reads
// them back. Writers sharing w must share mu, so lines never interleave.
func TagLines(w io.Writer, mu *sync.Mutex, stream int) io.Writer {
	return &tagWriter{w: w, mu: mu, tag: strconv.Itoa(stream)}
}

type tagWriter struct {
	w   io.Writer
	mu  *sync.Mutex
	tag string
}

func (t *tagWriter) Write(p []byte) (int, error) {
	var buf bytes.Buffer
	for rest := p; len(rest) > 0; {
		i := bytes.IndexByte(rest, '\n')
		buf.WriteString(t.tag)
		if i < 0 {
			buf.WriteByte('+')
			buf.Write(rest)
			buf.WriteByte('\n')
			break
		}
		buf.WriteByte(' ')
		buf.Write(rest[:i+1])
		rest = rest[i+1:]
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if _, err := t.w.Write(buf.Bytes()); err != nil {
		return 0, err
	}
	return len(p), nil
}

// ParseTaggedLine reads one line written by TagLines (without its final
// newline, as a log service stores it) and returns its stream and its
// original bytes. A line that is not tagged is returned whole as stdout
// with its newline restored: output the agent did not write (its own
// diagnostics) is kept, not dropped.
func ParseTaggedLine(line []byte) (stream int, data []byte) {
	if len(line) >= 2 && (line[0] == '1' || line[0] == '2') && (line[1] == ' ' || line[1] == '+') {
		stream = int(line[0] - '0')
		data = append([]byte(nil), line[2:]...)
		if line[1] == ' ' {
			data = append(data, '\n')
		}
		return stream, data
	}
	return 1, append(append([]byte(nil), line...), '\n')
}
