//go:build !linux

package memory

// fsType is "none" where the host's filesystem types are not read.
func fsType(string) string { return "none" }
