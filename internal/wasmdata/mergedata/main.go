// Command mergedata rewrites a WebAssembly module with its data segments
// merged (see package wasmdata). `make applets` runs it on the applet
// module after `go build`:
//
//	go run ./internal/wasmdata/mergedata IN OUT
package main

import (
	"fmt"
	"os"

	"github.com/sockerless/sockerless/internal/wasmdata"
)

func main() {
	if len(os.Args) != 3 {
		fmt.Fprintln(os.Stderr, "usage: mergedata IN.wasm OUT.wasm")
		os.Exit(2)
	}
	if err := run(os.Args[1], os.Args[2]); err != nil {
		fmt.Fprintln(os.Stderr, "mergedata:", err)
		os.Exit(1)
	}
}

func run(in, out string) error {
	b, err := os.ReadFile(in)
	if err != nil {
		return err
	}
	m, err := wasmdata.MergeData(b, wasmdata.DefaultMaxGap)
	if err != nil {
		return fmt.Errorf("%s: %w", in, err)
	}
	return os.WriteFile(out, m, 0o644)
}
