package main

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	awslambda "github.com/aws/aws-sdk-go-v2/service/lambda"
)

// urlGetter is the one Lambda call agentURLFromAlias makes.
type urlGetter interface {
	GetFunctionUrlConfig(ctx context.Context, in *awslambda.GetFunctionUrlConfigInput, opts ...func(*awslambda.Options)) (*awslambda.GetFunctionUrlConfigOutput, error)
}

// agentURLFromAlias returns the Function URL of alias of function fn
// (this very function): the route agents report through in a deployment.
// The control plane's own Function URL has AWS_IAM auth, which refuses
// the agents' bearer tokens; the deployment gives an alias a second
// Function URL with auth NONE, on which functions serves only the
// agent-token routes (/_sockerless/agent/*; everything else still needs
// a verified IAM caller). Its address cannot be in the function's own
// environment (the URL depends on the function), so it is looked up here,
// once per start.
//
// # Errors
//
// When fn is unknown (not running under Lambda) or the lookup fails,
// naming the variable that asked for it.
func agentURLFromAlias(ctx context.Context, c urlGetter, fn, alias string) (string, error) {
	if fn == "" {
		return "", fmt.Errorf("%sAGENT_URL_ALIAS=%q: AWS_LAMBDA_FUNCTION_NAME is not set (not running under Lambda); set %sCONTROL_PLANE_URL instead", envPrefix, alias, envPrefix)
	}
	out, err := c.GetFunctionUrlConfig(ctx, &awslambda.GetFunctionUrlConfigInput{FunctionName: aws.String(fn), Qualifier: aws.String(alias)})
	if err != nil {
		return "", fmt.Errorf("%sAGENT_URL_ALIAS=%q: the Function URL of %s:%s: %w", envPrefix, alias, fn, alias, err)
	}
	u := aws.ToString(out.FunctionUrl)
	if u == "" {
		return "", fmt.Errorf("%sAGENT_URL_ALIAS=%q: %s:%s has no Function URL", envPrefix, alias, fn, alias)
	}
	return u, nil
}
