//go:build race

package integration

// raceBuild reports whether the tests run under the race detector, whose
// shadow memory adds to the process's RSS (see raceMemFactor).
const raceBuild = true
