package controlauth

import (
	"crypto/subtle"
	"net/http"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
)

// MaxClockSkew is how far a SigV4 request's X-Amz-Date may be from the
// verifier's clock, as AWS allows.
const MaxClockSkew = 15 * time.Minute

// SigV4Verifier checks AWS Signature Version 4 the way a Function URL
// with AWS_IAM auth does, by signing the same request again with the
// aws-sdk-go-v2 signer and comparing. Lambda does this itself in AWS; the
// verifier serves fronts that stand in for it (tests, self-hosted
// gateways). Lookup returns the credentials of an access key id.
type SigV4Verifier struct {
	Lookup  func(accessKeyID string) (aws.Credentials, bool)
	Region  string
	Service string
	Now     func() time.Time
}

// Verify implements Verifier. It reads and restores the body.
func (v *SigV4Verifier) Verify(r *http.Request) error {
	auth := r.Header.Get("Authorization")
	if auth == "" {
		return unauthorized("missing AWS Signature Version 4 (Authorization header)")
	}
	rest, ok := strings.CutPrefix(auth, "AWS4-HMAC-SHA256 ")
	if !ok {
		return unauthorized("malformed Authorization header: want AWS4-HMAC-SHA256")
	}
	fields := map[string]string{}
	for _, f := range strings.Split(rest, ",") {
		k, val, _ := strings.Cut(strings.TrimSpace(f), "=")
		fields[k] = val
	}
	cred := strings.Split(fields["Credential"], "/")
	if len(cred) != 5 || fields["SignedHeaders"] == "" || fields["Signature"] == "" {
		return unauthorized("malformed SigV4 Authorization header")
	}
	service := v.Service
	if service == "" {
		service = "lambda"
	}
	if cred[2] != v.Region || cred[3] != service || cred[4] != "aws4_request" {
		return unauthorized("SigV4 credential scope %s/%s is not %s/%s", cred[2], cred[3], v.Region, service)
	}
	when, err := time.Parse("20060102T150405Z", r.Header.Get("X-Amz-Date"))
	if err != nil {
		return unauthorized("missing or malformed X-Amz-Date")
	}
	now := time.Now
	if v.Now != nil {
		now = v.Now
	}
	if d := now().Sub(when); d > MaxClockSkew || d < -MaxClockSkew {
		return unauthorized("signature expired: X-Amz-Date is %s away from the server's clock", d.Round(time.Second))
	}
	creds, ok := v.Lookup(cred[0])
	if !ok {
		return unauthorized("unknown access key id")
	}
	body, err := readBody(r)
	if err != nil {
		return unauthorized("%v", err)
	}
	hash := r.Header.Get("X-Amz-Content-Sha256")
	if hash != hashHex(body) {
		return unauthorized("the body does not match X-Amz-Content-Sha256")
	}
	// Sign a copy holding only the signed headers, at the request's time.
	c := r.Clone(r.Context())
	c.Header = http.Header{}
	for _, h := range strings.Split(fields["SignedHeaders"], ";") {
		if h == "host" {
			continue
		}
		if vals, ok := r.Header[http.CanonicalHeaderKey(h)]; ok {
			c.Header[http.CanonicalHeaderKey(h)] = vals
		}
	}
	if c.Host == "" {
		c.Host = r.Host
	}
	if c.URL.Host == "" {
		c.URL.Host = r.Host
	}
	if err := v4.NewSigner().SignHTTP(r.Context(), creds, c, hash, service, v.Region, when); err != nil {
		return unauthorized("cannot verify the signature: %v", err)
	}
	want := c.Header.Get("Authorization")
	if subtle.ConstantTimeCompare([]byte(want), []byte(auth)) != 1 {
		return unauthorized("the SigV4 signature does not match (wrong secret key, or the request was altered)")
	}
	return nil
}
