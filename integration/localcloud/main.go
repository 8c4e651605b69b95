// Command localcloud starts a local cloud for tests and demos:
//
//	go run ./integration/localcloud aws
//
// starts, on loopback, everything the ecs and lambda providers call
// (package awscloud: moto, a registry standing in for ECR, the ECS fake,
// a Docker engine running the tasks), prints `export NAME=VALUE` lines
// that configure sockerless-functions for it, then a line `READY`, and
// stops everything it started on SIGTERM or SIGINT.
//
// SOCKERLESS_LOCALCLOUD_ENGINE names a Docker host to run tasks on
// instead of starting the reference engine.
package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/sockerless/sockerless/integration/localcloud/awscloud"
)

func main() {
	if len(os.Args) != 2 || os.Args[1] != "aws" {
		fmt.Fprintln(os.Stderr, "usage: localcloud aws")
		os.Exit(2)
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	cloud, err := awscloud.Start(ctx, awscloud.Options{EngineHost: os.Getenv("SOCKERLESS_LOCALCLOUD_ENGINE"), Logger: log})
	if err != nil {
		fmt.Fprintln(os.Stderr, "localcloud:", err)
		os.Exit(1)
	}
	for _, kv := range cloud.Env {
		k, v, _ := strings.Cut(kv, "=")
		fmt.Printf("export %s=%s\n", k, shellQuote(v))
	}
	fmt.Println("READY")
	<-ctx.Done()
	log.Info("stopping the local cloud")
	cloud.Close()
}

// shellQuote quotes v for a POSIX shell when it needs it.
func shellQuote(v string) string {
	if v != "" && !strings.ContainsAny(v, " \t\n'\"\\$`;&|<>()*?[]#~!{}") {
		return v
	}
	return "'" + strings.ReplaceAll(v, "'", `'\''`) + "'"
}
