package main

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	awslambda "github.com/aws/aws-sdk-go-v2/service/lambda"
)

// TestAgentURLFromAlias asks Lambda's REST API (as the SDK sends it) for
// the alias's Function URL, and names the variable when it cannot.
func TestAgentURLFromAlias(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != "GET" || r.URL.Path != "/2021-10-31/functions/sl-functions/url" {
			http.Error(w, `{"message":"no route"}`, 404)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		switch r.URL.Query().Get("Qualifier") {
		case "agents":
			_, _ = w.Write([]byte(`{"FunctionUrl":"https://abc.lambda-url.us-east-1.on.aws/","AuthType":"NONE","FunctionArn":"arn:aws:lambda:us-east-1:123456789012:function:sl-functions:agents"}`))
		default:
			w.Header().Set("X-Amzn-ErrorType", "ResourceNotFoundException")
			w.WriteHeader(404)
			_, _ = w.Write([]byte(`{"Type":"User","Message":"The resource you requested does not exist."}`))
		}
	}))
	t.Cleanup(srv.Close)
	c := awslambda.NewFromConfig(aws.Config{Region: "us-east-1", Credentials: credentials.NewStaticCredentialsProvider("a", "b", ""), BaseEndpoint: aws.String(srv.URL)})
	ctx := context.Background()
	tests := []struct {
		name, fn, alias, want, wantErr string
	}{
		{"the alias's URL", "sl-functions", "agents", "https://abc.lambda-url.us-east-1.on.aws/", ""},
		{"no such URL", "sl-functions", "other", "", "SOCKERLESS_AGENT_URL_ALIAS=\"other\""},
		{"not under Lambda", "", "agents", "", "AWS_LAMBDA_FUNCTION_NAME"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := agentURLFromAlias(ctx, c, tt.fn, tt.alias)
			if got != tt.want || (tt.wantErr == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), tt.wantErr)) {
				t.Fatalf("agentURLFromAlias = %q, %v; want %q, error naming %q", got, err, tt.want, tt.wantErr)
			}
		})
	}
}
