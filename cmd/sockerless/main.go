// Command sockerless is the Docker API shim for a runner host. With no
// control-plane URL it runs embedded: shim, functions handler, in-process
// relay, memory state store and a provider, in one process.
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
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/caarlos0/env/v11"
	"github.com/sockerless/sockerless/internal/controlauth"
	"github.com/sockerless/sockerless/internal/embedded"
	"github.com/sockerless/sockerless/localshim"
	"github.com/sockerless/sockerless/relay/wsclient"
	"google.golang.org/api/idtoken"
)

// Config is the shim's configuration, read from SOCKERLESS_* variables.
type Config struct {
	Listen          string        `env:"LISTEN" help:"where to listen: unix:///path.sock or tcp://127.0.0.1:PORT (default unix://$XDG_RUNTIME_DIR/sockerless.sock, else unix://$TMPDIR/sockerless-$UID/docker.sock with TMPDIR defaulting to /tmp; that folder must be owned by the user with mode 0700)"`
	ControlPlaneURL string        `env:"CONTROL_PLANE_URL" help:"functions endpoint; empty runs everything embedded in this process"`
	Token           string        `env:"TOKEN" help:"bearer token sent to the control plane (auth mode token)"`
	Auth            string        `env:"AUTH" help:"how to authenticate to the control plane: token, aws-iam (SigV4, AWS default credential chain), google-idtoken (Application Default Credentials), azure-key, none; default token when SOCKERLESS_TOKEN is set, else none"`
	FunctionKey     string        `env:"FUNCTION_KEY" help:"Azure function key sent in x-functions-key (auth mode azure-key)"`
	AWSRegion       string        `env:"AWS_REGION" help:"region to sign for (auth mode aws-iam); default from the Function URL host, then the AWS configuration"`
	Audience        string        `env:"AUDIENCE" help:"audience of Google ID tokens (auth mode google-idtoken); default the control plane URL"`
	Secret          string        `env:"SECRET" help:"deployment secret for stream tickets (embedded: random per run)"`
	Synthetic       bool          `env:"SYNTHETIC" envDefault:"false" help:"embedded: use the synthetic provider, which runs no processes"`
	Provider        string        `env:"PROVIDER" help:"embedded: memory (default), synthetic or docker"`
	DockerHost      string        `env:"DOCKER_HOST" help:"embedded docker provider: the engine workloads run on (unix:///path or tcp://host:port)"`
	DockerCertPath  string        `env:"DOCKER_CERT_PATH" help:"embedded docker provider: folder with ca.pem, cert.pem, key.pem for TLS to a tcp engine"`
	DockerAgent     string        `env:"DOCKER_AGENT" help:"embedded docker provider: a static sockerless-agent on the engine's host (default: sockerless-agent beside this binary, else on PATH)"`
	DockerListen    string        `env:"DOCKER_LISTEN" help:"embedded docker provider: host:port where workloads' agents reach the relay (default: the engine's bridge gateway, free port)"`
	DockerAdvertise string        `env:"DOCKER_ADVERTISE_HOST" help:"embedded docker provider: the host workloads dial, when not the listening address"`
	VolumeDir       string        `env:"VOLUME_DIR" help:"cloud mode: folder where the shim keeps the contents of named volumes it carries between workloads of providers whose workloads do not share volumes (default: sockerless/volumes in the user's cache folder)"`
	PollWindow      time.Duration `env:"POLL_WINDOW" envDefault:"20s" help:"longest single poll of a long wait"`
	LogLevel        string        `env:"LOG_LEVEL" envDefault:"info" help:"debug, info, warn or error"`
}

const envPrefix = "SOCKERLESS_"

func main() {
	if err := run(os.Args[1:], os.Stdout, os.Stderr); err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(os.Stderr, "sockerless:", err)
			os.Exit(2)
		}
	}
}

func run(args []string, stdout, stderr io.Writer) error {
	cfg, err := env.ParseAsWithOptions[Config](env.Options{Prefix: envPrefix})
	if err != nil {
		return fmt.Errorf("configuration: %w", err)
	}
	fs := flag.NewFlagSet("sockerless", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&cfg.Listen, "listen", cfg.Listen, "same as "+envPrefix+"LISTEN")
	fs.StringVar(&cfg.ControlPlaneURL, "control-plane-url", cfg.ControlPlaneURL, "same as "+envPrefix+"CONTROL_PLANE_URL")
	fs.BoolVar(&cfg.Synthetic, "synthetic", cfg.Synthetic, "same as "+envPrefix+"SYNTHETIC")
	fs.StringVar(&cfg.LogLevel, "log-level", cfg.LogLevel, "same as "+envPrefix+"LOG_LEVEL")
	fs.Usage = func() { usage(fs, stderr) }
	if err := fs.Parse(args); err != nil {
		return err
	}
	if err := cfg.validate(); err != nil {
		return err
	}
	var level slog.Level
	_ = level.UnmarshalText([]byte(cfg.LogLevel))
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	handler, closeFn, err := build(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer closeFn()

	ln, host, err := listen(cfg.Listen)
	if err != nil {
		return fmt.Errorf("%sLISTEN=%q: %w", envPrefix, cfg.Listen, err)
	}
	// Closed here too, not only by Serve: a SIGTERM that comes before
	// the Serve goroutine has run (a loaded machine) ends run without
	// it, and a unix socket is unlinked only when its listener closes.
	defer ln.Close()
	srv := &http.Server{Handler: handler, ReadHeaderTimeout: 30 * time.Second}
	fmt.Fprintf(stdout, "export DOCKER_HOST=%s\n", host)
	log.Info("sockerless listening", "docker_host", host, "mode", mode(cfg))
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	shutdown, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return srv.Shutdown(shutdown)
}

// findAgent looks for sockerless-agent beside the running binary, then on
// PATH; "" if neither has one.
func findAgent() string {
	if exe, err := os.Executable(); err == nil {
		p := filepath.Join(filepath.Dir(exe), "sockerless-agent")
		if fi, err := os.Stat(p); err == nil && !fi.IsDir() {
			return p
		}
	}
	if p, err := exec.LookPath("sockerless-agent"); err == nil {
		if abs, err := filepath.Abs(p); err == nil {
			return abs
		}
	}
	return ""
}

func mode(cfg Config) string {
	switch {
	case cfg.ControlPlaneURL != "":
		return "cloud"
	case cfg.Synthetic:
		return "embedded-synthetic"
	case cfg.Provider == "docker":
		return "embedded-docker"
	}
	return "embedded"
}

func (c *Config) validate() error {
	if c.Listen == "" {
		c.Listen = defaultListen()
	}
	u, err := url.Parse(c.Listen)
	if err != nil || (u.Scheme != "unix" && u.Scheme != "tcp") || (u.Scheme == "unix" && u.Path == "") || (u.Scheme == "tcp" && u.Host == "") {
		return fmt.Errorf("%sLISTEN=%q: want unix:///path.sock or tcp://HOST:PORT", envPrefix, c.Listen)
	}
	switch c.Provider {
	case "", "memory":
	case "synthetic":
		c.Synthetic = true
	case "docker":
		if c.DockerHost == "" {
			return fmt.Errorf("%sPROVIDER=docker needs %sDOCKER_HOST", envPrefix, envPrefix)
		}
		if c.DockerAgent == "" {
			c.DockerAgent = findAgent()
		}
		if c.DockerAgent == "" {
			return fmt.Errorf("%sPROVIDER=docker needs a static sockerless-agent: set %sDOCKER_AGENT", envPrefix, envPrefix)
		}
	default:
		return fmt.Errorf("%sPROVIDER=%q: want memory, synthetic or docker", envPrefix, c.Provider)
	}
	if c.ControlPlaneURL != "" {
		u, err := url.Parse(c.ControlPlaneURL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return fmt.Errorf("%sCONTROL_PLANE_URL=%q: want an http(s) URL", envPrefix, c.ControlPlaneURL)
		}
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(c.LogLevel)); err != nil {
		return fmt.Errorf("%sLOG_LEVEL=%q: want debug, info, warn or error", envPrefix, c.LogLevel)
	}
	if c.PollWindow <= 0 || c.PollWindow > 25*time.Second {
		return fmt.Errorf("%sPOLL_WINDOW=%s: want a duration in (0, 25s], under API gateways' 29 s limit", envPrefix, c.PollWindow)
	}
	return nil
}

func defaultListen() string {
	if d := os.Getenv("XDG_RUNTIME_DIR"); d != "" {
		return "unix://" + filepath.Join(d, "sockerless.sock")
	}
	return "unix://" + filepath.Join(defaultSocketDir(), "docker.sock")
}

// build assembles the shim: in cloud mode in front of the remote control
// plane (plain HTTP with the bearer token; streams dialled to the relay
// each ticket names), else in front of the embedded control plane.
func build(ctx context.Context, cfg Config, log *slog.Logger) (http.Handler, func(), error) {
	if cfg.ControlPlaneURL != "" {
		tr := http.DefaultTransport.(*http.Transport).Clone()
		tr.MaxIdleConnsPerHost = 64
		signer, err := signerFor(ctx, cfg)
		if err != nil {
			return nil, nil, err
		}
		shim, err := localshim.New(localshim.Options{
			Transport: &controlauth.Transport{Base: tr, Signer: signer}, BaseURL: cfg.ControlPlaneURL,
			Dialer: wsclient.Dialer{}, PollWindow: cfg.PollWindow, Logger: log,
			// Functions runs elsewhere: binds of this host's folders are carried.
			CarryBinds: true, PublishPorts: true, VolumeDir: volumeDir(cfg.VolumeDir),
		})
		if err != nil {
			return nil, nil, err
		}
		return shim, tr.CloseIdleConnections, nil
	}
	eopts := embedded.Options{Synthetic: cfg.Synthetic, Secret: []byte(cfg.Secret), PollWindow: cfg.PollWindow, Logger: log, Version: version}
	if cfg.Provider == "docker" {
		eopts.Docker = embedded.DockerOptions{Host: cfg.DockerHost, CertPath: cfg.DockerCertPath, AgentPath: cfg.DockerAgent,
			Listen: cfg.DockerListen, AdvertiseHost: cfg.DockerAdvertise}
	}
	s, err := embedded.New(ctx, eopts)
	if err != nil {
		return nil, nil, err
	}
	return s.Handler, func() { _ = s.Close() }, nil
}

// volumeDir is where carried named volumes are kept: dir, else the
// user's cache folder, else none (named volumes are then not carried).
func volumeDir(dir string) string {
	if dir != "" {
		return dir
	}
	if c, err := os.UserCacheDir(); err == nil {
		return filepath.Join(c, "sockerless", "volumes")
	}
	return ""
}

// signerFor builds the credentials the shim adds to each request to the
// control plane; nil sends none.
func signerFor(ctx context.Context, cfg Config) (controlauth.Signer, error) {
	mode := cfg.Auth
	if mode == "" && cfg.Token != "" {
		mode = "token"
	}
	switch mode {
	case "", "none":
		return nil, nil
	case "token":
		if cfg.Token == "" {
			return nil, fmt.Errorf("%sAUTH=token needs %sTOKEN", envPrefix, envPrefix)
		}
		return controlauth.BearerSigner(cfg.Token), nil
	case "azure-key":
		if cfg.FunctionKey == "" {
			return nil, fmt.Errorf("%sAUTH=azure-key needs %sFUNCTION_KEY", envPrefix, envPrefix)
		}
		return controlauth.FunctionKeySigner(cfg.FunctionKey), nil
	case "aws-iam":
		awsCfg, err := awsconfig.LoadDefaultConfig(ctx)
		if err != nil {
			return nil, fmt.Errorf("aws-iam: loading the AWS configuration: %w", err)
		}
		region := cfg.AWSRegion
		if region == "" {
			if u, err := url.Parse(cfg.ControlPlaneURL); err == nil {
				region = controlauth.RegionFromURL(u.Hostname())
			}
		}
		if region == "" {
			region = awsCfg.Region
		}
		if region == "" {
			return nil, fmt.Errorf("aws-iam: no region: set %sAWS_REGION or AWS_REGION", envPrefix)
		}
		return &controlauth.SigV4Signer{Credentials: awsCfg.Credentials, Region: region, Service: "lambda"}, nil
	case "google-idtoken":
		aud := cfg.Audience
		if aud == "" {
			aud = cfg.ControlPlaneURL
		}
		ts, err := idtoken.NewTokenSource(ctx, aud)
		if err != nil {
			return nil, fmt.Errorf("google-idtoken: %w", err)
		}
		return controlauth.TokenSourceSigner(ts), nil
	}
	return nil, fmt.Errorf("%sAUTH=%q: want one of %s or none", envPrefix, mode, strings.Join(controlauth.Modes, ", "))
}

// version is set at build time with -ldflags "-X main.version=...".
var version = "0.1.0-dev"

// listen opens addr and returns the DOCKER_HOST value that reaches it.
func listen(addr string) (net.Listener, string, error) {
	u, _ := url.Parse(addr)
	if u.Scheme == "tcp" {
		ln, err := net.Listen("tcp", u.Host)
		if err != nil {
			return nil, "", err
		}
		return ln, "tcp://" + ln.Addr().String(), nil
	}
	path := u.Path
	if filepath.Dir(path) == defaultSocketDir() {
		// A shared temporary folder: it must be this user's alone.
		if err := privateDir(filepath.Dir(path)); err != nil {
			return nil, "", err
		}
	} else if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, "", err
	}
	if c, err := net.Dial("unix", path); err == nil {
		c.Close()
		return nil, "", fmt.Errorf("%s is in use by another process", path)
	}
	_ = os.Remove(path)
	ln, err := net.Listen("unix", path)
	if err != nil {
		return nil, "", err
	}
	return ln, "unix://" + path, nil
}

// usage lists flags and every environment variable with its default.
func usage(fs *flag.FlagSet, w io.Writer) {
	fmt.Fprintf(w, "Usage: sockerless [flags]\n\nRuns the Docker API shim; prints the DOCKER_HOST to use.\n\nFlags:\n")
	fs.PrintDefaults()
	fmt.Fprintf(w, "\nEnvironment:\n")
	envdoc.Write(w, Config{}, envPrefix)
}
