package agent

import (
	"os"
	"path/filepath"
	"testing"
)

func TestOOMKills(t *testing.T) {
	tests := []struct {
		name, file, body string
		want             uint64
		ok               bool
	}{
		{"cgroup v2", "memory.events", "low 0\nhigh 0\nmax 4\noom 2\noom_kill 2\noom_group_kill 0\n", 2, true},
		{"cgroup v1", "memory/memory.oom_control", "oom_kill_disable 0\nunder_oom 0\noom_kill 5\n", 5, true},
		{"v1 kernel without the counter", "memory/memory.oom_control", "oom_kill_disable 0\nunder_oom 0\n", 0, false},
		{"no memory controller", "", "", 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := t.TempDir()
			if tt.file != "" {
				p := filepath.Join(root, tt.file)
				if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(p, []byte(tt.body), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			if n, ok := OOMKills(root); n != tt.want || ok != tt.ok {
				t.Fatalf("OOMKills = %d, %v; want %d, %v", n, ok, tt.want, tt.ok)
			}
		})
	}
}
