package main

import (
	"os/exec"
	"strings"
	"testing"
)

// TestLayering keeps the dependency facts issue 16 asks for: the shim
// does not link the Lambda runtime, the shim's own package does not use
// functions' HTTP plumbing, and neither the agent nor the builder imports
// a package of the memory provider.
func TestLayering(t *testing.T) {
	tests := []struct {
		pkgs      []string
		forbidden string
	}{
		{[]string{"."}, "github.com/aws/aws-lambda-go"},
		{[]string{"../../localshim"}, "github.com/sockerless/sockerless/functions"},
		{[]string{"../../agent/...", "../../build/..."}, "github.com/sockerless/sockerless/providers/memory"},
	}
	for _, tc := range tests {
		out, err := exec.Command("go", append([]string{"list", "-deps"}, tc.pkgs...)...).Output()
		if err != nil {
			t.Fatalf("go list -deps %v: %v", tc.pkgs, err)
		}
		for _, dep := range strings.Fields(string(out)) {
			if strings.HasPrefix(dep, tc.forbidden) {
				t.Errorf("go list -deps %v includes %s", tc.pkgs, dep)
			}
		}
	}
}
