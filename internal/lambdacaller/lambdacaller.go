// Package lambdacaller carries what Lambda verified about a request (that
// it came through Lambda, and the IAM caller) in the request's context,
// without the Lambda runtime: the front that serves Lambda events
// (internal/lambdahttp) puts it there, and the authentication checks
// (internal/controlauth), which the shim links too, read it. So the shim
// never links aws-lambda-go.
package lambdacaller

import (
	"context"
	"net/http"
)

// Caller is the IAM identity Lambda verified (AWS_IAM auth on a Function
// URL or HTTP API route).
type Caller struct {
	AccountID string
	CallerID  string
	UserARN   string
	AccessKey string
}

type key struct{}

type value struct{ caller *Caller }

// NewContext marks ctx as a request Lambda delivered, with the caller it
// verified (nil when the route has no IAM auth).
func NewContext(ctx context.Context, c *Caller) context.Context {
	return context.WithValue(ctx, key{}, value{caller: c})
}

// FromRequest returns the verified caller of r (nil if none) and whether
// r arrived through Lambda at all.
func FromRequest(r *http.Request) (c *Caller, inLambda bool) {
	v, ok := r.Context().Value(key{}).(value)
	return v.caller, ok
}
