package controlauth_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/sockerless/sockerless/internal/controlauth"
	"github.com/sockerless/sockerless/internal/errdefs"
	"github.com/sockerless/sockerless/internal/lambdahttp"
	"google.golang.org/api/idtoken"
)

func request(method, url, body string, hdr ...string) *http.Request {
	r := httptest.NewRequest(method, url, strings.NewReader(body))
	for i := 0; i+1 < len(hdr); i += 2 {
		r.Header.Set(hdr[i], hdr[i+1])
	}
	return r
}

func check(t *testing.T, v controlauth.Verifier, r *http.Request, wantErr string) {
	t.Helper()
	err := v.Verify(r)
	switch {
	case wantErr == "" && err != nil:
		t.Fatalf("Verify() = %v, want nil", err)
	case wantErr != "" && err == nil:
		t.Fatalf("Verify() = nil, want an error containing %q", wantErr)
	case wantErr != "" && (!strings.Contains(err.Error(), wantErr) || errdefs.HTTPStatus(err) != http.StatusUnauthorized):
		t.Fatalf("Verify() = %v (status %d), want 401 containing %q", err, errdefs.HTTPStatus(err), wantErr)
	}
}

func TestBearerAndFunctionKey(t *testing.T) {
	tests := []struct {
		name    string
		v       controlauth.Verifier
		r       *http.Request
		wantErr string
	}{
		{"bearer ok", controlauth.Bearer("s3cret"), request("GET", "/_ping", "", "Authorization", "Bearer s3cret"), ""},
		{"bearer missing", controlauth.Bearer("s3cret"), request("GET", "/_ping", ""), "missing bearer token"},
		{"bearer malformed", controlauth.Bearer("s3cret"), request("GET", "/_ping", "", "Authorization", "Basic czNjcmV0"), "malformed"},
		{"bearer wrong", controlauth.Bearer("s3cret"), request("GET", "/_ping", "", "Authorization", "Bearer s3cre"), "invalid bearer token"},
		{"bearer longer", controlauth.Bearer("s3cret"), request("GET", "/_ping", "", "Authorization", "Bearer s3cret2"), "invalid bearer token"},
		{"key header ok", controlauth.FunctionKey("k1"), request("GET", "/_ping", "", "x-functions-key", "k1"), ""},
		{"key query ok", controlauth.FunctionKey("k1"), request("GET", "/_ping?code=k1", ""), ""},
		{"key missing", controlauth.FunctionKey("k1"), request("GET", "/_ping", ""), "missing Azure function key"},
		{"key wrong", controlauth.FunctionKey("k1"), request("GET", "/_ping", "", "x-functions-key", "k2"), "invalid Azure function key"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { check(t, tt.v, tt.r, tt.wantErr) })
	}
}

func TestSignersSetTheirHeaders(t *testing.T) {
	var got http.Header
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { got = r.Header.Clone() }))
	defer srv.Close()
	for _, tt := range []struct {
		signer       controlauth.Signer
		header, want string
	}{
		{controlauth.BearerSigner("t"), "Authorization", "Bearer t"},
		{controlauth.FunctionKeySigner("k"), "X-Functions-Key", "k"},
	} {
		c := &http.Client{Transport: &controlauth.Transport{Signer: tt.signer}}
		resp, err := c.Get(srv.URL)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if got.Get(tt.header) != tt.want {
			t.Errorf("%s = %q, want %q", tt.header, got.Get(tt.header), tt.want)
		}
	}
}

var (
	testCreds = aws.Credentials{AccessKeyID: "AKIDEXAMPLE", SecretAccessKey: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"}
	signTime  = time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC)
)

func signed(t *testing.T, creds aws.Credentials, body string) *http.Request {
	t.Helper()
	r := request("POST", "https://abc.lambda-url.eu-west-1.on.aws/v1.50/containers/create?name=web", body,
		"Content-Type", "application/json", "X-Request-Id", "r1")
	s := &controlauth.SigV4Signer{
		Credentials: credentials.NewStaticCredentialsProvider(creds.AccessKeyID, creds.SecretAccessKey, ""),
		Region:      "eu-west-1", Now: func() time.Time { return signTime },
	}
	if err := s.Sign(r); err != nil {
		t.Fatal(err)
	}
	return r
}

// TestSigV4MatchesTheSDKSigner: the shim's signature is what the
// aws-sdk-go-v2 signer computes for the same request.
func TestSigV4MatchesTheSDKSigner(t *testing.T) {
	body := `{"Image":"alpine"}`
	r := signed(t, testCreds, body)
	c := request("POST", r.URL.String(), body, "Content-Type", "application/json", "X-Request-Id", "r1")
	hash := r.Header.Get("X-Amz-Content-Sha256")
	c.Header.Set("X-Amz-Content-Sha256", hash)
	if err := v4.NewSigner().SignHTTP(context.Background(), testCreds, c, hash, "lambda", "eu-west-1", signTime); err != nil {
		t.Fatal(err)
	}
	if got, want := r.Header.Get("Authorization"), c.Header.Get("Authorization"); got != want || got == "" {
		t.Fatalf("Authorization = %q, SDK signer = %q", got, want)
	}
}

func TestSigV4Verifier(t *testing.T) {
	verifier := func(now time.Time) *controlauth.SigV4Verifier {
		return &controlauth.SigV4Verifier{
			Lookup: func(id string) (aws.Credentials, bool) { return testCreds, id == testCreds.AccessKeyID },
			Region: "eu-west-1", Now: func() time.Time { return now },
		}
	}
	wrongKey := testCreds
	wrongKey.SecretAccessKey = "not-the-key"
	otherID := testCreds
	otherID.AccessKeyID = "AKIDOTHER"
	tests := []struct {
		name    string
		r       func() *http.Request
		now     time.Time
		wantErr string
	}{
		{"valid", func() *http.Request { return signed(t, testCreds, "{}") }, signTime.Add(time.Minute), ""},
		{"missing", func() *http.Request { return request("POST", "https://x/v1.50/containers/create", "{}") }, signTime, "missing AWS Signature"},
		{"malformed", func() *http.Request {
			return request("POST", "https://x/", "{}", "Authorization", "AWS4-HMAC-SHA256 garbage")
		}, signTime, "malformed SigV4"},
		{"expired", func() *http.Request { return signed(t, testCreds, "{}") }, signTime.Add(20 * time.Minute), "signature expired"},
		{"wrong secret key", func() *http.Request { return signed(t, wrongKey, "{}") }, signTime, "does not match"},
		{"unknown key id", func() *http.Request { return signed(t, otherID, "{}") }, signTime, "unknown access key"},
		{"body altered", func() *http.Request {
			r := signed(t, testCreds, "{}")
			r.Body = http.NoBody
			r.Body = httptest.NewRequest("POST", "/", strings.NewReader(`{"Image":"evil"}`)).Body
			return r
		}, signTime, "body does not match"},
		{"query altered", func() *http.Request {
			r := signed(t, testCreds, "{}")
			r.URL.RawQuery = "name=other"
			return r
		}, signTime, "does not match"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { check(t, verifier(tt.now), tt.r(), tt.wantErr) })
	}
}

func TestRegionFromURL(t *testing.T) {
	for host, want := range map[string]string{
		"abcdef.lambda-url.us-east-2.on.aws": "us-east-2",
		"example.com":                        "",
	} {
		if got := controlauth.RegionFromURL(host); got != want {
			t.Errorf("RegionFromURL(%q) = %q, want %q", host, got, want)
		}
	}
}

type fakeValidator struct{}

func (fakeValidator) Validate(_ context.Context, tok, aud string) (*idtoken.Payload, error) {
	switch {
	case tok == "expired":
		return nil, errors.New("idtoken: token expired: now=1, expires=0")
	case aud != "https://fn.run.app":
		return nil, errors.New("idtoken: audience provided does not match aud claim in the JWT")
	}
	return &idtoken.Payload{Audience: aud, Claims: map[string]any{"email": tok}}, nil
}

func TestGoogleIDToken(t *testing.T) {
	v := controlauth.GoogleIDToken(fakeValidator{}, "https://fn.run.app", "runner@p.iam.gserviceaccount.com")
	tests := []struct {
		name, auth, wantErr string
	}{
		{"valid", "Bearer runner@p.iam.gserviceaccount.com", ""},
		{"missing", "", "missing Google ID token"},
		{"malformed", "Token x", "malformed"},
		{"expired", "Bearer expired", "token expired"},
		{"other subject", "Bearer intruder@p.iam.gserviceaccount.com", "not allowed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			check(t, v, request("GET", "/_ping", "", "Authorization", tt.auth), tt.wantErr)
		})
	}
}

// TestLambdaIAM feeds Function URL events through the Lambda adapter:
// only an event Lambda marked with a verified IAM caller passes.
func TestLambdaIAM(t *testing.T) {
	v := controlauth.LambdaIAM("123456789012")
	h := lambdahttp.New(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := v.Verify(r); err != nil {
			w.WriteHeader(errdefs.HTTPStatus(err))
			json.NewEncoder(w).Encode(map[string]string{"message": err.Error()})
			return
		}
		w.WriteHeader(http.StatusOK)
	}), lambdahttp.Options{})
	event := func(account string) events.LambdaFunctionURLRequest {
		e := events.LambdaFunctionURLRequest{Version: "2.0", RawPath: "/_ping", Headers: map[string]string{}}
		e.RequestContext.HTTP.Method = "GET"
		e.RequestContext.HTTP.Path = "/_ping"
		if account != "" {
			e.RequestContext.Authorizer = &events.LambdaFunctionURLRequestContextAuthorizerDescription{
				IAM: &events.LambdaFunctionURLRequestContextAuthorizerIAMDescription{AccessKey: "AKID", AccountID: account},
			}
		}
		return e
	}
	for _, tt := range []struct {
		account string
		want    int
	}{{"123456789012", 200}, {"", 401}, {"999999999999", 401}} {
		resp, err := h.InvokeFunctionURL(context.Background(), event(tt.account))
		if err != nil || resp.StatusCode != tt.want {
			t.Errorf("account %q: status %d, %v; want %d (%s)", tt.account, resp.StatusCode, err, tt.want, resp.Body)
		}
	}
	check(t, v, request("GET", "/_ping", ""), "through Lambda")
}
