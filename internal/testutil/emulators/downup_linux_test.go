package emulators

import "testing"

// Down stops the process but keeps the port; Up runs the command again on
// that port.
func TestDownUp(t *testing.T) {
	var ports []int
	e, err := start(spec{
		name: "sleeper",
		command: func(port int) ([]string, string, func(), error) {
			ports = append(ports, port)
			return []string{"/bin/sh", "-c", "sleep 60 & wait"}, "", nil, nil
		},
		endpoint: func(addr string) string { return addr },
		ready:    func(string) bool { return true },
	})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Stop()
	first := e.cmd.Process.Pid
	e.Down()
	if alive(first) {
		t.Fatalf("process group %d still has members after Down", first)
	}
	if err := e.Up(); err != nil {
		t.Fatal(err)
	}
	if err := e.Up(); err == nil {
		t.Error("Up of a running emulator succeeded")
	}
	second := e.cmd.Process.Pid
	if second == first || !groupRunning(second) {
		t.Fatalf("after Up: pid %d (was %d), running %v", second, first, groupRunning(second))
	}
	if len(ports) != 2 || ports[0] != ports[1] {
		t.Fatalf("ports %v, want the same port twice", ports)
	}
	e.Stop()
	if alive(second) {
		t.Errorf("process group %d still has members after Stop", second)
	}
}
