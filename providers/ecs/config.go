package ecs

import (
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/sockerless/sockerless/providers/cloudagent"
)

// Config is the provider's deployment configuration. cmd/sockerless-functions
// reads it from SOCKERLESS_* variables (caarlos0/env); the names are the
// ones the Terraform and Pulumi deployments set.
type Config struct {
	Cluster          string        `env:"ECS_CLUSTER" help:"ECS cluster the tasks run in; required"`
	Subnets          []string      `env:"ECS_SUBNETS" help:"comma-separated subnet ids for the tasks' awsvpc network; required"`
	SecurityGroups   []string      `env:"ECS_SECURITY_GROUPS" help:"comma-separated security group ids for the tasks"`
	ExecutionRoleARN string        `env:"ECS_EXECUTION_ROLE_ARN" help:"task execution role (image pulls from ECR, awslogs); required"`
	TaskRoleARN      string        `env:"ECS_TASK_ROLE_ARN" help:"role the workload's own AWS calls use; empty gives none"`
	AssignPublicIP   bool          `env:"ECS_ASSIGN_PUBLIC_IP" envDefault:"false" help:"give tasks a public IP (subnets without NAT need it to reach the relay)"`
	LogGroup         string        `env:"LOG_GROUP" help:"CloudWatch Logs group the tasks' output goes to; required"`
	Repository       string        `env:"ECR_REPOSITORY" help:"ECR repository URI the agent-injected images are pushed to; required"`
	AgentBinary      string        `env:"AGENT_BINARY" help:"path of the static linux sockerless-agent to inject; default sockerless-agent next to this executable"`
	ControlPlaneURL  string        `env:"CONTROL_PLANE_URL" help:"URL agents report exits to (this functions endpoint); default http://127.0.0.1:PORT when serving on PORT"`
	DefinitionIdle   time.Duration `env:"ECS_DEFINITION_IDLE" envDefault:"1h" help:"how long a task definition that no task has used (none running, none stopped that ECS still lists) is kept for reuse before the sweep deregisters it"`
	ExitedHold       time.Duration `env:"ECS_EXITED_HOLD" envDefault:"10m" help:"how long a task whose main process ended by itself stays to serve docker cp out of the exited container (Fargate bills it meanwhile); docker rm and the next start end it sooner; 0 stops the task at the exit"`
	DirectPort       int           `env:"ECS_DIRECT_PORT" envDefault:"7012" help:"port on each task's own address where its agent takes direct connections from the agents of its network peers (two tasks in one VPC then skip the relay; the tasks' security group must admit the port from itself); 0 sends every peer connection through the relay"`
	NamePrefix       string        `env:"NAME_PREFIX" help:"start of the names of the task definitions (and Lambda functions) made for workloads: the deployment's name prefix, which its IAM statements are scoped to; default sockerless"`
}

// Validate checks the configuration, naming the variable at fault.
func (c Config) Validate(prefix string) error {
	need := func(v, name string) error {
		if strings.TrimSpace(v) == "" {
			return fmt.Errorf("%s%s is required for SOCKERLESS_PROVIDER=ecs", prefix, name)
		}
		return nil
	}
	if err := need(c.Cluster, "ECS_CLUSTER"); err != nil {
		return err
	}
	if len(c.Subnets) == 0 {
		return fmt.Errorf("%sECS_SUBNETS is required for SOCKERLESS_PROVIDER=ecs (comma-separated subnet ids)", prefix)
	}
	for _, s := range c.Subnets {
		if !strings.HasPrefix(s, "subnet-") {
			return fmt.Errorf("%sECS_SUBNETS: %q is not a subnet id (subnet-...)", prefix, s)
		}
	}
	for _, s := range c.SecurityGroups {
		if !strings.HasPrefix(s, "sg-") {
			return fmt.Errorf("%sECS_SECURITY_GROUPS: %q is not a security group id (sg-...)", prefix, s)
		}
	}
	if err := need(c.ExecutionRoleARN, "ECS_EXECUTION_ROLE_ARN"); err != nil {
		return err
	}
	if !strings.HasPrefix(c.ExecutionRoleARN, "arn:") {
		return fmt.Errorf("%sECS_EXECUTION_ROLE_ARN: %q is not an ARN", prefix, c.ExecutionRoleARN)
	}
	if c.TaskRoleARN != "" && !strings.HasPrefix(c.TaskRoleARN, "arn:") {
		return fmt.Errorf("%sECS_TASK_ROLE_ARN: %q is not an ARN", prefix, c.TaskRoleARN)
	}
	if err := need(c.LogGroup, "LOG_GROUP"); err != nil {
		return err
	}
	if err := need(c.Repository, "ECR_REPOSITORY"); err != nil {
		return err
	}
	if strings.Contains(c.Repository, "://") || !strings.Contains(c.Repository, "/") {
		return fmt.Errorf("%sECR_REPOSITORY: %q: want a repository URI, HOST/NAME", prefix, c.Repository)
	}
	if c.ExitedHold < 0 {
		return fmt.Errorf("%sECS_EXITED_HOLD=%s: want a duration of zero or more", prefix, c.ExitedHold)
	}
	if c.DefinitionIdle < 0 {
		return fmt.Errorf("%sECS_DEFINITION_IDLE=%s: want a duration of zero or more", prefix, c.DefinitionIdle)
	}
	if err := cloudagent.CheckNamePrefix(prefix+"NAME_PREFIX", c.NamePrefix); err != nil {
		return err
	}
	if c.ControlPlaneURL != "" {
		if u, err := url.Parse(c.ControlPlaneURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return fmt.Errorf("%sCONTROL_PLANE_URL=%q: want an http(s) URL", prefix, c.ControlPlaneURL)
		}
	}
	return nil
}
