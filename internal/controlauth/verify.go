// Package controlauth authenticates the shim to the functions tier. The
// shim side adds credentials to each request (a Signer in a Transport);
// the functions side checks them (a Verifier). Four modes, one per
// platform plus a portable one:
//
//   - token: a shared bearer token (SOCKERLESS_TOKEN on both sides),
//     compared in constant time; works on every platform.
//   - aws-iam: the shim signs with AWS Signature Version 4 (service
//     "lambda") using the standard aws-sdk-go-v2 credential chain; a Lambda
//     Function URL with AWS_IAM auth verifies the signature before the
//     function runs, and functions requires the verified caller Lambda
//     puts in the event.
//   - google-idtoken: the shim sends a Google-signed ID token for the
//     service URL (google.golang.org/api/idtoken); Cloud Run's IAM invoker
//     check verifies it, and functions validates it again.
//   - azure-key: the shim sends an Azure Functions key in x-functions-key;
//     the Functions host checks it for authLevel "function", and functions
//     compares it again in constant time.
//
// Credentials are never logged; errors say what was wrong, not what was
// sent.
package controlauth

import (
	"context"
	"crypto/subtle"
	"fmt"
	"net/http"
	"strings"

	"github.com/sockerless/sockerless/internal/errdefs"
	"github.com/sockerless/sockerless/internal/lambdacaller"
	"github.com/sockerless/sockerless/internal/redact"
	"google.golang.org/api/idtoken"
)

// Modes names the authentication modes, for configuration and messages.
var Modes = []string{"token", "aws-iam", "google-idtoken", "azure-key"}

// Verifier decides whether a request may use the API. Its error is an
// errdefs.Unauthorized error with a message for the client.
type Verifier interface {
	Verify(r *http.Request) error
}

// VerifierFunc adapts a function to Verifier.
type VerifierFunc func(r *http.Request) error

// Verify implements Verifier.
func (f VerifierFunc) Verify(r *http.Request) error { return f(r) }

func unauthorized(format string, args ...any) error {
	return errdefs.Unauthorized(fmt.Errorf("sockerless: "+format, args...))
}

// Bearer accepts requests whose Authorization header is "Bearer token".
func Bearer(token string) Verifier {
	want := []byte(token)
	return VerifierFunc(func(r *http.Request) error {
		h := r.Header.Get("Authorization")
		if h == "" {
			return unauthorized("missing bearer token (set SOCKERLESS_TOKEN on the shim)")
		}
		got, ok := strings.CutPrefix(h, "Bearer ")
		if !ok {
			return unauthorized("malformed Authorization header: want \"Bearer TOKEN\"")
		}
		if subtle.ConstantTimeCompare([]byte(got), want) != 1 {
			return unauthorized("invalid bearer token")
		}
		return nil
	})
}

// FunctionKey accepts requests carrying key in x-functions-key (or the
// code query parameter, as Azure Functions also accepts).
func FunctionKey(key string) Verifier {
	want := []byte(key)
	return VerifierFunc(func(r *http.Request) error {
		got := r.Header.Get("x-functions-key")
		if got == "" {
			got = r.URL.Query().Get("code")
		}
		if got == "" {
			return unauthorized("missing Azure function key (x-functions-key)")
		}
		if subtle.ConstantTimeCompare([]byte(got), want) != 1 {
			return unauthorized("invalid Azure function key")
		}
		return nil
	})
}

// LambdaIAM accepts requests that Lambda delivered with a verified IAM
// caller (a Function URL or HTTP API route with AWS_IAM auth). When
// accounts is not empty, the caller's account must be one of them.
func LambdaIAM(accounts ...string) Verifier {
	return VerifierFunc(func(r *http.Request) error {
		caller, inLambda := lambdacaller.FromRequest(r)
		if !inLambda {
			return unauthorized("aws-iam authentication needs the request to arrive through Lambda with AWS_IAM auth")
		}
		if caller == nil {
			return unauthorized("the request carries no verified IAM caller: configure the Function URL with AuthType AWS_IAM and sign requests with SigV4")
		}
		if len(accounts) > 0 && !contains(accounts, caller.AccountID) {
			return unauthorized("IAM caller account %s is not allowed", caller.AccountID)
		}
		return nil
	})
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// TokenValidator checks a Google ID token; *idtoken.Validator is one.
type TokenValidator interface {
	Validate(ctx context.Context, token, audience string) (*idtoken.Payload, error)
}

// GoogleIDToken accepts requests with a Google ID token for audience
// (the service URL) signed by Google, optionally from one of emails.
func GoogleIDToken(v TokenValidator, audience string, emails ...string) Verifier {
	return VerifierFunc(func(r *http.Request) error {
		h := r.Header.Get("Authorization")
		tok, ok := strings.CutPrefix(h, "Bearer ")
		if h == "" {
			return unauthorized("missing Google ID token")
		}
		if !ok || tok == "" {
			return unauthorized("malformed Authorization header: want \"Bearer ID_TOKEN\"")
		}
		p, err := v.Validate(r.Context(), tok, audience)
		if err != nil {
			return unauthorized("invalid Google ID token: %s", redact.Tokens(err.Error()))
		}
		if len(emails) > 0 {
			email, _ := p.Claims["email"].(string)
			if !contains(emails, email) {
				return unauthorized("ID token subject %q is not allowed", email)
			}
		}
		return nil
	})
}
