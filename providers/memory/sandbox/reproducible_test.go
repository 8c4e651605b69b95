package sandbox

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/sockerless/sockerless/internal/wasmdata"
)

// TestAppletsReproducible rebuilds the applet module from source exactly
// as `make applets` does (go build, then internal/wasmdata/mergedata) and checks it is byte-identical to the embedded
// one: the committed applets.wasm is always what this repo builds.
func TestAppletsReproducible(t *testing.T) {
	out := filepath.Join(t.TempDir(), "applets.wasm")
	cmd := exec.Command("go", "build", "-trimpath", "-buildvcs=false", "-ldflags=-s -w -buildid=", "-o", out, "./providers/memory/applets")
	cmd.Dir = "../../.."
	cmd.Env = append(os.Environ(), "GOOS=wasip1", "GOARCH=wasm")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("building the applets: %v\n%s", err, b)
	}
	linked, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	built, err := wasmdata.MergeData(linked, wasmdata.DefaultMaxGap)
	if err != nil {
		t.Fatal(err)
	}
	if string(built) != appletsWasm {
		t.Fatalf("applets.wasm (%d bytes) differs from a fresh build (%d bytes): run `make applets` and commit it", len(appletsWasm), len(built))
	}
}
