package sandbox

import (
	"crypto/sha256"
	"os"
	"testing"
)

// TestReleaseEmbeddedKeepsContents: after its pages are released, the
// embedded module reads back unchanged (from the executable), so a second
// Sandbox in the same process still compiles it.
func TestReleaseEmbeddedKeepsContents(t *testing.T) {
	before := sha256.Sum256([]byte(appletsWasm))
	releaseEmbedded(appletsWasm)
	if sha256.Sum256([]byte(appletsWasm)) != before {
		t.Fatal("the embedded applet module changed after its pages were released")
	}
	onDisk, err := os.ReadFile("applets.wasm")
	if err != nil {
		t.Fatal(err)
	}
	if string(onDisk) != appletsWasm {
		t.Fatal("the embedded applet module differs from applets.wasm")
	}
}
