// Command echo is a test workload: a TCP server on 127.0.0.1:PORT (its
// argument) that writes back whatever it reads, one goroutine per
// connection, and half-closes when its client does. It prints "listening"
// once it accepts connections.
package main

import (
	"fmt"
	"io"
	"net"
	"os"
	"syscall"
)

func main() {
	// Die with the agent that started us: the launcher's removal kills
	// the agent's process group, and a main process has its own.
	const prSetPdeathsig = 1
	_, _, _ = syscall.RawSyscall(syscall.SYS_PRCTL, prSetPdeathsig, uintptr(syscall.SIGKILL), 0)
	ln, err := net.Listen("tcp", "127.0.0.1:"+os.Args[1])
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fmt.Println("listening")
	for {
		c, err := ln.Accept()
		if err != nil {
			os.Exit(1)
		}
		go func() {
			defer c.Close()
			_, _ = io.CopyBuffer(c, c, make([]byte, 256<<10))
			_ = c.(*net.TCPConn).CloseWrite()
		}()
	}
}
