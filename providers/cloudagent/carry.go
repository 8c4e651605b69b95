package cloudagent

import (
	"encoding/json"
	"strings"
)

// CarryLabel is the label in which the shim lists the runner-host binds
// it carries for a container (localshim.CarryLabel; repeated here so
// providers need not import the shim).
const CarryLabel = "io.sockerless.carry"

// CarryDirs lists, comma-separated, the destinations of the binds the
// shim carries for a container with labels: the agent holds the main
// process until the shim's first push to each has arrived
// (SOCKERLESS_CARRY_HOLD), so a container action reads the workspace the
// runner wrote, not an empty directory. Empty when nothing is carried.
func CarryDirs(labels map[string]string) string {
	var binds []struct {
		Dst string `json:"dst"`
	}
	if json.Unmarshal([]byte(labels[CarryLabel]), &binds) != nil {
		return ""
	}
	var ds []string
	for _, b := range binds {
		if b.Dst != "" && !strings.Contains(b.Dst, ",") {
			ds = append(ds, b.Dst)
		}
	}
	return strings.Join(ds, ",")
}
