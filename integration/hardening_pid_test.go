package integration

import (
	"bufio"
	"context"
	"io"
	"strconv"
	"strings"
	"testing"

	"github.com/moby/moby/api/pkg/stdcopy"
	"github.com/moby/moby/client"
)

// TestHardeningRealPIDs is issue 12 finding 18's process ids: a running
// container's State.Pid and a running exec's Pid are the PIDs the
// container's process table has (the ones `docker top` lists and `$$`
// shows), not a start counter + 1000 and a constant 1; stopped, both are 0.
func TestHardeningRealPIDs(t *testing.T) {
	s := memoryServer(t)
	cli, err := client.New(client.WithHost(s.dockerHost))
	if err != nil {
		t.Fatal(err)
	}
	defer cli.Close()
	ctx := context.Background()
	runSteps(t, s, []step{
		d(0, ``, "run", "-d", "--name", "pids", "alpine:3.20", "sleep", "600"),
		// The main process is PID 1 of the container, as top lists it.
		d(0, `^1$`, "inspect", "-f", "{{.State.Pid}}", "pids"),
		d(0, `(?m)^root\s+1\s+0\s+.*sleep 600$`, "top", "pids"),
	})

	ex, err := cli.ExecCreate(ctx, "pids", client.ExecCreateOptions{Cmd: []string{"sh", "-c", "echo $$; read x"}, AttachStdin: true, AttachStdout: true})
	if err != nil {
		t.Fatal(err)
	}
	att, err := cli.ExecAttach(ctx, ex.ID, client.ExecAttachOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer att.Close()
	pr, pw := io.Pipe()
	go func() { _, err := stdcopy.StdCopy(pw, io.Discard, att.Reader); pw.CloseWithError(err) }()
	// The first line is written by the running exec: it is running now.
	br := bufio.NewReader(pr)
	line, err := br.ReadString('\n')
	if err != nil {
		t.Fatalf("exec output: %v", err)
	}
	shellPID, err := strconv.Atoi(strings.TrimSpace(line))
	if err != nil || shellPID <= 1 {
		t.Fatalf("exec's $$ = %q", line)
	}
	i, err := cli.ExecInspect(ctx, ex.ID, client.ExecInspectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if !i.Running || i.PID != shellPID {
		t.Fatalf("exec inspect: running %v, Pid %d; the exec's shell is PID %d", i.Running, i.PID, shellPID)
	}
	runSteps(t, s, []step{
		d(0, `(?m)^root\s+`+strconv.Itoa(shellPID)+`\s+0\s+.*sh -c echo \$\$; read x$`, "top", "pids"),
	})
	// A line ends the exec; its stream ends with its process.
	if _, err := att.Conn.Write([]byte("\n")); err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(io.Discard, br); err != nil {
		t.Fatal(err)
	}
	if i, err = cli.ExecInspect(ctx, ex.ID, client.ExecInspectOptions{}); err != nil || i.PID != 0 {
		t.Fatalf("exec after its end: %+v, %v", i, err)
	}
	runSteps(t, s, []step{
		d(0, ``, "stop", "-t", "0", "pids"),
		d(0, `^0$`, "inspect", "-f", "{{.State.Pid}}", "pids"),
		d(0, ``, "rm", "pids"),
	})
}
