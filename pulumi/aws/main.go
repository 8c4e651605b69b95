// Command sockerless-aws is the Pulumi program that deploys the Sockerless
// control plane into one AWS account: the same resources as the Terraform
// module in terraform/aws (the two share only names). Runner hosts need
// only its exports: shimEnvironment and runnerHostPolicyJson.
package main

import "github.com/pulumi/pulumi/sdk/v3/go/pulumi"

func main() { pulumi.Run(program) }

// program reads the stack's configuration, declares the deployment and
// exports what runner hosts need.
func program(ctx *pulumi.Context) error {
	args, err := loadArgs(ctx)
	if err != nil {
		return err
	}
	out, err := deploy(ctx, args)
	if err != nil {
		return err
	}
	ctx.Export("shimEnvironment", out.ShimEnvironment)
	ctx.Export("runnerHostPolicyJson", out.RunnerHostPolicy)
	ctx.Export("functionName", out.FunctionName)
	ctx.Export("stateTableName", out.StateTableName)
	ctx.Export("relayUrl", out.RelayURL)
	ctx.Export("relayDnsTarget", out.RelayDNSTarget)
	ctx.Export("clusterArn", out.ClusterARN)
	ctx.Export("imageRepositoryUrl", out.ImageRepository)
	ctx.Export("workloadLogGroup", out.WorkloadLogGroup)
	ctx.Export("deploymentSecretArn", out.SecretARN)
	ctx.Export("agentReportUrl", out.AgentReportURL)
	return nil
}
