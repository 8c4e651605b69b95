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
	"strconv"
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
	PeersDNS     string        `env:"RELAY_PEERS_DNS" help:"DNS name with one address per relay instance (ECS service discovery); set when several instances run behind one load balancer"`
	Peers        []string      `env:"RELAY_PEERS" envSeparator:"," help:"relay instances' URLs (http://ADDRESS:PORT), comma-separated, instead of RELAY_PEERS_DNS"`
	SelfURL      string        `env:"RELAY_SELF_URL" help:"this instance's URL as its peers reach it; default http://FIRST-NON-LOOPBACK-IPV4:PORT"`
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
	opts := server.Options{
		Secret: []byte(cfg.Secret), AgentWait: cfg.AgentWait, JoinTimeout: cfg.JoinTimeout,
		IdleTimeout: cfg.IdleTimeout, PingInterval: cfg.PingInterval, Logger: log, HandshakeTimeout: cfg.Handshake,
	}
	if err := clusterOptions(cfg, &opts); err != nil {
		return err
	}
	srv, err := server.New(opts)
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

// clusterOptions sets the peer options from RELAY_PEERS_DNS or
// RELAY_PEERS, and this instance's own URL.
func clusterOptions(cfg Config, opts *server.Options) error {
	switch {
	case cfg.PeersDNS != "" && len(cfg.Peers) > 0:
		return fmt.Errorf("%sRELAY_PEERS_DNS and %sRELAY_PEERS are exclusive", envPrefix, envPrefix)
	case cfg.PeersDNS != "":
		port, err := strconv.Atoi(cfg.Port)
		if err != nil {
			return fmt.Errorf("PORT=%q: %w", cfg.Port, err)
		}
		opts.Peers = server.DNSPeers(cfg.PeersDNS, port)
	case len(cfg.Peers) > 0:
		opts.Peers = server.StaticPeers(cfg.Peers...)
	default:
		return nil
	}
	opts.Self = cfg.SelfURL
	if opts.Self == "" {
		ip, err := firstIPv4()
		if err != nil {
			return fmt.Errorf("%sRELAY_SELF_URL is unset and %w", envPrefix, err)
		}
		opts.Self = "http://" + net.JoinHostPort(ip, cfg.Port)
	}
	return nil
}

// firstIPv4 is the first non-loopback IPv4 address of the host: a
// Fargate task's address in its VPC.
func firstIPv4() (string, error) {
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		return "", fmt.Errorf("the host's addresses cannot be read: %w", err)
	}
	for _, a := range addrs {
		if n, ok := a.(*net.IPNet); ok && !n.IP.IsLoopback() && n.IP.To4() != nil {
			return n.IP.String(), nil
		}
	}
	return "", errors.New("the host has no non-loopback IPv4 address")
}

// usage lists every environment variable with its default.
func usage(fs *flag.FlagSet, w io.Writer) {
	fmt.Fprintf(w, "Usage: sockerless-relay\n\nPairs shim streams with workload agents over WebSockets.\n\nEnvironment:\n")
	envdoc.Write(w, Config{}, envPrefix, "PORT")
}
