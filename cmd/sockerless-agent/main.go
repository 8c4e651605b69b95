// Command sockerless-agent runs inside a workload. It dials the relay with
// the container's agent token and serves exec and attach sessions, and
// either keeps the workload alive with no main process (--keep-alive, what
// replaces `tail -f /dev/null`) or wraps the image's entrypoint
// (-- CMD ARGS...): it runs it as the main process, gives its output to
// the workload's log and to attach sessions, reports its exit code to the
// control plane and exits with it.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"github.com/sockerless/sockerless/internal/envdoc"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/caarlos0/env/v11"
	"github.com/gorilla/websocket"
	"github.com/sockerless/sockerless/agent"
	"github.com/sockerless/sockerless/providers"
	"github.com/sockerless/sockerless/relay/frame"
	"github.com/sockerless/sockerless/relay/ticket"
	"github.com/sockerless/sockerless/relay/wsclient"
)

// Config is read from SOCKERLESS_* variables, which the provider sets.
type Config struct {
	RelayURL        string        `env:"RELAY_URL" help:"the relay's base URL (ws:// or wss://); required"`
	ContainerID     string        `env:"CONTAINER_ID" help:"the container this workload runs; required"`
	AgentToken      string        `env:"AGENT_TOKEN" help:"the container's agent token; required"`
	ControlPlaneURL string        `env:"CONTROL_PLANE_URL" help:"functions endpoint exit codes are reported to; empty reports nothing"`
	Tty             bool          `env:"TTY" envDefault:"false" help:"run the main process on a terminal"`
	ExitLinger      time.Duration `env:"EXIT_LINGER" envDefault:"1s" help:"after the main process exits, how long late attach sessions are still served"`
	LogLevel        string        `env:"LOG_LEVEL" envDefault:"warn" help:"debug, info, warn or error"`
	Healthcheck     string        `env:"HEALTHCHECK" help:"the container's health check as JSON (Test, Interval, Timeout, StartPeriod in ns, Retries); empty runs none"`
	Root            string        `env:"ROOT" envDefault:"/" help:"the directory docker cp reads and writes in, as the container's /"`
	OpenStdin       bool          `env:"OPEN_STDIN" envDefault:"true" help:"give the main process a standard input fed by attach sessions; false gives it /dev/null"`
	StdinOnce       bool          `env:"STDIN_ONCE" envDefault:"false" help:"close the main process's standard input when the first attach session's input ends"`
	User            string        `env:"USER" help:"user[:group] the main process runs as (a name from the workload's /etc/passwd or numeric ids); empty runs it as the agent's user"`
	Socket          string        `env:"SOCKET" help:"a unix socket the relay and the control plane are reached through (a workload without a network): RELAY_URL's and CONTROL_PLANE_URL's hosts are then not dialled"`
	HomeFromUser    bool          `env:"HOME_FROM_USER" envDefault:"false" help:"the workload's environment sets no HOME: the main process gets its user's home folder (as runc gives it), not the HOME the platform gave the agent"`
	Subreaper       bool          `env:"SUBREAPER" envDefault:"false" help:"reap orphaned descendants as a PID 1 would (always on when the agent is PID 1)"`
	Peers           string        `env:"PEERS" help:"connections to the network's peers the agent carries through the relay: LISTEN=PEER:PORT,... (needs CONTROL_PLANE_URL)"`
	MountDirs       string        `env:"MOUNT_DIRS" help:"comma-separated directories the agent creates before anything runs: the container's mount points on a workload whose platform makes none (an ECS task's tmpfs and carried binds)"`
	CarryHold       string        `env:"CARRY_HOLD" help:"comma-separated carried-bind destinations: the main process starts once the shim's first push to each has arrived (at most CARRY_HOLD_MAX later)"`
	CarryHoldMax    time.Duration `env:"CARRY_HOLD_MAX" envDefault:"5m" help:"the longest the main process waits for CARRY_HOLD"`
	CarryPullWait   time.Duration `env:"CARRY_PULL_WAIT" envDefault:"1m" help:"after a main process that ended by itself, how long the agent waits for the shim to pull CARRY_HOLD back (at docker wait) before the workload ends"`
	DirectListen    string        `env:"DIRECT_LISTEN" help:"an address (e.g. 0.0.0.0:0) where the agent takes direct connections from its network peers' agents, reported to functions, which offers it to the peers it authorises; they use the relay when it does not answer; empty takes none (needs CONTROL_PLANE_URL)"`
	PeerNet         bool          `env:"PEER_NET" envDefault:"false" help:"give the main process its user networks' peers by name: each gets a loopback address in /etc/hosts where the agent listens on the ports the peer serves and carries connections through the relay (needs CONTROL_PLANE_URL)"`
	LambdaRuntime   bool          `env:"LAMBDA_RUNTIME" envDefault:"false" help:"be a Lambda function's runtime: take one invocation from AWS_LAMBDA_RUNTIME_API, run for it and answer it with the exit code"`
	ExitedHold      time.Duration `env:"EXITED_HOLD" envDefault:"0s" help:"after a main process that ended by itself, how long the workload goes on serving the container's files for docker cp (as an exited Docker container keeps them), under the relay name ticket.ExitedContainer(CONTAINER_ID); it ends sooner when the workload is stopped (docker rm) or the next run's agent takes the name; 0 ends the workload at once"`
	ExitedToken     string        `env:"EXITED_TOKEN" help:"the agent token of ticket.ExitedContainer(CONTAINER_ID), for EXITED_HOLD"`
	LogTags         bool          `env:"LOG_TAGS" envDefault:"false" help:"write the main process's output as tagged lines (\"1 ...\" stdout, \"2 ...\" stderr) for a log service that mixes the streams (ECS awslogs)"`
}

const envPrefix = "SOCKERLESS_"

func main() {
	code, err := run(os.Args[1:], os.Stdout, os.Stderr)
	if err != nil && !errors.Is(err, flag.ErrHelp) {
		fmt.Fprintln(os.Stderr, "sockerless-agent:", err)
		if code == 0 {
			code = 2
		}
	}
	os.Exit(code)
}

func run(args []string, stdout, stderr io.Writer) (int, error) {
	cfg, err := env.ParseAsWithOptions[Config](env.Options{Prefix: envPrefix})
	if err != nil {
		return 2, fmt.Errorf("configuration: %w", err)
	}
	fs := flag.NewFlagSet("sockerless-agent", flag.ContinueOnError)
	fs.SetOutput(stderr)
	keepAlive := fs.Bool("keep-alive", false, "serve exec and attach with no main process")
	fs.Usage = func() { usage(fs, stderr) }
	if err := fs.Parse(args); err != nil {
		return 2, err
	}
	cmd := fs.Args()
	if *keepAlive == (len(cmd) > 0) {
		return 2, errors.New("give either --keep-alive or -- CMD [ARGS]")
	}
	if cfg.RelayURL == "" || cfg.ContainerID == "" || cfg.AgentToken == "" {
		return 2, fmt.Errorf("%sRELAY_URL, %sCONTAINER_ID and %sAGENT_TOKEN are required", envPrefix, envPrefix, envPrefix)
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(cfg.LogLevel)); err != nil {
		return 2, fmt.Errorf("%sLOG_LEVEL=%q: want debug, info, warn or error", envPrefix, cfg.LogLevel)
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))

	var health *agent.HealthProbe
	if cfg.Healthcheck != "" {
		health = &agent.HealthProbe{}
		if err := json.Unmarshal([]byte(cfg.Healthcheck), &health.Healthcheck); err != nil {
			return 2, fmt.Errorf("%sHEALTHCHECK: %w", envPrefix, err)
		}
		health.Env, health.WorkingDir = workloadEnv(), cwd()
	}

	var lambdaRequest string
	lambda := agent.LambdaRuntime{API: os.Getenv("AWS_LAMBDA_RUNTIME_API")}
	if cfg.LambdaRuntime {
		if lambda.API == "" {
			return 2, fmt.Errorf("%sLAMBDA_RUNTIME needs AWS_LAMBDA_RUNTIME_API", envPrefix)
		}
		// The workload runs for an invocation: wait for it.
		if lambdaRequest, err = lambda.Next(context.Background()); err != nil {
			return 2, err
		}
	}

	var rep *agent.HTTPReporter
	if cfg.ControlPlaneURL != "" {
		rep = &agent.HTTPReporter{BaseURL: cfg.ControlPlaneURL, Container: cfg.ContainerID, Token: cfg.AgentToken,
			OnRetry: func(n int, err error) { log.Warn("exit report not acknowledged; retrying", "attempt", n, "err", err) }}
	}
	var ws *websocket.Dialer
	if cfg.Socket != "" {
		dial := func(ctx context.Context, _, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, "unix", cfg.Socket)
		}
		ws = &websocket.Dialer{NetDialContext: dial, ReadBufferSize: 4 << 10, WriteBufferSize: 4 << 10}
		if rep != nil {
			rep.Client = &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{DialContext: dial}}
		}
	}
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT, syscall.SIGHUP, syscall.SIGQUIT, syscall.SIGUSR1, syscall.SIGUSR2)
	defer signal.Stop(sigs)

	stopped := make(chan struct{})
	mainReady := make(chan struct{})
	// The container's OOM-kill count when the main process starts: a rise
	// by its end is reported as State.OOMKilled.
	var oomBefore uint64
	var oomKnown bool
	local := &agent.Local{Stopped: stopped, StopCode: 143}
	defer local.Close() // the carried binds' watchers
	// Signals an attach session sends a keep-alive agent count as sent
	// to the agent itself (docker kill through a provider with no signal
	// API of its own).
	local.OnSignal = func(n int) {
		select {
		case sigs <- syscall.Signal(n):
		default:
		}
	}
	local.Root = cfg.Root
	if !*keepAlive {
		local.MainReady = mainReady
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if os.Getpid() == 1 || cfg.Subreaper {
		// Orphans are re-parented to a PID 1 (or a subreaper); without
		// collecting them the workload fills with zombies.
		if os.Getpid() != 1 {
			if err := agent.BecomeSubreaper(); err != nil {
				return 2, fmt.Errorf("cannot become a child subreaper: %w", err)
			}
		}
		go agent.Reap(ctx)
	}
	if cfg.Peers != "" {
		fwds, err := agent.ParsePeers(cfg.Peers)
		if err != nil {
			return 2, fmt.Errorf("%sPEERS: %w", envPrefix, err)
		}
		pp := &agent.PeerProxy{ControlPlaneURL: cfg.ControlPlaneURL, Container: cfg.ContainerID, Token: cfg.AgentToken,
			Dialer: wsclient.Dialer{}, Logger: log}
		if err := pp.Listen(ctx, fwds); err != nil {
			return 2, err
		}
	}
	for _, d := range strings.Split(cfg.MountDirs, ",") {
		if d = strings.TrimSpace(d); d != "" {
			if err := os.MkdirAll(d, 0o755); err != nil {
				return 2, fmt.Errorf("%sMOUNT_DIRS: %w", envPrefix, err)
			}
		}
	}
	// The peers are fetched while the relay link comes up (one round trip
	// each, side by side); the main process starts once both are done.
	peersReady := make(chan struct{})
	var own []int
	if cfg.DirectListen != "" && cfg.ControlPlaneURL != "" {
		dl := &agent.DirectListener{ControlPlaneURL: cfg.ControlPlaneURL, Container: cfg.ContainerID, Token: cfg.AgentToken,
			Listen: cfg.DirectListen, Workload: local, Logger: log}
		port, err := dl.Start(ctx)
		switch {
		case errors.Is(err, agent.ErrNoDirectAddress):
			// Only loopback: peers reach the workload through the relay,
			// as expected, so nothing to say on the container's stderr.
			log.Debug("direct connections not taken", "err", err)
		case err != nil:
			log.Warn("direct connections not taken: peers use the relay", "err", err)
		default:
			own = append(own, port)
		}
	}
	if cfg.PeerNet && cfg.ControlPlaneURL != "" {
		pn := &agent.PeerNet{ControlPlaneURL: cfg.ControlPlaneURL, Container: cfg.ContainerID, Token: cfg.AgentToken,
			HostsFile: "/etc/hosts", Logger: log, Exclude: own,
			Proxy: &agent.PeerProxy{ControlPlaneURL: cfg.ControlPlaneURL, Container: cfg.ContainerID, Token: cfg.AgentToken,
				Dialer: wsclient.Dialer{}, Logger: log}}
		go func() {
			defer close(peersReady)
			if _, err := pn.Start(ctx); err != nil {
				// The workload still runs; its peers are not reachable by name.
				log.Warn("network peers not set up", "err", err)
			}
		}()
	} else {
		close(peersReady)
	}
	hold := agent.NewCarryHold(ticket.CarryPush, strings.Split(cfg.CarryHold, ","))
	// Set when the main process has ended: the shim's pull of the
	// carried binds after that (at docker wait) is what the agent stays
	// for, or the workload would be gone before its files came back.
	var pullHold atomic.Pointer[agent.CarryHold]
	var sessions sync.WaitGroup
	a := &wsclient.Agent{
		RelayURL: cfg.RelayURL, Container: cfg.ContainerID, Token: cfg.AgentToken, Logger: log, WS: ws,
		Track: &sessions,
		Serve: func(ctx context.Context, g ticket.Grant, conn io.ReadWriteCloser) {
			defer func() {
				hold.Served(g)
				if h := pullHold.Load(); h != nil {
					h.Served(g)
				}
			}()
			_, _ = agent.ServeSession(ctx, conn, g, local, func(code int) {
				if rep != nil && g.ExecID != "" {
					rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
					defer cancel()
					if err := rep.ExecExited(rctx, g.ExecID, code, time.Now()); err != nil {
						log.Error("exec exit not reported", "exec", g.ExecID, "err", err)
					}
				}
			})
		},
	}
	connected := make(chan struct{})
	var once sync.Once
	a.OnConnect = func() { once.Do(func() { close(connected) }) }
	agentDone := make(chan error, 1)
	go func() { agentDone <- a.Run(ctx) }()

	if !*keepAlive {
		// Start the main process once the relay link is up, so sessions
		// waiting for this workload (an attach before start) are offered
		// without delay.
		select {
		case <-connected:
		case err := <-agentDone:
			return 2, err
		case <-time.After(30 * time.Second):
			log.Warn("relay not reachable; starting the main process anyway")
		}
		select {
		case <-peersReady:
		case <-ctx.Done():
		}
		// Carried binds arrive after the start (the shim pushes once the
		// agent serves): the main process starts on them.
		if !hold.Wait(ctx, cfg.CarryHoldMax) {
			log.Warn("carried binds did not all arrive; starting the main process anyway", "missing", hold.Missing())
		}
		spec := agent.MainSpec{
			Process: ticket.Process{Cmd: cmd, Env: mainEnv(cfg), WorkingDir: cwd(), Tty: cfg.Tty, User: cfg.User},
			Log:     stdout,
			ErrLog:  stderr, NoStdin: !cfg.OpenStdin, StdinOnce: cfg.StdinOnce,
		}
		if cfg.LogTags {
			// One pipe, so the two streams' lines keep their order.
			var mu sync.Mutex
			spec.Log, spec.ErrLog = agent.TagLines(stdout, &mu, 1), agent.TagLines(stdout, &mu, 2)
		}
		oomBefore, oomKnown = agent.OOMKills(agent.CgroupRoot)
		m, err := agent.StartMain(ctx, spec)
		if err != nil {
			fmt.Fprintf(stderr, "exec %s: %v\n", cmd[0], err)
		}
		local.Main = m
		close(mainReady)
	}

	if health != nil {
		hctx, stopHealth := context.WithCancel(ctx)
		defer stopHealth()
		go agent.RunHealthchecks(hctx, *health, func(res providers.HealthResult) {
			if rep == nil {
				return
			}
			rctx, cancel := context.WithTimeout(hctx, time.Minute)
			defer cancel()
			if err := rep.Health(rctx, cfg.ContainerID, res); err != nil && hctx.Err() == nil {
				log.Warn("health result not reported", "err", err)
			}
		})
	}

	var mainDone <-chan struct{}
	if local.Main != nil {
		mainDone = local.Main.Done()
	}
	code := 0
	signalled := false
	for loop := true; loop; {
		select {
		case s := <-sigs:
			signalled = true
			if local.Main != nil {
				// Standing in for the container's PID 1, the agent passes on
				// only what a PID 1 main process would receive: a signal it
				// has a handler for.
				if sig := s.(syscall.Signal); os.Getpid() != 1 || agent.Catches(local.Main.Pid(), sig) {
					_ = local.Main.Signal(int(sig))
				}
				continue
			}
			if s == syscall.SIGTERM || s == syscall.SIGINT || s == syscall.SIGKILL {
				code = 128 + int(s.(syscall.Signal))
				close(stopped)
				loop = false
			}
		case <-mainDone:
			code = local.Main.ExitCode()
			loop = false
		case err := <-agentDone:
			return 2, err
		}
	}
	// Serve an attach that arrives just after the exit (it gets the output
	// and the code) and let sessions deliver the code before reporting:
	// the report can remove the workload (docker run --rm).
	// The wait ends as soon as one attaches: the attach the shim opened
	// before the start is often offered while a short command exits.
	// Sessions count from their offer (wsclient.Agent.Track), so one
	// offered but still opening its stream is waited for below.
	if local.Main != nil && !local.Main.Attached() {
		select {
		case <-local.Main.AttachedC():
		case <-time.After(cfg.ExitLinger):
		}
	}
	waitTimeout(&sessions, 5*time.Second)
	oomKilled := false
	if oomKnown {
		n, ok := agent.OOMKills(agent.CgroupRoot)
		oomKilled = ok && n > oomBefore
	}
	var pulls *agent.CarryHold
	if local.Main != nil && !signalled && cfg.CarryHold != "" {
		// (A stop or kill pulled before it signalled.)
		pulls = agent.NewCarryHold(ticket.CarryPull, strings.Split(cfg.CarryHold, ","))
		pullHold.Store(pulls)
	}
	agent.DrainOutput(time.Second, os.Stdout, os.Stderr)
	// Close the relay link before exiting: a workload's network can vanish
	// with its process before a FIN leaves, and the relay would then offer
	// the next run's sessions (a restart) to a dead link until its pings
	// time out. Unless carried binds are still to be pulled through it,
	// it is closed before the exit is reported: a client told of the exit
	// can start the container again at once (docker start -a), and its
	// attach must wait for the next run's agent, not be offered to this
	// one's closing link.
	closeLink := func() {
		cancel()
		select {
		case <-agentDone:
		case <-time.After(2 * time.Second):
		}
	}
	if pulls == nil {
		closeLink()
	}
	report(rep, log, code, oomKilled)
	if pulls != nil {
		if !pulls.Wait(ctx, cfg.CarryPullWait) {
			log.Info("carried binds not pulled back after the exit", "missing", pulls.Missing())
		}
		closeLink()
	}
	// (A run killed for memory ends its workload, so the platform records
	// why, as ECS's OutOfMemoryError.)
	if local.Main != nil && !signalled && !oomKilled && cfg.ExitedHold > 0 && cfg.ExitedToken != "" && lambdaRequest == "" {
		holdFiles(cfg, ws, local, sigs, log)
	}
	if lambdaRequest != "" {
		if err := lambda.Respond(context.Background(), lambdaRequest, agent.LambdaResult{ExitCode: code}); err != nil {
			log.Error("invocation not answered", "err", err)
		}
	}
	return code, nil
}

// holdFiles keeps the workload after its main process ended by itself,
// serving docker cp out of the container (archive reads only: a write is
// staged by the shim for the next start, as that runs a new workload) for
// cfg.ExitedHold, under the relay name ticket.ExitedContainer, until the
// workload is stopped (SIGTERM: docker rm) or the relay drops or replaces
// the link (the next run has exited and holds its own files).
func holdFiles(cfg Config, ws *websocket.Dialer, local *agent.Local, sigs <-chan os.Signal, log *slog.Logger) {
	ctx, cancel := context.WithTimeout(context.Background(), cfg.ExitedHold)
	defer cancel()
	var sessions sync.WaitGroup
	a := &wsclient.Agent{
		RelayURL: cfg.RelayURL, Container: ticket.ExitedContainer(cfg.ContainerID), Token: cfg.ExitedToken, Logger: log, WS: ws,
		Track: &sessions, Once: true,
		Serve: func(ctx context.Context, g ticket.Grant, conn io.ReadWriteCloser) {
			if g.Kind != ticket.KindArchive || g.Archive == nil || g.Archive.Op == ticket.ArchivePut {
				_ = frame.Write(conn, frame.Error, []byte("the container has exited: only its files can be read"))
				_ = conn.Close()
				return
			}
			_, _ = agent.ServeSession(ctx, conn, g, local, nil)
		},
	}
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	for {
		select {
		case s := <-sigs:
			if s != syscall.SIGTERM && s != syscall.SIGINT {
				continue
			}
		case err := <-done:
			log.Debug("exited container's files no longer served", "err", err)
			waitTimeout(&sessions, 5*time.Second)
			return
		}
		break
	}
	cancel()
	<-done
	waitTimeout(&sessions, 5*time.Second)
}

func report(rep *agent.HTTPReporter, log *slog.Logger, code int, oomKilled bool) {
	if rep == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := rep.ExitedOOM(ctx, code, oomKilled, time.Now()); err != nil {
		log.Error("main process exit not reported", "err", err)
	}
}

func waitTimeout(wg *sync.WaitGroup, d time.Duration) {
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(d):
	}
}

// workloadEnv is the agent's environment without its own SOCKERLESS_*
// settings: the token never reaches the workload's processes.
//
// SOCKERLESS_ENV, a JSON array of NAME=VALUE, adds to it (replacing
// variables of the same name): a platform that refuses some names in its
// own environment settings (Lambda: single letters, AWS_ names) carries
// the container's environment that way.
func workloadEnv() []string {
	var out []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, envPrefix) {
			out = append(out, kv)
		}
	}
	var extra []string
	if v := os.Getenv(envPrefix + "ENV"); v != "" && json.Unmarshal([]byte(v), &extra) == nil {
		out = mergeEnv(out, extra)
	}
	return out
}

// mainEnv is the main process's environment: the workload's, less the
// HOME the platform set for the agent when the workload sets none
// (HOME_FROM_USER; agent.StartMain then gives the user's).
func mainEnv(cfg Config) []string {
	env := workloadEnv()
	if !cfg.HomeFromUser {
		return env
	}
	out := env[:0]
	for _, kv := range env {
		if !strings.HasPrefix(kv, "HOME=") {
			out = append(out, kv)
		}
	}
	return out
}

// mergeEnv returns base with over's variables added, replacing those of
// the same name.
func mergeEnv(base, over []string) []string {
	idx := map[string]int{}
	for i, kv := range base {
		k, _, _ := strings.Cut(kv, "=")
		idx[k] = i
	}
	for _, kv := range over {
		k, _, _ := strings.Cut(kv, "=")
		if i, ok := idx[k]; ok {
			base[i] = kv
			continue
		}
		idx[k] = len(base)
		base = append(base, kv)
	}
	return base
}

func cwd() string {
	d, err := os.Getwd()
	if err != nil {
		return "/"
	}
	return d
}

// usage lists flags and every environment variable with its default.
func usage(fs *flag.FlagSet, w io.Writer) {
	fmt.Fprintf(w, "Usage: sockerless-agent --keep-alive\n       sockerless-agent -- CMD [ARGS...]\n\nServes exec and attach for a workload through the relay.\n\nFlags:\n")
	fs.PrintDefaults()
	fmt.Fprintf(w, "\nEnvironment:\n")
	envdoc.Write(w, Config{}, envPrefix)
}
