//go:build !linux

package sandbox

// cpuGroups is nil where the platform has no cgroups: CPU limits are not
// applied (see cpu_linux.go).
type cpuGroups struct{}

func openCPUGroups() *cpuGroups { return nil }

func (g *cpuGroups) close() {}

func (g *cpuGroups) newGroup(string, int64) *cpuGroup { return &cpuGroup{} }

type cpuGroup struct{ nanoCPUs int64 }

func (cg *cpuGroup) join() error            { return nil }
func (cg *cpuGroup) leave()                 {}
func (cg *cpuGroup) release()               {}
func (cg *cpuGroup) stat() map[string]int64 { return nil }
