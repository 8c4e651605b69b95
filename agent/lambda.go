package agent

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"time"
)

// LambdaRuntime is the agent's side of the Lambda Runtime API
// (AWS_LAMBDA_RUNTIME_API) when the agent is a container-image
// function's runtime: it takes one invocation, the agent runs the
// container's command for it, and the exit code is the invocation's
// response.
type LambdaRuntime struct {
	// API is AWS_LAMBDA_RUNTIME_API (host:port).
	API string
	// Client defaults to one without a timeout (next blocks until an
	// invocation arrives).
	Client *http.Client
}

// LambdaResult is the response body of an invocation: the main process's
// exit code.
type LambdaResult struct {
	ExitCode int `json:"exitCode"`
}

func (l LambdaRuntime) client() *http.Client {
	if l.Client != nil {
		return l.Client
	}
	return &http.Client{}
}

// Next waits for the next invocation and returns its request id.
func (l LambdaRuntime) Next(ctx context.Context) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+l.API+"/2018-06-01/runtime/invocation/next", nil)
	if err != nil {
		return "", err
	}
	resp, err := l.client().Do(req)
	if err != nil {
		return "", fmt.Errorf("lambda runtime: next: %w", err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("lambda runtime: next: %s", resp.Status)
	}
	id := resp.Header.Get("Lambda-Runtime-Aws-Request-Id")
	if id == "" {
		return "", fmt.Errorf("lambda runtime: next: no request id")
	}
	return id, nil
}

// Respond posts the invocation's result.
func (l LambdaRuntime) Respond(ctx context.Context, requestID string, res LambdaResult) error {
	body, _ := json.Marshal(res)
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://"+l.API+"/2018-06-01/runtime/invocation/"+requestID+"/response", bytes.NewReader(body))
	if err != nil {
		return err
	}
	resp, err := l.client().Do(req)
	if err != nil {
		return fmt.Errorf("lambda runtime: response: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("lambda runtime: response: %s", resp.Status)
	}
	return nil
}
