package main

import (
	"bufio"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"hash/crc32"
	"io"
	"strings"
)

// Hash algorithms the host can compute (see hostHash), mirrored in the
// sandbox's host module.
const (
	hashMD5    = 1
	hashSHA1   = 2
	hashSHA256 = 3
	hashSHA512 = 4
)

func md5sumCmd(e *env, args []string) int    { return hashSum(e, args, hashMD5) }
func sha1sumCmd(e *env, args []string) int   { return hashSum(e, args, hashSHA1) }
func sha256sumCmd(e *env, args []string) int { return hashSum(e, args, hashSHA256) }
func sha512sumCmd(e *env, args []string) int { return hashSum(e, args, hashSHA512) }

func hashSum(e *env, args []string, algo int) int {
	g := getopt{bools: "cbtwsz", longs: map[string]byte{"check": 'c', "binary": 'b', "text": 't', "quiet": 'q', "status": 's', "strict": 'S', "warn": 'w'}}
	g.bools += "qS"
	if !parseOpts(e, &g, args) {
		return 1
	}
	sum := func(r io.Reader) (string, error) {
		h, err := newHash(algo)
		if err != nil {
			return "", err
		}
		if _, err := io.CopyBuffer(h, r, make([]byte, 64<<10)); err != nil {
			return "", err
		}
		return hex.EncodeToString(h.Sum(nil)), nil
	}
	if g.has('c') {
		bad := 0
		status := e.eachInput(g.args, func(_ string, r *bufio.Reader) error {
			return readLines(r, func(b []byte, _ bool) error {
				line := string(b)
				want, name, ok := strings.Cut(line, "  ")
				if !ok {
					want, name, ok = strings.Cut(line, " *")
				}
				if !ok {
					return nil
				}
				rc, err := e.openInput(name)
				if err != nil {
					e.fail(err)
					bad++
					return nil
				}
				got, err := sum(rc)
				rc.Close()
				if err != nil || got != want {
					bad++
					if !g.has('s') {
						fmt.Fprintf(e.stdout, "%s: FAILED\n", name)
					}
				} else if !g.has('q') && !g.has('s') {
					fmt.Fprintf(e.stdout, "%s: OK\n", name)
				}
				return nil
			})
		})
		if bad > 0 {
			if !g.has('s') {
				e.errf("WARNING: %d computed checksum did NOT match", bad)
			}
			return 1
		}
		return status
	}
	return e.eachInput(g.args, func(name string, r *bufio.Reader) error {
		s, err := sum(r)
		if err != nil {
			return err
		}
		fmt.Fprintf(e.stdout, "%s  %s\n", s, name)
		return nil
	})
}

func base64Cmd(e *env, args []string) int {
	g := getopt{bools: "di", vals: "w", longs: map[string]byte{"decode": 'd', "ignore-garbage": 'i', "wrap": 'w'}}
	if !parseOpts(e, &g, args) {
		return 1
	}
	wrap := 76
	if w := g.val('w', ""); w != "" {
		fmt.Sscan(w, &wrap)
	}
	return e.eachInput(g.args, func(_ string, r *bufio.Reader) error {
		if g.has('d') {
			data, err := io.ReadAll(r)
			if err != nil {
				return err
			}
			clean := strings.Map(func(c rune) rune {
				if c == '\n' || c == '\r' || c == ' ' || c == '\t' {
					return -1
				}
				if g.has('i') && !strings.ContainsRune("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=", c) {
					return -1
				}
				return c
			}, string(data))
			out, err := base64.StdEncoding.DecodeString(clean)
			if err != nil {
				out, err = base64.RawStdEncoding.DecodeString(strings.TrimRight(clean, "="))
			}
			e.stdout.Write(out)
			if err != nil {
				return fmt.Errorf("invalid input")
			}
			return nil
		}
		pr, pw := io.Pipe()
		go func() {
			enc := base64.NewEncoder(base64.StdEncoding, pw)
			_, err := io.Copy(enc, r)
			enc.Close()
			pw.CloseWithError(err)
		}()
		col := 0
		buf := make([]byte, 32<<10)
		for {
			n, err := pr.Read(buf)
			for _, c := range buf[:n] {
				e.stdout.WriteByte(c)
				col++
				if wrap > 0 && col == wrap {
					e.stdout.WriteByte('\n')
					col = 0
				}
			}
			if err != nil {
				if col > 0 || wrap == 0 {
					e.stdout.WriteByte('\n')
				}
				if err == io.EOF {
					return nil
				}
				return err
			}
		}
	})
}

func cksumCmd(e *env, args []string) int {
	return e.eachInput(args, func(name string, r *bufio.Reader) error {
		h := crc32.NewIEEE()
		n, err := io.Copy(h, r)
		if err != nil {
			return err
		}
		if name == "-" {
			fmt.Fprintf(e.stdout, "%d %d\n", h.Sum32(), n)
		} else {
			fmt.Fprintf(e.stdout, "%d %d %s\n", h.Sum32(), n, name)
		}
		return nil
	})
}
