// Package lambdahttp serves an http.Handler as an AWS Lambda function
// behind a Lambda Function URL or an API Gateway HTTP API. Both deliver
// the same event (payload format version 2.0), so one handler serves
// both; the translation to and from http.Request is the aws-lambda-go-api-
// proxy adapter's.
//
// Lambda buffers whole responses and limits them to 6 MB, so a response
// above the limit is replaced by a Docker-shaped error naming the limit
// instead of failing the invocation opaquely. Streams and large bodies
// are meant to bypass functions altogether (see ARCHITECTURE.md).
package lambdahttp

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambda"
	"github.com/awslabs/aws-lambda-go-api-proxy/core"
	"github.com/awslabs/aws-lambda-go-api-proxy/httpadapter"
	"github.com/sockerless/sockerless/internal/lambdacaller"
)

// MaxResponse is Lambda's limit on a buffered response payload (6 MB).
const MaxResponse = 6 << 20

// Options configures a Handler.
type Options struct {
	// MaxResponse bounds an encoded response (default MaxResponse).
	MaxResponse int
}

// Handler turns Lambda HTTP events into requests for an http.Handler.
type Handler struct {
	adapter *httpadapter.HandlerAdapterV2
	max     int
}

// New returns a Handler serving h.
func New(h http.Handler, opts Options) *Handler {
	if opts.MaxResponse <= 0 {
		opts.MaxResponse = MaxResponse
	}
	return &Handler{adapter: httpadapter.NewV2(restoreHeaders(h)), max: opts.MaxResponse}
}

type headersKey struct{}

// restoreHeaders gives h the event's header values exactly as sent (the
// adapter splits every value on commas, and trims the pieces, which
// breaks values such as the JSON cursors of bounded polls) and what
// Lambda verified about the caller, in lambdacaller's form.
func restoreHeaders(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if orig, ok := r.Context().Value(headersKey{}).(map[string]string); ok {
			for k, v := range orig {
				r.Header[http.CanonicalHeaderKey(k)] = []string{v}
			}
		}
		if c, ok := caller(r.Context()); ok {
			r = r.WithContext(lambdacaller.NewContext(r.Context(), c))
		}
		h.ServeHTTP(w, r)
	})
}

// Invoke serves one event: an API Gateway HTTP API (v2) event or,
// equivalently, a Lambda Function URL event.
func (h *Handler) Invoke(ctx context.Context, event events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
	resp, err := h.adapter.ProxyWithContext(context.WithValue(ctx, headersKey{}, event.Headers), event)
	if err != nil {
		return errorResponse(http.StatusBadRequest, fmt.Sprintf("sockerless: cannot serve the Lambda event: %v", err)), nil
	}
	if size := len(resp.Body); size > h.max {
		return errorResponse(http.StatusRequestEntityTooLarge, fmt.Sprintf(
			"sockerless: the response (%d bytes encoded) exceeds the Lambda response limit of %d bytes; large bodies must go through the shim and relay",
			size, h.max)), nil
	}
	return resp, nil
}

// InvokeFunctionURL serves a Function URL event, typed as
// aws-lambda-go's events.LambdaFunctionURLRequest.
func (h *Handler) InvokeFunctionURL(ctx context.Context, event events.LambdaFunctionURLRequest) (events.LambdaFunctionURLResponse, error) {
	// The two payloads share one JSON schema; convert through it.
	var v2 events.APIGatewayV2HTTPRequest
	if err := convert(event, &v2); err != nil {
		return events.LambdaFunctionURLResponse{}, err
	}
	resp, err := h.Invoke(ctx, v2)
	if err != nil {
		return events.LambdaFunctionURLResponse{}, err
	}
	var out events.LambdaFunctionURLResponse
	return out, convert(resp, &out)
}

func convert(from, to any) error {
	b, err := json.Marshal(from)
	if err != nil {
		return err
	}
	return json.Unmarshal(b, to)
}

// Start serves h with the Lambda runtime (it reads AWS_LAMBDA_RUNTIME_API)
// and never returns.
func Start(h *Handler) { lambda.Start(h.Invoke) }

// caller is what Lambda verified about the event behind r's context, as
// lambdacaller carries it.
func caller(ctx context.Context) (*lambdacaller.Caller, bool) {
	rc, ok := core.GetAPIGatewayV2ContextFromContext(ctx)
	if !ok {
		return nil, false
	}
	if rc.Authorizer == nil || rc.Authorizer.IAM == nil || rc.Authorizer.IAM.AccessKey == "" {
		return nil, true
	}
	iam := rc.Authorizer.IAM
	return &lambdacaller.Caller{AccountID: iam.AccountID, CallerID: iam.CallerID, UserARN: iam.UserARN, AccessKey: iam.AccessKey}, true
}

// errorResponse is a Docker-shaped error response.
func errorResponse(status int, msg string) events.APIGatewayV2HTTPResponse {
	b, _ := json.Marshal(map[string]string{"message": msg})
	return events.APIGatewayV2HTTPResponse{
		StatusCode: status,
		Headers:    map[string]string{"Content-Type": "application/json"},
		Body:       string(b),
	}
}

// DecodeBody returns a response's body bytes.
func DecodeBody(resp events.APIGatewayV2HTTPResponse) ([]byte, error) {
	if resp.IsBase64Encoded {
		return base64.StdEncoding.DecodeString(resp.Body)
	}
	return []byte(resp.Body), nil
}
