package main

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/arn"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
)

// secretTimeout bounds reading the deployment secret at start.
const secretTimeout = 30 * time.Second

// parseSecretARN checks that s names a Secrets Manager secret and returns
// its region, which the client must use.
func parseSecretARN(s string) (region string, err error) {
	a, err := arn.Parse(s)
	if err != nil {
		return "", fmt.Errorf("%sSECRET_ARN=%q: %w", envPrefix, s, err)
	}
	if a.Service != "secretsmanager" || a.Region == "" {
		return "", fmt.Errorf("%sSECRET_ARN=%q: want arn:aws:secretsmanager:REGION:ACCOUNT:secret:NAME", envPrefix, s)
	}
	return a.Region, nil
}

// secretFromARN reads the deployment secret from AWS Secrets Manager, so
// that a deployment never holds it in a plain environment variable. It
// authenticates with the AWS default credential chain (the Lambda's role)
// and honours AWS_ENDPOINT_URL, as the SDK does.
func secretFromARN(ctx context.Context, secretARN string) (string, error) {
	region, err := parseSecretARN(secretARN)
	if err != nil {
		return "", err
	}
	ctx, cancel := context.WithTimeout(ctx, secretTimeout)
	defer cancel()
	cfg, err := awsconfig.LoadDefaultConfig(ctx, awsconfig.WithRegion(region))
	if err != nil {
		return "", fmt.Errorf("%sSECRET_ARN: AWS configuration: %w", envPrefix, err)
	}
	out, err := secretsmanager.NewFromConfig(cfg).GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String(secretARN)})
	if err != nil {
		return "", fmt.Errorf("%sSECRET_ARN: reading %s: %w", envPrefix, secretARN, err)
	}
	s := aws.ToString(out.SecretString)
	if s == "" {
		return "", errors.New(envPrefix + "SECRET_ARN: the secret has no string value")
	}
	return s, nil
}
