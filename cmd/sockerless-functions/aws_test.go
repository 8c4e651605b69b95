package main

import (
	"strings"
	"testing"

	"github.com/sockerless/sockerless/providers/ecs"
	"github.com/sockerless/sockerless/providers/lambda"
)

// The AWS providers' settings are checked at start, each error naming
// the variable at fault.
func TestValidateAWSProviders(t *testing.T) {
	base := Config{Port: "8080", State: "memory", RelayURL: "ws://127.0.0.1:1", Secret: "s", Token: "t",
		PollWindow: 20e9, LogLevel: "info", Platform: "auto", LogFormat: "json",
		ECS: ecs.Config{Cluster: "c", Subnets: []string{"subnet-1"}, SecurityGroups: []string{"sg-1"},
			ExecutionRoleARN: "arn:aws:iam::1:role/x", LogGroup: "/g", Repository: "1.dkr.ecr.us-east-1.amazonaws.com/s"},
		Lambda: lambda.Config{RoleARN: "arn:aws:iam::1:role/fn", Repository: "1.dkr.ecr.us-east-1.amazonaws.com/s"},
	}
	tests := []struct {
		name, provider string
		mod            func(*Config)
		wantErr        string
	}{
		{"ecs complete", "ecs", func(*Config) {}, ""},
		{"ecs cluster", "ecs", func(c *Config) { c.ECS.Cluster = "" }, "SOCKERLESS_ECS_CLUSTER"},
		{"ecs subnets", "ecs", func(c *Config) { c.ECS.Subnets = nil }, "SOCKERLESS_ECS_SUBNETS"},
		{"ecs subnet id", "ecs", func(c *Config) { c.ECS.Subnets = []string{"vpc-1"} }, "SOCKERLESS_ECS_SUBNETS"},
		{"ecs security group", "ecs", func(c *Config) { c.ECS.SecurityGroups = []string{"x"} }, "SOCKERLESS_ECS_SECURITY_GROUPS"},
		{"ecs execution role", "ecs", func(c *Config) { c.ECS.ExecutionRoleARN = "" }, "SOCKERLESS_ECS_EXECUTION_ROLE_ARN"},
		{"ecs task role", "ecs", func(c *Config) { c.ECS.TaskRoleARN = "role" }, "SOCKERLESS_ECS_TASK_ROLE_ARN"},
		{"ecs log group", "ecs", func(c *Config) { c.ECS.LogGroup = "" }, "SOCKERLESS_LOG_GROUP"},
		{"ecs repository", "ecs", func(c *Config) { c.ECS.Repository = "https://x/y" }, "SOCKERLESS_ECR_REPOSITORY"},
		{"ecs control plane", "ecs", func(c *Config) { c.ECS.ControlPlaneURL = "ftp://x" }, "SOCKERLESS_CONTROL_PLANE_URL"},
		{"lambda complete", "lambda", func(*Config) {}, ""},
		{"lambda role", "lambda", func(c *Config) { c.Lambda.RoleARN = "" }, "SOCKERLESS_LAMBDA_ROLE_ARN"},
		{"lambda repository", "lambda", func(c *Config) { c.Lambda.Repository = "" }, "SOCKERLESS_ECR_REPOSITORY"},
		{"unknown provider", "gce", func(*Config) {}, "want memory, synthetic, docker, ecs or lambda"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := base
			c.Provider = tt.provider
			tt.mod(&c)
			err := c.validate()
			if (err == nil) != (tt.wantErr == "") || (err != nil && !strings.Contains(err.Error(), tt.wantErr)) {
				t.Fatalf("validate() = %v, want error containing %q", err, tt.wantErr)
			}
		})
	}
}

// The variable names are the ones the deployments set.
func TestAWSVariableNames(t *testing.T) {
	t.Setenv("SOCKERLESS_SECRET", "s")
	t.Setenv("SOCKERLESS_RELAY_URL", "ws://127.0.0.1:1")
	t.Setenv("SOCKERLESS_TOKEN", "t")
	t.Setenv("SOCKERLESS_PROVIDER", "ecs")
	t.Setenv("SOCKERLESS_ECS_CLUSTER", "c1")
	t.Setenv("SOCKERLESS_ECS_SUBNETS", "subnet-a,subnet-b")
	t.Setenv("SOCKERLESS_ECS_SECURITY_GROUPS", "sg-a")
	t.Setenv("SOCKERLESS_ECS_EXECUTION_ROLE_ARN", "arn:aws:iam::1:role/e")
	t.Setenv("SOCKERLESS_ECS_TASK_ROLE_ARN", "arn:aws:iam::1:role/t")
	t.Setenv("SOCKERLESS_ECS_ASSIGN_PUBLIC_IP", "true")
	t.Setenv("SOCKERLESS_LOG_GROUP", "/g")
	t.Setenv("SOCKERLESS_ECR_REPOSITORY", "1.dkr.ecr.us-east-1.amazonaws.com/s")
	t.Setenv("SOCKERLESS_LAMBDA_ROLE_ARN", "arn:aws:iam::1:role/fn")
	cfg, err := parse(nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	e := cfg.ECS
	if e.Cluster != "c1" || strings.Join(e.Subnets, ",") != "subnet-a,subnet-b" || strings.Join(e.SecurityGroups, ",") != "sg-a" ||
		e.ExecutionRoleARN != "arn:aws:iam::1:role/e" || e.TaskRoleARN != "arn:aws:iam::1:role/t" || !e.AssignPublicIP ||
		e.LogGroup != "/g" || e.Repository != "1.dkr.ecr.us-east-1.amazonaws.com/s" || cfg.Lambda.RoleARN != "arn:aws:iam::1:role/fn" {
		t.Fatalf("parsed %+v %+v", cfg.ECS, cfg.Lambda)
	}
}
