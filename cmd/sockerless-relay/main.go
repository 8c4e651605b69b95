// Command sockerless-relay is the network relay: agents in workloads keep
// control connections to it and shims open streams with signed tickets;
// it pairs them by session. It listens on PORT (the Cloud Run convention)
// and shares SOCKERLESS_SECRET with sockerless-functions. /healthz and
// /metrics (Prometheus text) are served on the same port. SIGTERM drains:
// new streams are refused and open sessions get SOCKERLESS_DRAIN_TIMEOUT
// to finish.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"github.com/sockerless/sockerless/internal/envdoc"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/caarlos0/env/v11"
	"github.com/sockerless/sockerless/relay/server"
)

// Config is read from PORT and SOCKERLESS_* variables.
type Config struct {
	Port         string        `env:"PORT" envDefault:"8080" help:"TCP port to listen on (all interfaces), the Cloud Run convention; no SOCKERLESS_ prefix"`
	Secret       string        `env:"SECRET" help:"deployment secret shared with sockerless-functions; required"`
	AgentWait    time.Duration `env:"AGENT_WAIT" envDefault:"2m" help:"how long a stream waits for its container's agent to connect"`
	JoinTimeout  time.Duration `env:"JOIN_TIMEOUT" envDefault:"30s" help:"how long an offered session waits for the agent's data stream"`
	IdleTimeout  time.Duration `env:"IDLE_TIMEOUT" envDefault:"0s" help:"close sessions without traffic for this long; 0 never (dead peers are found by TCP keepalive)"`
	PingInterval time.Duration `env:"PING_INTERVAL" envDefault:"15s" help:"agent control connection ping interval"`
	Handshake    time.Duration `env:"HANDSHAKE_TIMEOUT" envDefault:"10s" help:"how long a client may take to send its request headers and upgrade"`
	DrainTimeout time.Duration `env:"DRAIN_TIMEOUT" envDefault:"30s" help:"on SIGTERM, how long open sessions may take to finish"`
	LogLevel     string        `env:"LOG_LEVEL" envDefault:"info" help:"debug, info, warn or error"`
}

const envPrefix = "SOCKERLESS_"

func main() {
	if err := run(os.Args[1:], os.Stderr); err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(os.Stderr, "sockerless-relay:", err)
			os.Exit(2)
		}
	}
}

func run(args []string, stderr io.Writer) error {
	cfg, err := env.ParseAsWithOptions[Config](env.Options{Prefix: envPrefix})
	if err != nil {
		return fmt.Errorf("configuration: %w", err)
	}
	if p, ok := os.LookupEnv("PORT"); ok {
		cfg.Port = p
	}
	fs := flag.NewFlagSet("sockerless-relay", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { usage(fs, stderr) }
	if err := fs.Parse(args); err != nil {
		return err
	}
	if cfg.Secret == "" {
		return fmt.Errorf("%sSECRET is required (sockerless-functions must share it)", envPrefix)
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(cfg.LogLevel)); err != nil {
		return fmt.Errorf("%sLOG_LEVEL=%q: want debug, info, warn or error", envPrefix, cfg.LogLevel)
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))
	srv, err := server.New(server.Options{
		Secret: []byte(cfg.Secret), AgentWait: cfg.AgentWait, JoinTimeout: cfg.JoinTimeout,
		IdleTimeout: cfg.IdleTimeout, PingInterval: cfg.PingInterval, Logger: log, HandshakeTimeout: cfg.Handshake,
	})
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	ln, err := net.Listen("tcp", ":"+cfg.Port)
	if err != nil {
		return fmt.Errorf("PORT=%s: %w", cfg.Port, err)
	}
	hs := srv.HTTPServer()
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ln) }()
	log.Info("sockerless-relay listening", "addr", ln.Addr().String())
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	log.Info("draining", "timeout", cfg.DrainTimeout)
	dctx, cancel := context.WithTimeout(context.Background(), cfg.DrainTimeout)
	defer cancel()
	derr := srv.Drain(dctx)
	sctx, cancel2 := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel2()
	_ = hs.Shutdown(sctx)
	return derr
}

// usage lists every environment variable with its default.
func usage(fs *flag.FlagSet, w io.Writer) {
	fmt.Fprintf(w, "Usage: sockerless-relay\n\nPairs shim streams with workload agents over WebSockets.\n\nEnvironment:\n")
	envdoc.Write(w, Config{}, envPrefix, "PORT")
}
