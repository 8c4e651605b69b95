package lambdafake

import (
	"context"
	"errors"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"
	"github.com/aws/smithy-go"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// The fake refuses what Lambda refuses, with Lambda's error types, as the
// SDK decodes them.
func TestRefusals(t *testing.T) {
	ctx := context.Background()
	reg := httptest.NewServer(registry.New())
	defer reg.Close()
	host := strings.TrimPrefix(reg.URL, "http://")
	img, _ := random.Image(512, 1)
	ref, _ := name.ParseReference(host + "/fn:1")
	if err := remote.Write(ref, img); err != nil {
		t.Fatal(err)
	}
	f := New(Options{ECRHost: host})
	defer f.Close()
	srv := httptest.NewServer(f)
	defer srv.Close()
	c := lambda.NewFromConfig(aws.Config{Region: "us-east-1", Credentials: credentials.NewStaticCredentialsProvider("a", "b", ""),
		BaseEndpoint: aws.String(srv.URL), RetryMaxAttempts: 1})
	in := func(mod func(*lambda.CreateFunctionInput)) *lambda.CreateFunctionInput {
		x := &lambda.CreateFunctionInput{FunctionName: aws.String("fn"), Role: aws.String("arn:aws:iam::123456789012:role/r"),
			PackageType: types.PackageTypeImage, Code: &types.FunctionCode{ImageUri: aws.String(ref.String())}}
		if mod != nil {
			mod(x)
		}
		return x
	}
	cases := []struct {
		name     string
		mod      func(*lambda.CreateFunctionInput)
		typ, msg string
	}{
		{"memory", func(x *lambda.CreateFunctionInput) { x.MemorySize = aws.Int32(10241) }, "ValidationException", "between 128 and 10240"},
		{"timeout", func(x *lambda.CreateFunctionInput) { x.Timeout = aws.Int32(901) }, "ValidationException", "between 1 and 900"},
		{"role", func(x *lambda.CreateFunctionInput) { x.Role = aws.String("admin") }, "ValidationException", "role"},
		{"image outside ECR", func(x *lambda.CreateFunctionInput) { x.Code.ImageUri = aws.String("docker.io/library/busybox:latest") }, "InvalidParameterValueException", "Amazon ECR"},
		{"missing image", func(x *lambda.CreateFunctionInput) { x.Code.ImageUri = aws.String(host + "/nope:1") }, "InvalidParameterValueException", "does not exist"},
		{"env name", func(x *lambda.CreateFunctionInput) {
			x.Environment = &types.Environment{Variables: map[string]string{"A": "1"}}
		}, "InvalidParameterValueException", "not valid"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := c.CreateFunction(ctx, in(tc.mod))
			var ae smithy.APIError
			if !errors.As(err, &ae) || ae.ErrorCode() != tc.typ || !strings.Contains(ae.ErrorMessage(), tc.msg) {
				t.Fatalf("CreateFunction() = %v; want %s mentioning %q", err, tc.typ, tc.msg)
			}
		})
	}
	if _, err := c.CreateFunction(ctx, in(nil)); err != nil {
		t.Fatal(err)
	}
	var conflict *types.ResourceConflictException
	if _, err := c.CreateFunction(ctx, in(nil)); !errors.As(err, &conflict) {
		t.Fatalf("second CreateFunction() = %v, want ResourceConflictException", err)
	}
	// Asynchronous invocations' retry settings: 0-2 retries.
	var nf *types.ResourceNotFoundException
	if _, err := c.GetFunctionEventInvokeConfig(ctx, &lambda.GetFunctionEventInvokeConfigInput{FunctionName: aws.String("fn")}); !errors.As(err, &nf) {
		t.Fatalf("GetFunctionEventInvokeConfig() before any = %v, want ResourceNotFoundException", err)
	}
	var ae smithy.APIError
	if _, err := c.PutFunctionEventInvokeConfig(ctx, &lambda.PutFunctionEventInvokeConfigInput{FunctionName: aws.String("fn"), MaximumRetryAttempts: aws.Int32(3)}); !errors.As(err, &ae) || ae.ErrorCode() != "ValidationException" {
		t.Fatalf("PutFunctionEventInvokeConfig(3 retries) = %v, want ValidationException", err)
	}
	if _, err := c.PutFunctionEventInvokeConfig(ctx, &lambda.PutFunctionEventInvokeConfigInput{FunctionName: aws.String("fn"), MaximumRetryAttempts: aws.Int32(0)}); err != nil {
		t.Fatal(err)
	}
	if got, err := c.GetFunctionEventInvokeConfig(ctx, &lambda.GetFunctionEventInvokeConfigInput{FunctionName: aws.String("fn")}); err != nil || aws.ToInt32(got.MaximumRetryAttempts) != 0 || got.MaximumRetryAttempts == nil {
		t.Fatalf("GetFunctionEventInvokeConfig() = %+v, %v; want 0 retries", got, err)
	}
	if _, err := c.DeleteFunction(ctx, &lambda.DeleteFunctionInput{FunctionName: aws.String("fn")}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.GetFunction(ctx, &lambda.GetFunctionInput{FunctionName: aws.String("fn")}); !errors.As(err, &nf) {
		t.Fatalf("GetFunction(deleted) = %v, want ResourceNotFoundException", err)
	}
}
