// Command sockerless-functions serves the Docker Engine API handlers, the
// control plane a shim (SOCKERLESS_CONTROL_PLANE_URL) forwards to, on
// whichever serverless platform runs it: under AWS Lambda (detected from
// AWS_LAMBDA_RUNTIME_API) it serves Function URL and API Gateway HTTP API
// events; under Azure Functions (FUNCTIONS_CUSTOMHANDLER_PORT) it is a
// custom handler; otherwise, as on Cloud Run, it listens on PORT. Streams
// go through a network relay (sockerless-relay) sharing SOCKERLESS_SECRET
// (or the Secrets Manager secret SOCKERLESS_SECRET_ARN names).
// In-process providers' workloads are served by agents that dial the relay
// over the network, exactly like cloud agents.
//
// It refuses to start without authentication (SOCKERLESS_AUTH or
// SOCKERLESS_TOKEN) unless SOCKERLESS_DEV_LOOPBACK_NO_AUTH=true, which
// also confines it to 127.0.0.1.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	awslambdasvc "github.com/aws/aws-sdk-go-v2/service/lambda"

	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	awsecr "github.com/aws/aws-sdk-go-v2/service/ecr"
	"github.com/caarlos0/env/v11"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/sockerless/sockerless/functions"
	"github.com/sockerless/sockerless/internal/controlauth"
	"github.com/sockerless/sockerless/internal/envdoc"
	"github.com/sockerless/sockerless/internal/fnserver"
	"github.com/sockerless/sockerless/internal/lambdahttp"
	"github.com/sockerless/sockerless/internal/redact"
	"github.com/sockerless/sockerless/providers"
	"github.com/sockerless/sockerless/providers/cloudagent"
	"github.com/sockerless/sockerless/providers/docker"
	"github.com/sockerless/sockerless/providers/ecs"
	"github.com/sockerless/sockerless/providers/lambda"
	"github.com/sockerless/sockerless/providers/memory"
	"github.com/sockerless/sockerless/providers/memory/sandbox"
	"github.com/sockerless/sockerless/providers/synthetic"
	"github.com/sockerless/sockerless/relay"
	"github.com/sockerless/sockerless/relay/wsclient"
	"google.golang.org/api/idtoken"
)

// Config is read from PORT and SOCKERLESS_* variables.
type Config struct {
	Port              string        `env:"PORT" envDefault:"8080" help:"TCP port to listen on (all interfaces), the Cloud Run convention; no SOCKERLESS_ prefix"`
	State             string        `env:"STATE" envDefault:"memory" help:"state store: memory, dynamodb://TABLE?region=R[&endpoint=URL], firestore://PROJECT[/DATABASE][?endpoint=HOST:PORT], aztables://ACCOUNT/TABLE[?endpoint=URL]"`
	Provider          string        `env:"PROVIDER" envDefault:"memory" help:"workload provider: memory (WASM sandbox), synthetic, docker, ecs (ECS Fargate tasks) or lambda (Lambda functions)"`
	DockerHost        string        `env:"DOCKER_HOST" help:"docker provider: the engine workloads run on (unix:///path or tcp://host:port)"`
	DockerCert        string        `env:"DOCKER_CERT_PATH" help:"docker provider: folder with ca.pem, cert.pem, key.pem for TLS to a tcp engine"`
	DockerAgent       string        `env:"DOCKER_AGENT" help:"docker provider: path of a static sockerless-agent on the engine's host; required"`
	AgentRelay        string        `env:"DOCKER_AGENT_RELAY_URL" help:"docker provider: the relay URL as workloads reach it (default SOCKERLESS_RELAY_URL)"`
	AgentControl      string        `env:"DOCKER_AGENT_CONTROL_PLANE_URL" help:"docker provider: this service's URL as workloads reach it (agents' exit and health reports); required"`
	RelayURL          string        `env:"RELAY_URL" help:"the relay's base URL, ws://HOST:PORT or wss://...; required"`
	Secret            string        `env:"SECRET" help:"deployment secret shared with the relay (tickets, agent tokens); this or SECRET_ARN is required"`
	SecretARN         string        `env:"SECRET_ARN" help:"ARN of an AWS Secrets Manager secret holding the deployment secret, read at start (instead of SECRET)"`
	Token             string        `env:"TOKEN" help:"bearer token shims must present (auth mode token)"`
	Auth              string        `env:"AUTH" help:"how shims authenticate: token, aws-iam (Lambda Function URL with AWS_IAM), google-idtoken (Cloud Run), azure-key; default token when SOCKERLESS_TOKEN is set"`
	FunctionKey       string        `env:"FUNCTION_KEY" help:"Azure function key shims must send in x-functions-key (auth mode azure-key)"`
	AWSAccounts       []string      `env:"AWS_ACCOUNTS" help:"comma-separated AWS account ids allowed to call (auth mode aws-iam); empty allows any caller Lambda verified"`
	Audience          string        `env:"AUDIENCE" help:"the service URL Google ID tokens must be issued for (auth mode google-idtoken)"`
	AllowedEmails     []string      `env:"ALLOWED_EMAILS" help:"comma-separated service account emails allowed (auth mode google-idtoken); empty allows any"`
	DevNoAuth         bool          `env:"DEV_LOOPBACK_NO_AUTH" help:"development only: accept unauthenticated requests, listening on 127.0.0.1 only"`
	Platform          string        `env:"PLATFORM" envDefault:"auto" help:"auto (detect), lambda, azure (custom handler on FUNCTIONS_CUSTOMHANDLER_PORT) or http (Cloud Run and others, on PORT)"`
	LogFormat         string        `env:"LOG_FORMAT" envDefault:"json" help:"json or text"`
	PollWindow        time.Duration `env:"POLL_WINDOW" envDefault:"20s" help:"longest single poll of a long wait"`
	StoreTimeout      time.Duration `env:"STORE_TIMEOUT" envDefault:"5s" help:"longest wait for one state-store call; past it a request answers 503 state store unreachable"`
	LogLevel          string        `env:"LOG_LEVEL" envDefault:"info" help:"debug, info, warn or error"`
	SweepInterval     time.Duration `env:"SWEEP_INTERVAL" help:"when set, this process also calls the reconcile sweep (restarts by policy, vanished workloads) at that interval and when records ask; leave unset where a scheduler (EventBridge, Cloud Scheduler, a timer trigger) calls POST /_sockerless/sweep"`
	AgentURLAlias     string        `env:"AGENT_URL_ALIAS" help:"ecs and lambda providers under Lambda: the alias of this function whose Function URL (auth NONE) agents report exits to, looked up at start (lambda:GetFunctionUrlConfig) when CONTROL_PLANE_URL is not set"`
	WorkloadLostAfter time.Duration `env:"WORKLOAD_LOST_AFTER" envDefault:"30s" help:"how long a workload's agent must have been away from the relay before the sweep records its container as exited (255)"`
	// ECS is read only for SOCKERLESS_PROVIDER=ecs, Lambda for lambda.
	ECS    ecs.Config    `envPrefix:""`
	Lambda lambda.Config `envPrefix:""`
}

const envPrefix = "SOCKERLESS_"

// version is set at build time with -ldflags "-X main.version=...".
var version = "0.1.0-dev"

func main() {
	restored, err := restoreSecrets()
	if err != nil {
		fmt.Fprintln(os.Stderr, "sockerless-functions:", err)
		os.Exit(2)
	}
	if !restored {
		if exe, err := os.Executable(); err == nil {
			if err := hideSecrets(exe, os.Args, os.Environ()); err != nil {
				fmt.Fprintln(os.Stderr, "sockerless-functions:", err)
				os.Exit(2)
			}
		}
	}
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
	switch {
	case c.Secret == "" && c.SecretARN == "":
		return fmt.Errorf("%sSECRET or %sSECRET_ARN is required (the relay must share the secret)", envPrefix, envPrefix)
	case c.Secret != "" && c.SecretARN != "":
		return fmt.Errorf("set one of %sSECRET and %sSECRET_ARN, not both", envPrefix, envPrefix)
	case c.SecretARN != "":
		if _, err := parseSecretARN(c.SecretARN); err != nil {
			return err
		}
	}
	u, err := url.Parse(c.RelayURL)
	if c.RelayURL == "" || err != nil || (u.Scheme != "ws" && u.Scheme != "wss" && u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("%sRELAY_URL=%q: want ws://HOST:PORT or wss://HOST", envPrefix, c.RelayURL)
	}
	switch c.Provider {
	case "memory", "synthetic":
	case "docker":
		if c.DockerHost == "" || c.DockerAgent == "" || c.AgentControl == "" {
			return fmt.Errorf("%sPROVIDER=docker needs %sDOCKER_HOST, %sDOCKER_AGENT and %sDOCKER_AGENT_CONTROL_PLANE_URL", envPrefix, envPrefix, envPrefix, envPrefix)
		}
		if c.AgentRelay == "" {
			c.AgentRelay = c.RelayURL
		}
	case "ecs":
		if err := c.ECS.Validate(envPrefix); err != nil {
			return err
		}
	case "lambda":
		if err := c.Lambda.Validate(envPrefix); err != nil {
			return err
		}
	default:
		return fmt.Errorf("%sPROVIDER=%q: want memory, synthetic, docker, ecs or lambda", envPrefix, c.Provider)
	}
	if c.Auth == "" && c.Token != "" {
		c.Auth = "token"
	}
	switch c.Auth {
	case "":
		if !c.DevNoAuth {
			return fmt.Errorf("no authentication configured: set %sAUTH (%s) or %sTOKEN, or %sDEV_LOOPBACK_NO_AUTH=true for development on loopback",
				envPrefix, strings.Join(controlauth.Modes, ", "), envPrefix, envPrefix)
		}
	case "token":
		if c.Token == "" {
			return fmt.Errorf("%sAUTH=token needs %sTOKEN", envPrefix, envPrefix)
		}
	case "azure-key":
		if c.FunctionKey == "" {
			return fmt.Errorf("%sAUTH=azure-key needs %sFUNCTION_KEY", envPrefix, envPrefix)
		}
	case "google-idtoken":
		if c.Audience == "" {
			return fmt.Errorf("%sAUTH=google-idtoken needs %sAUDIENCE (the service URL)", envPrefix, envPrefix)
		}
	case "aws-iam":
	default:
		return fmt.Errorf("%sAUTH=%q: want one of %s", envPrefix, c.Auth, strings.Join(controlauth.Modes, ", "))
	}
	switch c.Platform {
	case "auto", "lambda", "azure", "http":
	default:
		return fmt.Errorf("%sPLATFORM=%q: want auto, lambda, azure or http", envPrefix, c.Platform)
	}
	if c.LogFormat != "json" && c.LogFormat != "text" {
		return fmt.Errorf("%sLOG_FORMAT=%q: want json or text", envPrefix, c.LogFormat)
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(c.LogLevel)); err != nil {
		return fmt.Errorf("%sLOG_LEVEL=%q: want debug, info, warn or error", envPrefix, c.LogLevel)
	}
	if c.StoreTimeout < 0 || c.StoreTimeout > c.PollWindow {
		return fmt.Errorf("%sSTORE_TIMEOUT=%s: want a duration in (0, %sPOLL_WINDOW]", envPrefix, c.StoreTimeout, envPrefix)
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
	// The secrets now live in cfg only (see hideSecrets).
	dropSecretVars()
	var level slog.Level
	_ = level.UnmarshalText([]byte(cfg.LogLevel))
	var handler slog.Handler = slog.NewJSONHandler(stderr, &slog.HandlerOptions{Level: level})
	if cfg.LogFormat == "text" {
		handler = slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level})
	}
	log := slog.New(handler)
	platform, addr := detect(cfg, os.Getenv)
	auth, err := verifier(context.Background(), cfg)
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if cfg.SecretARN != "" {
		if cfg.Secret, err = secretFromARN(ctx, cfg.SecretARN); err != nil {
			return err
		}
	}
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
	var cloud func(rep providers.Reporter) (providers.Provider, error)
	if cfg.Provider == "ecs" || cfg.Provider == "lambda" {
		if cloud, err = awsProvider(ctx, cfg, platform, log); err != nil {
			return err
		}
	}
	newProvider := func(hub *relay.Hub, rep providers.Reporter) (providers.Provider, error) {
		if cloud != nil {
			// Cloud workloads' agents dial the relay themselves.
			return cloud(rep)
		}
		var p providers.Provider
		switch cfg.Provider {
		case "docker":
			// Its workloads' agents dial the network relay themselves.
			c, err := docker.NewClient(cfg.DockerHost, cfg.DockerCert)
			if err != nil {
				return nil, err
			}
			return docker.New(docker.Options{Client: c, Reporter: rep, Secret: secret, RelayURL: cfg.AgentRelay,
				ControlPlaneURL: cfg.AgentControl, AgentPath: cfg.DockerAgent})
		case "memory":
			mp, err := memory.New(memory.Options{Hub: hub, Reporter: rep, Sandbox: sb, StateDir: stateDir})
			if err != nil {
				return nil, err
			}
			p = mp
		default:
			p = synthetic.New(synthetic.Options{Hub: hub, Reporter: rep})
		}
		return fnserver.Relayed(p, hub, secret, cfg.RelayURL, cfg.WorkloadLostAfter, log), nil
	}
	fcfg := fnserver.Config{
		Addr: addr, State: cfg.State, RelayURL: cfg.RelayURL, Secret: secret, Auth: auth,
		PollWindow: cfg.PollWindow, StoreTimeout: cfg.StoreTimeout, Version: version, SweepInterval: cfg.SweepInterval,
	}
	log.Info("sockerless-functions starting", "platform", platform, "auth", authName(cfg), "state", redact.URL(cfg.State))
	if platform == "lambda" {
		api, closeAPI, err := fnserver.New(ctx, fcfg, newProvider, log)
		if err != nil {
			return err
		}
		defer closeAPI()
		lambdahttp.Start(lambdahttp.New(api, lambdahttp.Options{}))
		return nil
	}
	return fnserver.Run(ctx, fcfg, newProvider, log, nil)
}

// awsProvider prepares the ECS or Lambda provider: AWS configuration from
// the default chain (endpoints from AWS_ENDPOINT_URL_<SERVICE>), the agent
// binary, the injector with ECR credentials.
func awsProvider(ctx context.Context, cfg Config, platform string, log *slog.Logger) (func(providers.Reporter) (providers.Provider, error), error) {
	awsCfg, err := awsconfig.LoadDefaultConfig(ctx)
	if err != nil {
		return nil, fmt.Errorf("AWS configuration: %w", err)
	}
	if awsCfg.Region == "" {
		return nil, fmt.Errorf("AWS_REGION is required for SOCKERLESS_PROVIDER=%s (or a region in the AWS profile)", cfg.Provider)
	}
	controlPlane, agentPath, repository := cfg.ECS.ControlPlaneURL, cfg.ECS.AgentBinary, cfg.ECS.Repository
	if controlPlane == "" && cfg.AgentURLAlias != "" {
		if controlPlane, err = agentURLFromAlias(ctx, awslambdasvc.NewFromConfig(awsCfg), os.Getenv("AWS_LAMBDA_FUNCTION_NAME"), cfg.AgentURLAlias); err != nil {
			return nil, err
		}
		log.Info("agents report exits through the alias's Function URL", "alias", cfg.AgentURLAlias, "url", controlPlane)
	}
	if controlPlane == "" {
		if platform != "http" {
			return nil, fmt.Errorf("%sCONTROL_PLANE_URL is required on %s: agents report exits to it", envPrefix, platform)
		}
		controlPlane = "http://127.0.0.1:" + cfg.Port
		log.Warn("agents report exits to this process on loopback; set "+envPrefix+"CONTROL_PLANE_URL when workloads cannot reach it", "url", controlPlane)
	}
	bin, err := agentBinary(agentPath)
	if err != nil {
		return nil, err
	}
	repo, err := name.NewRepository(repository)
	if err != nil {
		return nil, fmt.Errorf("%sECR_REPOSITORY=%q: %w", envPrefix, repository, err)
	}
	inj, err := cloudagent.NewInjector(cloudagent.InjectorOptions{Agent: bin, Repository: repository,
		Auth: cloudagent.ECRAuth(awsecr.NewFromConfig(awsCfg), repo.RegistryStr())})
	if err != nil {
		return nil, err
	}
	link := cloudagent.Link{Dialer: wsclient.Dialer{}, RelayURL: cfg.RelayURL, Secret: []byte(cfg.Secret)}
	secret := []byte(cfg.Secret)
	if cfg.Provider == "lambda" {
		lc := cfg.Lambda
		lc.ControlPlaneURL = controlPlane
		return func(rep providers.Reporter) (providers.Provider, error) {
			return lambda.New(lambda.Options{Config: lc, AWS: awsCfg, Injector: inj, Link: link, Secret: secret,
				RelayURL: cfg.RelayURL, Logger: log})
		}, nil
	}
	ec := cfg.ECS
	ec.ControlPlaneURL = controlPlane
	return func(rep providers.Reporter) (providers.Provider, error) {
		return ecs.New(ecs.Options{Config: ec, AWS: awsCfg, Injector: inj, Link: link, Secret: secret,
			RelayURL: cfg.RelayURL, Logger: log})
	}, nil
}

// agentBinary reads the agent to inject: the configured path, else
// sockerless-agent next to this executable.
func agentBinary(path string) ([]byte, error) {
	if path == "" {
		exe, err := os.Executable()
		if err != nil {
			return nil, fmt.Errorf("%sAGENT_BINARY is not set and this executable cannot be found: %w", envPrefix, err)
		}
		path = filepath.Join(filepath.Dir(exe), "sockerless-agent")
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("%sAGENT_BINARY: the agent to inject: %w", envPrefix, err)
	}
	return b, nil
}

// detect picks the platform and the address to listen on (unused under
// Lambda, which is driven through its Runtime API).
func detect(cfg Config, getenv func(string) string) (platform, addr string) {
	platform = cfg.Platform
	if platform == "auto" {
		switch {
		case getenv("AWS_LAMBDA_RUNTIME_API") != "":
			platform = "lambda"
		case getenv("FUNCTIONS_CUSTOMHANDLER_PORT") != "":
			platform = "azure"
		default:
			platform = "http"
		}
	}
	host := ""
	if cfg.DevNoAuth && cfg.Auth == "" {
		host = "127.0.0.1"
	}
	switch platform {
	case "azure":
		// The Functions host forwards requests to its custom handler on
		// loopback.
		return platform, "127.0.0.1:" + getenv("FUNCTIONS_CUSTOMHANDLER_PORT")
	case "lambda":
		return platform, ""
	}
	return platform, host + ":" + cfg.Port
}

// verifier builds the configured authentication (nil in development mode
// without authentication).
func verifier(ctx context.Context, cfg Config) (functions.Authenticator, error) {
	switch cfg.Auth {
	case "token":
		return controlauth.Bearer(cfg.Token), nil
	case "azure-key":
		return controlauth.FunctionKey(cfg.FunctionKey), nil
	case "aws-iam":
		return controlauth.LambdaIAM(cfg.AWSAccounts...), nil
	case "google-idtoken":
		v, err := idtoken.NewValidator(ctx)
		if err != nil {
			return nil, fmt.Errorf("google-idtoken: %w", err)
		}
		return controlauth.GoogleIDToken(v, cfg.Audience, cfg.AllowedEmails...), nil
	}
	return nil, nil
}

func authName(cfg Config) string {
	if cfg.Auth == "" {
		return "none (development, loopback only)"
	}
	return cfg.Auth
}

// usage lists flags and every environment variable with its default.
func usage(fs *flag.FlagSet, w io.Writer) {
	fmt.Fprintf(w, "Usage: sockerless-functions\n\nServes the Docker API handlers on PORT for a shim in cloud/split mode.\n\nEnvironment:\n")
	envdoc.Write(w, Config{}, envPrefix, "PORT")
}
