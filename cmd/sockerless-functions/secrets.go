package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"syscall"
)

// secretsFDEnv names the descriptor from which a re-executed
// sockerless-functions reads the secrets it was started with.
const secretsFDEnv = envPrefix + "SECRETS_FD"

// secretVars are the variables whose values let anyone forge tickets,
// agent tokens or control-plane requests.
var secretVars = []string{envPrefix + "SECRET", envPrefix + "TOKEN", envPrefix + "FUNCTION_KEY"}

// hideSecrets keeps the secrets out of every place a workload could read
// them. A process's starting environment stays readable in
// /proc/PID/environ whatever it later unsets, so when a secret is in the
// environment the process re-executes itself (same PID) without them,
// handing them over through a pipe; the new image reads them back into
// its own, in-memory environment. It returns without exec'ing when there
// is nothing to hide; on success exec does not return.
func hideSecrets(exe string, argv, environ []string) error {
	secrets := map[string]string{}
	var clean []string
	for _, kv := range environ {
		k, v, _ := strings.Cut(kv, "=")
		if isSecretVar(k) {
			secrets[k] = v
			continue
		}
		if k != secretsFDEnv {
			clean = append(clean, kv)
		}
	}
	if len(secrets) == 0 {
		return nil
	}
	b, err := json.Marshal(secrets)
	if err != nil {
		return err
	}
	if len(b) > 60<<10 {
		return fmt.Errorf("secrets too large (%d bytes) to hand over", len(b))
	}
	var p [2]int
	if err := syscall.Pipe(p[:]); err != nil { // no close-on-exec: the read end survives the exec
		return fmt.Errorf("hiding secrets: %w", err)
	}
	// The pipe holds up to 64 KiB, so the write completes without a reader.
	if _, err := syscall.Write(p[1], b); err != nil {
		return fmt.Errorf("hiding secrets: %w", err)
	}
	_ = syscall.Close(p[1])
	clean = append(clean, secretsFDEnv+"="+strconv.Itoa(p[0]))
	err = syscall.Exec(exe, argv, clean)
	_ = syscall.Close(p[0])
	return fmt.Errorf("hiding secrets: re-exec %s: %w", exe, err)
}

func isSecretVar(k string) bool {
	for _, s := range secretVars {
		if k == s {
			return true
		}
	}
	return false
}

// restoreSecrets reads the secrets a re-executed process was handed into
// its in-memory environment (os.Setenv changes no /proc view), reporting
// whether it was such a process.
func restoreSecrets() (bool, error) {
	fds, ok := os.LookupEnv(secretsFDEnv)
	if !ok {
		return false, nil
	}
	_ = os.Unsetenv(secretsFDEnv)
	fd, err := strconv.Atoi(fds)
	if err != nil || fd < 3 {
		return true, fmt.Errorf("%s=%q: not a descriptor", secretsFDEnv, fds)
	}
	f := os.NewFile(uintptr(fd), "secrets")
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, 64<<10))
	if err != nil {
		return true, fmt.Errorf("reading secrets: %w", err)
	}
	var secrets map[string]string
	if err := json.Unmarshal(b, &secrets); err != nil {
		return true, fmt.Errorf("reading secrets: %w", err)
	}
	for k, v := range secrets {
		if isSecretVar(k) {
			if err := os.Setenv(k, v); err != nil {
				return true, err
			}
		}
	}
	return true, nil
}

// dropSecretVars removes the secrets from the in-memory environment once
// they are parsed, so nothing later (a library, a child process) finds
// them there.
func dropSecretVars() {
	for _, k := range secretVars {
		_ = os.Unsetenv(k)
	}
}
