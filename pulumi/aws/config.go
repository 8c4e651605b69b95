package main

import (
	"fmt"
	"regexp"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi/config"
)

// configNamespace is the namespace of the stack's configuration keys
// (`pulumi config set sockerless:relayImage ...`).
const configNamespace = "sockerless"

// Args is the deployment's configuration, the same inputs as the
// Terraform module's variables (terraform/aws/variables.tf), camelCased.
type Args struct {
	NamePrefix string
	Tags       map[string]string

	// VpcID empty creates a small VPC (two public subnets, no NAT).
	VpcID          string
	SubnetIDs      []string
	ALBSubnetIDs   []string
	VpcCIDR        string
	AssignPublicIP bool

	// LambdaZipPath or LambdaS3Bucket with LambdaS3Key: the zip `make
	// lambda` builds.
	LambdaZipPath         string
	LambdaS3Bucket        string
	LambdaS3Key           string
	LambdaArchitecture    string
	LambdaMemoryMB        int
	LambdaTimeoutSeconds  int
	WorkloadProvider      string
	AllowedCallerAccounts []string // account ids or IAM role/user ARNs

	RelayImage               string
	RelayDomainName          string
	CertificateARN           string
	Route53ZoneID            string
	RelayAllowedCIDRs        []string
	RelayCPU                 int
	RelayMemory              int
	RelayCPUArchitecture     string
	RelayMinCount            int
	RelayMaxCount            int
	RelayAutoscaling         bool
	RelayConnectionsPerTask  float64
	RelayPingIntervalSeconds int
	RelayIdleTimeoutSeconds  int

	LogRetentionDays         int
	StateDeletionProtection  bool
	StatePointInTimeRecovery bool
	SecretRecoveryWindowDays int
	ForceDestroy             bool

	// DeploymentSecret is the secret functions and the relay share, from
	// the stack's encrypted configuration (`pulumi config set --secret
	// sockerless:deploymentSecret`). It reaches Secrets Manager and the
	// Pulumi state only as a Pulumi secret (encrypted).
	DeploymentSecret pulumi.StringOutput
}

// defaultArgs are the Terraform module's defaults.
func defaultArgs() Args {
	return Args{
		NamePrefix:               "sockerless",
		VpcCIDR:                  "10.42.0.0/16",
		AssignPublicIP:           true,
		LambdaArchitecture:       "arm64",
		LambdaMemoryMB:           512,
		LambdaTimeoutSeconds:     300,
		WorkloadProvider:         "ecs",
		RelayAllowedCIDRs:        []string{"0.0.0.0/0"},
		RelayCPU:                 256,
		RelayMemory:              512,
		RelayCPUArchitecture:     "ARM64",
		RelayMinCount:            1,
		RelayMaxCount:            10,
		RelayAutoscaling:         true,
		RelayConnectionsPerTask:  2000,
		RelayPingIntervalSeconds: 15,
		RelayIdleTimeoutSeconds:  3600,
		LogRetentionDays:         30,
		StateDeletionProtection:  true,
		StatePointInTimeRecovery: true,
		SecretRecoveryWindowDays: 7,
	}
}

var (
	prefixPattern = regexp.MustCompile(`^[a-z][a-z0-9-]{1,18}[a-z0-9]$`)
	callerPattern = regexp.MustCompile(`^([0-9]{12}|arn:aws[a-z-]*:iam::[0-9]{12}:(root|role/.+|user/.+))$`)
)

// validate checks what the Terraform module's variable validations check.
func (a Args) validate() error {
	switch {
	case !prefixPattern.MatchString(a.NamePrefix):
		return fmt.Errorf("namePrefix %q: 3 to 20 lowercase letters, digits and hyphens, starting with a letter", a.NamePrefix)
	case a.VpcID != "" && len(a.SubnetIDs) == 0:
		return fmt.Errorf("subnetIds: required with vpcId")
	case (a.LambdaZipPath == "") == (a.LambdaS3Bucket == ""):
		return fmt.Errorf("set exactly one of lambdaZipPath or lambdaS3Bucket (with lambdaS3Key)")
	case (a.LambdaS3Bucket == "") != (a.LambdaS3Key == ""):
		return fmt.Errorf("lambdaS3Key goes with lambdaS3Bucket")
	case a.LambdaArchitecture != "arm64" && a.LambdaArchitecture != "x86_64":
		return fmt.Errorf("lambdaArchitecture %q: arm64 or x86_64", a.LambdaArchitecture)
	case a.LambdaTimeoutSeconds < 30 || a.LambdaTimeoutSeconds > 900:
		return fmt.Errorf("lambdaTimeoutSeconds %d: 30 to 900", a.LambdaTimeoutSeconds)
	case a.RelayImage == "" || a.RelayDomainName == "" || a.CertificateARN == "":
		return fmt.Errorf("relayImage, relayDomainName and certificateArn are required")
	case a.RelayCPUArchitecture != "ARM64" && a.RelayCPUArchitecture != "X86_64":
		return fmt.Errorf("relayCpuArchitecture %q: ARM64 or X86_64", a.RelayCPUArchitecture)
	case a.RelayMinCount < 1 || a.RelayMaxCount < a.RelayMinCount:
		return fmt.Errorf("relayMaxCount (%d) must be at least relayMinCount (%d), which must be at least 1", a.RelayMaxCount, a.RelayMinCount)
	case a.RelayIdleTimeoutSeconds <= a.RelayPingIntervalSeconds || a.RelayIdleTimeoutSeconds > 4000:
		return fmt.Errorf("relayIdleTimeoutSeconds %d must be above relayPingIntervalSeconds (%d) and at most 4000", a.RelayIdleTimeoutSeconds, a.RelayPingIntervalSeconds)
	}
	for _, p := range a.AllowedCallerAccounts {
		if !callerPattern.MatchString(p) {
			return fmt.Errorf("allowedCallerPrincipals: %q is not an account id or arn:aws:iam::ACCOUNT:root|role/NAME|user/NAME", p)
		}
	}
	return nil
}

// loadArgs reads the stack's configuration over the defaults.
func loadArgs(ctx *pulumi.Context) (Args, error) {
	c := config.New(ctx, configNamespace)
	a := defaultArgs()
	str := func(key string, dst *string) {
		if v := c.Get(key); v != "" {
			*dst = v
		}
	}
	num := func(key string, dst *int) {
		if v, err := c.TryInt(key); err == nil {
			*dst = v
		}
	}
	flag := func(key string, dst *bool) {
		if v, err := c.TryBool(key); err == nil {
			*dst = v
		}
	}
	list := func(key string, dst *[]string) error {
		var v []string
		if err := c.TryObject(key, &v); err == nil {
			*dst = v
		} else if c.Get(key) != "" {
			return fmt.Errorf("%s:%s: want a JSON list of strings: %w", configNamespace, key, err)
		}
		return nil
	}
	str("namePrefix", &a.NamePrefix)
	str("vpcId", &a.VpcID)
	str("vpcCidr", &a.VpcCIDR)
	flag("assignPublicIp", &a.AssignPublicIP)
	str("lambdaZipPath", &a.LambdaZipPath)
	str("lambdaS3Bucket", &a.LambdaS3Bucket)
	str("lambdaS3Key", &a.LambdaS3Key)
	str("lambdaArchitecture", &a.LambdaArchitecture)
	num("lambdaMemoryMb", &a.LambdaMemoryMB)
	num("lambdaTimeoutSeconds", &a.LambdaTimeoutSeconds)
	str("workloadProvider", &a.WorkloadProvider)
	str("relayImage", &a.RelayImage)
	str("relayDomainName", &a.RelayDomainName)
	str("certificateArn", &a.CertificateARN)
	str("route53ZoneId", &a.Route53ZoneID)
	num("relayCpu", &a.RelayCPU)
	num("relayMemory", &a.RelayMemory)
	str("relayCpuArchitecture", &a.RelayCPUArchitecture)
	num("relayMinCount", &a.RelayMinCount)
	num("relayMaxCount", &a.RelayMaxCount)
	flag("relayAutoscaling", &a.RelayAutoscaling)
	if v, err := c.TryFloat64("relayConnectionsPerTask"); err == nil {
		a.RelayConnectionsPerTask = v
	}
	num("relayPingIntervalSeconds", &a.RelayPingIntervalSeconds)
	num("relayIdleTimeoutSeconds", &a.RelayIdleTimeoutSeconds)
	num("logRetentionDays", &a.LogRetentionDays)
	flag("stateDeletionProtection", &a.StateDeletionProtection)
	flag("statePointInTimeRecovery", &a.StatePointInTimeRecovery)
	num("secretRecoveryWindowDays", &a.SecretRecoveryWindowDays)
	flag("forceDestroy", &a.ForceDestroy)
	for key, dst := range map[string]*[]string{"subnetIds": &a.SubnetIDs, "albSubnetIds": &a.ALBSubnetIDs,
		"allowedCallerPrincipals": &a.AllowedCallerAccounts, "relayAllowedCidrs": &a.RelayAllowedCIDRs} {
		if err := list(key, dst); err != nil {
			return a, err
		}
	}
	var tags map[string]string
	if err := c.TryObject("tags", &tags); err == nil {
		a.Tags = tags
	}
	if err := a.validate(); err != nil {
		return a, err
	}
	secret, err := c.TrySecret("deploymentSecret")
	if err != nil {
		return a, fmt.Errorf("%s:deploymentSecret is required: pulumi config set --secret %s:deploymentSecret \"$(openssl rand -hex 32)\"", configNamespace, configNamespace)
	}
	a.DeploymentSecret = secret
	return a, nil
}
