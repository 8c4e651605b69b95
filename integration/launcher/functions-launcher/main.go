// Command functions-launcher is a test-only sockerless-functions whose
// provider is the local workload launcher (package launcher): every
// container is a sockerless-agent process on this machine. It reads the
// same variables as sockerless-functions plus SOCKERLESS_AGENT_BINARY.
package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/sockerless/sockerless/integration/launcher"
	"github.com/sockerless/sockerless/internal/fnserver"
	"github.com/sockerless/sockerless/providers"
	"github.com/sockerless/sockerless/relay"
)

func main() {
	port := os.Getenv("PORT")
	secret := []byte(os.Getenv("SOCKERLESS_SECRET"))
	relayURL := os.Getenv("SOCKERLESS_RELAY_URL")
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	newProvider := func(_ *relay.Hub, _ providers.Reporter) (providers.Provider, error) {
		return launcher.New(launcher.Options{
			AgentBinary: os.Getenv("SOCKERLESS_AGENT_BINARY"), RelayURL: relayURL,
			ControlPlaneURL: "http://127.0.0.1:" + port, Secret: secret,
		}), nil
	}
	window, _ := time.ParseDuration(os.Getenv("SOCKERLESS_POLL_WINDOW")) // 0: the default
	err := fnserver.Run(ctx, fnserver.Config{Addr: "127.0.0.1:" + port, State: "memory", RelayURL: relayURL, Secret: secret,
		Token: os.Getenv("SOCKERLESS_TOKEN"), PollWindow: window}, newProvider, log, nil)
	if err != nil {
		fmt.Fprintln(os.Stderr, "functions-launcher:", err)
		os.Exit(2)
	}
}
