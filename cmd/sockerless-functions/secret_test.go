package main

import (
	"context"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/sockerless/sockerless/internal/testutil/emulators"
)

// TestSecretFromARN reads deployment secrets from moto's Secrets Manager
// through the SDK's default chain, as a Lambda does with its role.
func TestSecretFromARN(t *testing.T) {
	endpoint := emulators.StartMoto(t)
	for k, v := range map[string]string{
		"AWS_ENDPOINT_URL": endpoint, "AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test",
		"AWS_CONFIG_FILE": "/dev/null", "AWS_SHARED_CREDENTIALS_FILE": "/dev/null", "AWS_EC2_METADATA_DISABLED": "true",
		"AWS_REGION": "us-east-1", // not the secret's: the ARN's region must win
	} {
		t.Setenv(k, v)
	}
	ctx := context.Background()
	sm := secretsmanager.New(secretsmanager.Options{Region: "eu-west-1", BaseEndpoint: aws.String(endpoint),
		Credentials: credentials.NewStaticCredentialsProvider("test", "test", "")})
	create := func(in *secretsmanager.CreateSecretInput) string {
		out, err := sm.CreateSecret(ctx, in)
		if err != nil {
			t.Fatal(err)
		}
		return aws.ToString(out.ARN)
	}
	text := create(&secretsmanager.CreateSecretInput{Name: aws.String("sl/deployment"), SecretString: aws.String("c2VjcmV0LXZhbHVl")})
	binary := create(&secretsmanager.CreateSecretInput{Name: aws.String("sl/binary"), SecretBinary: []byte{1, 2, 3}})
	missing := strings.Replace(text, "sl/deployment", "sl/missing", 1)

	tests := []struct {
		name, arn, want, wantErr string
	}{
		{"string secret", text, "c2VjcmV0LXZhbHVl", ""},
		{"binary secret", binary, "", "no string value"},
		{"missing secret", missing, "", "ResourceNotFoundException"},
		{"not an arn", "sl/deployment", "", "SOCKERLESS_SECRET_ARN"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := secretFromARN(ctx, tt.arn)
			if got != tt.want || (err == nil) != (tt.wantErr == "") || (err != nil && !strings.Contains(err.Error(), tt.wantErr)) {
				t.Fatalf("secretFromARN(%q) = %q, %v; want %q, error containing %q", tt.arn, got, err, tt.want, tt.wantErr)
			}
		})
	}
}
