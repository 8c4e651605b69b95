// Command sockerless-functions serves the Docker Engine API handlers as a
// standalone HTTP service listening on PORT (the Cloud Run convention),
// for split mode: a shim (SOCKERLESS_CONTROL_PLANE_URL) forwards to it and
// streams go through a network relay (sockerless-relay) sharing
// SOCKERLESS_SECRET. In-process providers' workloads are served by agents
// that dial the relay over the network, exactly like cloud agents.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"github.com/sockerless/sockerless/internal/envdoc"
	"io"
	"log/slog"
	"net/url"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/caarlos0/env/v11"
	"github.com/sockerless/sockerless/internal/fnserver"
	"github.com/sockerless/sockerless/providers"
	"github.com/sockerless/sockerless/providers/memory"
	"github.com/sockerless/sockerless/providers/memory/sandbox"
	"github.com/sockerless/sockerless/providers/synthetic"
	"github.com/sockerless/sockerless/relay"
)

// Config is read from PORT and SOCKERLESS_* variables.
type Config struct {
	Port       string        `env:"PORT" envDefault:"8080" help:"TCP port to listen on (all interfaces), the Cloud Run convention; no SOCKERLESS_ prefix"`
	State      string        `env:"STATE" envDefault:"memory" help:"state store: memory, dynamodb://TABLE?region=R[&endpoint=URL], firestore://PROJECT[/DATABASE][?endpoint=HOST:PORT], aztables://ACCOUNT/TABLE[?endpoint=URL]"`
	Provider   string        `env:"PROVIDER" envDefault:"memory" help:"workload provider: memory (WASM sandbox) or synthetic"`
	RelayURL   string        `env:"RELAY_URL" help:"the relay's base URL, ws://HOST:PORT or wss://...; required"`
	Secret     string        `env:"SECRET" help:"deployment secret shared with the relay (tickets, agent tokens); required"`
	Token      string        `env:"TOKEN" help:"bearer token shims must present; empty accepts anonymous requests"`
	PollWindow time.Duration `env:"POLL_WINDOW" envDefault:"20s" help:"longest single poll of a long wait"`
	LogLevel   string        `env:"LOG_LEVEL" envDefault:"info" help:"debug, info, warn or error"`
}

const envPrefix = "SOCKERLESS_"

// version is set at build time with -ldflags "-X main.version=...".
var version = "0.1.0-dev"

func main() {
	if err := run(os.Args[1:], os.Stderr); err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(os.Stderr, "sockerless-functions:", err)
			os.Exit(2)
		}
	}
}

func parse(args []string, stderr io.Writer) (Config, error) {
	cfg, err := env.ParseAsWithOptions[Config](env.Options{Prefix: envPrefix})
	if err != nil {
		return cfg, fmt.Errorf("configuration: %w", err)
	}
	if p, ok := os.LookupEnv("PORT"); ok { // PORT keeps its platform name
		cfg.Port = p
	}
	fs := flag.NewFlagSet("sockerless-functions", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { usage(fs, stderr) }
	if err := fs.Parse(args); err != nil {
		return cfg, err
	}
	return cfg, cfg.validate()
}

func (c *Config) validate() error {
	if c.Secret == "" {
		return fmt.Errorf("%sSECRET is required (the relay must share it)", envPrefix)
	}
	u, err := url.Parse(c.RelayURL)
	if c.RelayURL == "" || err != nil || (u.Scheme != "ws" && u.Scheme != "wss" && u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("%sRELAY_URL=%q: want ws://HOST:PORT or wss://HOST", envPrefix, c.RelayURL)
	}
	switch c.Provider {
	case "memory", "synthetic":
	default:
		return fmt.Errorf("%sPROVIDER=%q: want memory or synthetic", envPrefix, c.Provider)
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(c.LogLevel)); err != nil {
		return fmt.Errorf("%sLOG_LEVEL=%q: want debug, info, warn or error", envPrefix, c.LogLevel)
	}
	if c.PollWindow <= 0 || c.PollWindow > 25*time.Second {
		return fmt.Errorf("%sPOLL_WINDOW=%s: want a duration in (0, 25s]", envPrefix, c.PollWindow)
	}
	return nil
}

func run(args []string, stderr io.Writer) error {
	cfg, err := parse(args, stderr)
	if err != nil {
		return err
	}
	var level slog.Level
	_ = level.UnmarshalText([]byte(cfg.LogLevel))
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	secret := []byte(cfg.Secret)
	var sb *sandbox.Sandbox
	var stateDir string
	if cfg.Provider == "memory" {
		cacheDir := ""
		if d, err := os.UserCacheDir(); err == nil {
			cacheDir = filepath.Join(d, "sockerless", "wazero")
		}
		if sb, err = sandbox.New(ctx, sandbox.Options{CacheDir: cacheDir}); err != nil {
			return err
		}
		defer sb.Close(context.Background())
		if stateDir, err = os.MkdirTemp("", "sockerless-functions-"); err != nil {
			return err
		}
		defer os.RemoveAll(stateDir)
	}
	newProvider := func(hub *relay.Hub, rep providers.Reporter) (providers.Provider, error) {
		var p providers.Provider
		switch cfg.Provider {
		case "memory":
			mp, err := memory.New(memory.Options{Hub: hub, Reporter: rep, Sandbox: sb, StateDir: stateDir})
			if err != nil {
				return nil, err
			}
			p = mp
		default:
			p = synthetic.New(synthetic.Options{Hub: hub, Reporter: rep})
		}
		return fnserver.Relayed(p, hub, secret, cfg.RelayURL, log), nil
	}
	return fnserver.Run(ctx, fnserver.Config{
		Addr: ":" + cfg.Port, State: cfg.State, RelayURL: cfg.RelayURL, Secret: secret, Token: cfg.Token,
		PollWindow: cfg.PollWindow, Version: version,
	}, newProvider, log, nil)
}

// usage lists flags and every environment variable with its default.
func usage(fs *flag.FlagSet, w io.Writer) {
	fmt.Fprintf(w, "Usage: sockerless-functions\n\nServes the Docker API handlers on PORT for a shim in cloud/split mode.\n\nEnvironment:\n")
	envdoc.Write(w, Config{}, envPrefix, "PORT")
}
