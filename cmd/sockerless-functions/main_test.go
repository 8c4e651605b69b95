package main

import (
	"encoding/json"
	"os"
	"strings"
	"testing"
)

func TestValidateAuth(t *testing.T) {
	base := Config{Port: "8080", State: "memory", Provider: "memory", RelayURL: "ws://127.0.0.1:1", Secret: "s",
		PollWindow: 20e9, LogLevel: "info", Platform: "auto", LogFormat: "json"}
	tests := []struct {
		name    string
		mod     func(*Config)
		wantErr string
	}{
		{"no auth refused", func(c *Config) {}, "no authentication configured"},
		{"dev loopback allowed", func(c *Config) { c.DevNoAuth = true }, ""},
		{"token implied", func(c *Config) { c.Token = "t" }, ""},
		{"token without value", func(c *Config) { c.Auth = "token" }, "needs SOCKERLESS_TOKEN"},
		{"azure key", func(c *Config) { c.Auth = "azure-key"; c.FunctionKey = "k" }, ""},
		{"azure without key", func(c *Config) { c.Auth = "azure-key" }, "needs SOCKERLESS_FUNCTION_KEY"},
		{"aws-iam", func(c *Config) { c.Auth = "aws-iam" }, ""},
		{"google without audience", func(c *Config) { c.Auth = "google-idtoken" }, "needs SOCKERLESS_AUDIENCE"},
		{"unknown mode", func(c *Config) { c.Auth = "kerberos" }, "want one of token, aws-iam"},
		{"unknown platform", func(c *Config) { c.Token = "t"; c.Platform = "heroku" }, "PLATFORM"},
		{"secret from secrets manager", func(c *Config) {
			c.Auth = "aws-iam"
			c.Secret = ""
			c.SecretARN = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:sl/deployment-AbCdEf"
		}, ""},
		{"no secret", func(c *Config) { c.Auth = "aws-iam"; c.Secret = "" }, "SOCKERLESS_SECRET or SOCKERLESS_SECRET_ARN is required"},
		{"both secrets", func(c *Config) {
			c.Auth = "aws-iam"
			c.SecretARN = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:x"
		}, "not both"},
		{"secret arn of another service", func(c *Config) {
			c.Auth = "aws-iam"
			c.Secret = ""
			c.SecretARN = "arn:aws:ssm:eu-west-1:123456789012:parameter/x"
		}, "want arn:aws:secretsmanager"},
		{"secret arn not an arn", func(c *Config) { c.Auth = "aws-iam"; c.Secret = ""; c.SecretARN = "sl/deployment" }, "SOCKERLESS_SECRET_ARN"},
		{"docker without engine", func(c *Config) { c.Token = "t"; c.Provider = "docker" }, "needs SOCKERLESS_DOCKER_HOST"},
		{"docker", func(c *Config) {
			c.Token, c.Provider, c.DockerHost, c.DockerAgent, c.AgentControl = "t", "docker", "unix:///d.sock", "/a", "http://10.0.0.1:8080"
		}, ""},
		{"unknown provider", func(c *Config) { c.Token = "t"; c.Provider = "podman" }, "want memory, synthetic, docker, ecs or lambda"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := base
			tt.mod(&c)
			err := c.validate()
			if (err == nil) != (tt.wantErr == "") || (err != nil && !strings.Contains(err.Error(), tt.wantErr)) {
				t.Fatalf("validate() = %v, want error containing %q", err, tt.wantErr)
			}
		})
	}
}

func TestDetect(t *testing.T) {
	tests := []struct {
		name               string
		cfg                Config
		env                map[string]string
		platform, wantAddr string
	}{
		{"cloud run", Config{Platform: "auto", Port: "8080", Auth: "token"}, map[string]string{"K_SERVICE": "fn"}, "http", ":8080"},
		{"lambda", Config{Platform: "auto", Auth: "aws-iam"}, map[string]string{"AWS_LAMBDA_RUNTIME_API": "127.0.0.1:9001"}, "lambda", ""},
		{"azure", Config{Platform: "auto", Auth: "azure-key"}, map[string]string{"FUNCTIONS_CUSTOMHANDLER_PORT": "7071"}, "azure", "127.0.0.1:7071"},
		{"forced http", Config{Platform: "http", Port: "9", Auth: "token"}, map[string]string{"AWS_LAMBDA_RUNTIME_API": "x"}, "http", ":9"},
		{"dev loopback only", Config{Platform: "auto", Port: "8080", DevNoAuth: true}, nil, "http", "127.0.0.1:8080"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, addr := detect(tt.cfg, func(k string) string { return tt.env[k] })
			if p != tt.platform || addr != tt.wantAddr {
				t.Fatalf("detect() = %q, %q; want %q, %q", p, addr, tt.platform, tt.wantAddr)
			}
		})
	}
}

// TestAzureHostFiles checks the custom-handler files deploy/azure-functions
// ships: requests must reach the binary unchanged, behind a function key.
func TestAzureHostFiles(t *testing.T) {
	var host struct {
		CustomHandler struct {
			Description struct {
				DefaultExecutablePath string `json:"defaultExecutablePath"`
			} `json:"description"`
			EnableForwardingHTTPRequest bool `json:"enableForwardingHttpRequest"`
		} `json:"customHandler"`
		Extensions struct {
			HTTP struct {
				RoutePrefix *string `json:"routePrefix"`
			} `json:"http"`
		} `json:"extensions"`
	}
	readJSON(t, "../../deploy/azure-functions/host.json", &host)
	if host.CustomHandler.Description.DefaultExecutablePath != "sockerless-functions" || !host.CustomHandler.EnableForwardingHTTPRequest ||
		host.Extensions.HTTP.RoutePrefix == nil || *host.Extensions.HTTP.RoutePrefix != "" {
		t.Fatalf("host.json = %+v: want the binary, forwarding and an empty route prefix", host)
	}
	var fn struct {
		Bindings []struct {
			Type, AuthLevel, Route string
			Methods                []string
		}
	}
	readJSON(t, "../../deploy/azure-functions/docker/function.json", &fn)
	if len(fn.Bindings) == 0 || fn.Bindings[0].Type != "httpTrigger" || fn.Bindings[0].AuthLevel != "function" ||
		fn.Bindings[0].Route != "{*path}" || len(fn.Bindings[0].Methods) < 5 {
		t.Fatalf("function.json = %+v", fn)
	}
}

func readJSON(t *testing.T, path string, v any) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}
