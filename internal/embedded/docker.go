package embedded

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/api/types/registry"
	"github.com/moby/moby/client"
	"github.com/sockerless/sockerless/functions"
	"github.com/sockerless/sockerless/functions/records"
	"github.com/sockerless/sockerless/internal/errdefs"
	"github.com/sockerless/sockerless/providers/docker"
	"github.com/sockerless/sockerless/relay/server"
)

// agentRoutes is the path prefix of the functions endpoints agents report
// to (exits, exec exits, health), served to workloads beside the relay.
const agentRoutes = "/_sockerless/agent/"

// dockerSetup is what the docker provider's workloads dial.
type dockerSetup struct {
	client     *client.Client
	relayURL   string
	controlURL string
	// relaySocket serves the same as relayURL and controlURL to
	// workloads without a network (docker.Options.RelaySocket); empty
	// for an engine on another host.
	relaySocket string
	api         *lateHandler
}

// lateHandler serves the functions API once it exists (the provider, and
// so the listener, is made before it).
type lateHandler struct{ h atomic.Pointer[http.Handler] }

func (l *lateHandler) set(h http.Handler) { l.h.Store(&h) }

func (l *lateHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := l.h.Load()
	if h == nil {
		http.Error(w, `{"message":"starting"}`, http.StatusServiceUnavailable)
		return
	}
	(*h).ServeHTTP(w, r)
}

// dockerCallbacks connects to the engine and serves, on an address its
// containers reach, the network relay and the agents' report endpoints
// (only those: the Docker API itself stays on the shim's socket).
func (s *Sockerless) dockerCallbacks(ctx context.Context, opts Options, secret []byte, log *slog.Logger) (*dockerSetup, error) {
	if opts.Docker.AgentPath == "" {
		return nil, errors.New("embedded: the docker provider needs the path of a static sockerless-agent (SOCKERLESS_DOCKER_AGENT)")
	}
	c, err := docker.NewClient(opts.Docker.Host, opts.Docker.CertPath)
	if err != nil {
		return nil, fmt.Errorf("embedded: %w", err)
	}
	s.closers = append(s.closers, c.Close)
	listen := opts.Docker.Listen
	if listen == "" {
		nw, err := c.NetworkInspect(ctx, "bridge", client.NetworkInspectOptions{})
		if err != nil {
			return nil, fmt.Errorf("embedded: docker provider: the engine's bridge network (set the listen address explicitly): %w", err)
		}
		var gw string
		for _, cfg := range nw.Network.IPAM.Config {
			if cfg.Gateway.Is4() {
				gw = cfg.Gateway.String()
				break
			}
		}
		if gw == "" {
			return nil, errors.New("embedded: docker provider: the engine's bridge network has no IPv4 gateway (set the listen address explicitly)")
		}
		listen = net.JoinHostPort(gw, "0")
	}
	ln, err := net.Listen("tcp", listen)
	if err != nil {
		return nil, fmt.Errorf("embedded: docker provider: listening for workloads on %s: %w", listen, err)
	}
	relaySrv, err := server.New(server.Options{Secret: secret, Logger: log})
	if err != nil {
		ln.Close()
		return nil, fmt.Errorf("embedded: %w", err)
	}
	api := &lateHandler{}
	mux := http.NewServeMux()
	mux.Handle(agentRoutes, api)
	mux.Handle("/", relaySrv)
	srv := relaySrv.HTTPServer()
	srv.Handler = mux
	go func() { _ = srv.Serve(ln) }()
	relaySocket := ""
	if strings.HasPrefix(opts.Docker.Host, "unix://") {
		// A local engine mounts a socket's folder into workloads
		// without a network.
		dir, err := os.MkdirTemp("", "sockerless-relay-")
		if err != nil {
			return nil, fmt.Errorf("embedded: docker provider: %w", err)
		}
		s.closers = append(s.closers, func() error { return os.RemoveAll(dir) })
		uln, err := net.Listen("unix", filepath.Join(dir, "relay.sock"))
		if err != nil {
			return nil, fmt.Errorf("embedded: docker provider: listening for workloads without a network: %w", err)
		}
		relaySocket = uln.Addr().String()
		go func() { _ = srv.Serve(uln) }()
	}
	s.closers = append(s.closers, func() error {
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
		return nil
	})
	host := ln.Addr().String()
	if opts.Docker.AdvertiseHost != "" {
		_, port, _ := net.SplitHostPort(host)
		host = net.JoinHostPort(strings.Trim(opts.Docker.AdvertiseHost, "[]"), port)
	}
	return &dockerSetup{client: c, relayURL: "ws://" + host, controlURL: "http://" + host, relaySocket: relaySocket, api: api}, nil
}

// engineRegistry resolves images on the docker provider's engine: the
// image a workload runs is the engine's, so `docker pull` through
// Sockerless records the engine's image (pulling it there first when the
// engine lacks it), with its real id and config.
type engineRegistry struct{ c *client.Client }

// Fetch implements functions.Registry.
func (r engineRegistry) Fetch(ctx context.Context, ref, platform string, auth registry.AuthConfig) (*records.Image, error) {
	res, err := r.c.ImageInspect(ctx, ref)
	if cerrdefs.IsNotFound(err) {
		var enc string
		if auth != (registry.AuthConfig{}) {
			b, _ := json.Marshal(auth)
			enc = base64.URLEncoding.EncodeToString(b)
		}
		pull, perr := r.c.ImagePull(ctx, ref, client.ImagePullOptions{RegistryAuth: enc})
		if perr != nil {
			return nil, classifyEngine(perr)
		}
		perr = pull.Wait(ctx)
		pull.Close()
		if perr != nil {
			return nil, errdefs.Unavailable(fmt.Errorf("%w: %s: %w", functions.ErrRegistryUnreachable, ref, perr))
		}
		res, err = r.c.ImageInspect(ctx, ref)
	}
	if err != nil {
		return nil, classifyEngine(err)
	}
	img := res.InspectResponse
	rec := &records.Image{ID: img.ID, RepoDigests: img.RepoDigests, Size: img.Size, Source: "pull", Comment: img.Comment}
	if t, err := time.Parse(time.RFC3339Nano, img.Created); err == nil {
		rec.Created = t
	}
	cf, err := docker.ConfigOf(img)
	if err != nil {
		return nil, fmt.Errorf("embedded: %w", err)
	}
	rec.Config = cf
	return rec, nil
}

// Login implements functions.Registry: the engine checks the credentials.
func (r engineRegistry) Login(ctx context.Context, auth registry.AuthConfig) error {
	_, err := r.c.RegistryLogin(ctx, client.RegistryLoginOptions{Username: auth.Username, Password: auth.Password, ServerAddress: auth.ServerAddress, IdentityToken: auth.IdentityToken, RegistryToken: auth.RegistryToken})
	return classifyEngine(err)
}

func classifyEngine(err error) error {
	switch {
	case err == nil:
		return nil
	case cerrdefs.IsNotFound(err):
		return errdefs.NotFound(err)
	case cerrdefs.IsUnauthorized(err), cerrdefs.IsPermissionDenied(err):
		return errdefs.Unauthorized(err)
	case cerrdefs.IsInvalidArgument(err):
		return errdefs.InvalidParameter(err)
	}
	return errdefs.Unavailable(err)
}
