//go:build !linux

package sandbox

// releaseEmbedded is a no-op where the pages of embedded data cannot be
// dropped.
func releaseEmbedded(string) {}
