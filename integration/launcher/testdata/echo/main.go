// Command echo is a test workload. `echo PORT` is a TCP server on
// 127.0.0.1:PORT that writes back whatever it reads, one goroutine per
// connection, half-closing when its client does; it prints "listening"
// once it accepts connections. `echo client ADDR CONNS SIZE` opens CONNS
// connections to ADDR at once, sends SIZE random bytes on each,
// half-closes, checks that the same bytes come back (SHA-256), prints
// "ok CONNS" and exits 0, or prints the first failure and exits 1.
package main

import (
	"crypto/rand"
	"crypto/sha256"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"sync"
	"syscall"
)

func main() {
	// Die with the agent that started us: the launcher's removal kills
	// the agent's process group, and a main process has its own.
	const prSetPdeathsig = 1
	_, _, _ = syscall.RawSyscall(syscall.SYS_PRCTL, prSetPdeathsig, uintptr(syscall.SIGKILL), 0)
	if len(os.Args) == 5 && os.Args[1] == "client" {
		client(os.Args[2], os.Args[3], os.Args[4])
		return
	}
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

func client(addr, connsArg, sizeArg string) {
	conns, _ := strconv.Atoi(connsArg)
	size, _ := strconv.Atoi(sizeArg)
	errs := make(chan error, conns)
	var wg sync.WaitGroup
	for i := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs <- one(addr, i, size)
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			fmt.Println("fail:", err)
			os.Exit(1)
		}
	}
	fmt.Println("ok", conns)
}

// one sends size random bytes (generated and hashed as they go, so memory
// stays small) and checks the echo.
func one(addr string, i, size int) error {
	c, err := net.Dial("tcp", addr)
	if err != nil {
		return err
	}
	defer c.Close()
	sent := sha256.New()
	werr := make(chan error, 1)
	go func() {
		buf := make([]byte, 256<<10)
		left := size
		for left > 0 {
			n := min(left, len(buf))
			_, _ = rand.Read(buf[:n])
			sent.Write(buf[:n])
			if _, err := c.Write(buf[:n]); err != nil {
				werr <- err
				return
			}
			left -= n
		}
		werr <- c.(*net.TCPConn).CloseWrite()
	}()
	got := sha256.New()
	n, err := io.Copy(got, c)
	if e := <-werr; e != nil {
		return fmt.Errorf("connection %d: send: %w", i, e)
	}
	if err != nil {
		return fmt.Errorf("connection %d: receive: %w", i, err)
	}
	if n != int64(size) || string(got.Sum(nil)) != string(sent.Sum(nil)) {
		return fmt.Errorf("connection %d: echoed %d bytes of %d, checksums differ", i, n, size)
	}
	return nil
}
