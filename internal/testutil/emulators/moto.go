package emulators

import (
	"fmt"
	"os/exec"
	"strconv"
	"testing"
)

// Moto starts moto's server mode (python moto, `moto_server` on PATH),
// which emulates every AWS service it knows on one port, bound to
// loopback and in memory. Endpoint is its http:// URL: the value for
// AWS_ENDPOINT_URL or a Terraform provider's endpoints. It accepts any
// credentials; its account is 123456789012.
func Moto() (*Emulator, error) {
	return start(spec{
		name: "moto",
		command: func(port int) ([]string, string, func(), error) {
			bin, err := exec.LookPath("moto_server")
			if err != nil {
				return nil, "", nil, fmt.Errorf("moto_server not found on PATH (pip install 'moto[server]'; .ci/tools.sh checks for it): %w", err)
			}
			return []string{bin, "-H", "127.0.0.1", "-p", strconv.Itoa(port)}, "", nil, nil
		},
		endpoint: func(addr string) string { return "http://" + addr },
		ready:    httpAnswers("http://%s/moto-api/"),
	})
}

// StartMoto starts moto for t, stops it in t.Cleanup and returns its
// endpoint URL. It fails t if the emulator cannot start.
func StartMoto(t testing.TB) string { return startFor(t, Moto).Endpoint }
