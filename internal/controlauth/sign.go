package controlauth

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"golang.org/x/oauth2"
)

// Signer adds credentials to a request for functions.
type Signer interface {
	Sign(r *http.Request) error
}

// SignerFunc adapts a function to Signer.
type SignerFunc func(r *http.Request) error

// Sign implements Signer.
func (f SignerFunc) Sign(r *http.Request) error { return f(r) }

// BearerSigner sends token as a bearer token.
func BearerSigner(token string) Signer {
	return SignerFunc(func(r *http.Request) error {
		r.Header.Set("Authorization", "Bearer "+token)
		return nil
	})
}

// FunctionKeySigner sends an Azure Functions key.
func FunctionKeySigner(key string) Signer {
	return SignerFunc(func(r *http.Request) error {
		r.Header.Set("x-functions-key", key)
		return nil
	})
}

// TokenSourceSigner sends tokens from ts as bearer tokens: with an
// idtoken.NewTokenSource for the service URL, Google ID tokens.
func TokenSourceSigner(ts oauth2.TokenSource) Signer {
	return SignerFunc(func(r *http.Request) error {
		t, err := ts.Token()
		if err != nil {
			return fmt.Errorf("getting a Google ID token: %w", err)
		}
		r.Header.Set("Authorization", "Bearer "+t.AccessToken)
		return nil
	})
}

// MaxSignedBody bounds a body SigV4 signing reads to hash: Lambda refuses
// larger requests anyway.
const MaxSignedBody = 6 << 20

// SigV4Signer signs requests with AWS Signature Version 4 for service
// ("lambda" for a Function URL) in region, with credentials from creds
// (from config.LoadDefaultConfig: the standard chain).
type SigV4Signer struct {
	Credentials aws.CredentialsProvider
	Region      string
	Service     string
	// Now is the signing clock; nil means time.Now.
	Now func() time.Time
}

// Sign implements Signer. The body is read to hash it and replaced.
func (s *SigV4Signer) Sign(r *http.Request) error {
	body, err := readBody(r)
	if err != nil {
		return err
	}
	hash := hashHex(body)
	r.Header.Set("X-Amz-Content-Sha256", hash)
	creds, err := s.Credentials.Retrieve(r.Context())
	if err != nil {
		return fmt.Errorf("aws-iam: no AWS credentials from the default chain: %w", err)
	}
	now := time.Now
	if s.Now != nil {
		now = s.Now
	}
	service := s.Service
	if service == "" {
		service = "lambda"
	}
	return v4.NewSigner().SignHTTP(r.Context(), creds, r, hash, service, s.Region, now())
}

func readBody(r *http.Request) ([]byte, error) {
	if r.Body == nil || r.Body == http.NoBody {
		return nil, nil
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, MaxSignedBody+1))
	_ = r.Body.Close()
	if err != nil {
		return nil, fmt.Errorf("aws-iam: reading the body to sign: %w", err)
	}
	if len(body) > MaxSignedBody {
		return nil, fmt.Errorf("aws-iam: request body above %d bytes cannot go through a Lambda Function URL", MaxSignedBody)
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	r.ContentLength = int64(len(body))
	r.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(body)), nil }
	return body, nil
}

// RegionFromURL returns the region of a Lambda Function URL host
// (ID.lambda-url.REGION.on.aws), or "".
func RegionFromURL(host string) string {
	parts := strings.Split(host, ".")
	for i, p := range parts {
		if p == "lambda-url" && i+1 < len(parts) {
			return parts[i+1]
		}
	}
	return ""
}

// Transport adds a Signer's credentials to every request. Base nil means
// http.DefaultTransport.
type Transport struct {
	Base   http.RoundTripper
	Signer Signer
}

// RoundTrip implements http.RoundTripper on a clone of r.
func (t *Transport) RoundTrip(r *http.Request) (*http.Response, error) {
	base := t.Base
	if base == nil {
		base = http.DefaultTransport
	}
	if t.Signer == nil {
		return base.RoundTrip(r)
	}
	r = r.Clone(r.Context())
	if err := t.Signer.Sign(r); err != nil {
		return nil, err
	}
	return base.RoundTrip(r)
}

func hashHex(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}
