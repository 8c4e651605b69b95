package controlauth_test

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"math/big"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/sockerless/sockerless/internal/controlauth"
	"google.golang.org/api/idtoken"
	"google.golang.org/api/option"
)

// googleKey is a stand-in for Google's token signing key: tokens it
// signs are checked by the real idtoken validator against its JWKS.
type googleKey struct {
	key *rsa.PrivateKey
	kid string
}

func newGoogleKey(t *testing.T, kid string) googleKey {
	t.Helper()
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	return googleKey{k, kid}
}

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

// sign makes an RS256 ID token with claims.
func (g googleKey) sign(t *testing.T, claims map[string]any) string {
	t.Helper()
	h, _ := json.Marshal(map[string]string{"alg": "RS256", "typ": "JWT", "kid": g.kid})
	c, _ := json.Marshal(claims)
	signing := b64(h) + "." + b64(c)
	sum := sha256.Sum256([]byte(signing))
	sig, err := rsa.SignPKCS1v15(rand.Reader, g.key, crypto.SHA256, sum[:])
	if err != nil {
		t.Fatal(err)
	}
	return signing + "." + b64(sig)
}

func (g googleKey) jwks() []byte {
	b, _ := json.Marshal(map[string]any{"keys": []map[string]string{{
		"kty": "RSA", "alg": "RS256", "use": "sig", "kid": g.kid,
		"n": b64(g.key.N.Bytes()), "e": b64(big.NewInt(int64(g.key.E)).Bytes()),
	}}})
	return b
}

// certsTransport answers Google's certificate URL with jwks.
type certsTransport struct{ jwks []byte }

func (c certsTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	rec := httptest.NewRecorder()
	if r.URL.Host == "www.googleapis.com" && r.URL.Path == "/oauth2/v3/certs" {
		rec.Header().Set("Content-Type", "application/json")
		rec.Header().Set("Cache-Control", "max-age=3600")
		_, _ = rec.Write(c.jwks)
	} else {
		rec.WriteHeader(http.StatusNotFound)
	}
	return rec.Result(), nil
}

// TestGoogleIDTokenWithTheRealValidator: tokens are checked by
// google.golang.org/api/idtoken against the signing key's JWKS.
func TestGoogleIDTokenWithTheRealValidator(t *testing.T) {
	google := newGoogleKey(t, "k1")
	impostor := newGoogleKey(t, "k1") // same key id, other key
	v, err := idtoken.NewValidator(context.Background(), option.WithHTTPClient(&http.Client{Transport: certsTransport{google.jwks()}}))
	if err != nil {
		t.Fatal(err)
	}
	const aud = "https://sockerless-abc-uc.a.run.app"
	verifier := controlauth.GoogleIDToken(v, aud, "runner@proj.iam.gserviceaccount.com")
	now := time.Now()
	claims := func(mod func(map[string]any)) map[string]any {
		c := map[string]any{"iss": "https://accounts.google.com", "aud": aud, "sub": "1",
			"email": "runner@proj.iam.gserviceaccount.com", "iat": now.Unix(), "exp": now.Add(time.Hour).Unix()}
		if mod != nil {
			mod(c)
		}
		return c
	}
	tests := []struct {
		name, token, wantErr string
	}{
		{"valid", google.sign(t, claims(nil)), ""},
		{"expired", google.sign(t, claims(func(c map[string]any) { c["exp"] = now.Add(-time.Hour).Unix() })), "expired"},
		{"wrong key", impostor.sign(t, claims(nil)), "invalid Google ID token"},
		{"other audience", google.sign(t, claims(func(c map[string]any) { c["aud"] = "https://other.run.app" })), "audience"},
		{"other account", google.sign(t, claims(func(c map[string]any) { c["email"] = "x@evil.iam.gserviceaccount.com" })), "not allowed"},
		{"malformed", "not.a.jwt", "invalid Google ID token"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := request("GET", "/_ping", "", "Authorization", "Bearer "+tt.token)
			check(t, verifier, r, tt.wantErr)
			if err := verifier.Verify(r); err != nil && strings.Contains(err.Error(), tt.token) {
				t.Fatalf("the error quotes the token: %v", err)
			}
		})
	}
}

// TestGoogleIDTokenSource: the shim's signer gets ID tokens the way
// idtoken.NewTokenSource does for a service account (a signed assertion
// exchanged at the key file's token_uri) and sends them as bearer tokens.
func TestGoogleIDTokenSource(t *testing.T) {
	sa, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	google := newGoogleKey(t, "k1")
	const aud = "https://sockerless-abc-uc.a.run.app"
	var gotAssertion string
	tokenURI := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_ = r.ParseForm()
		gotAssertion = r.PostForm.Get("assertion")
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{"id_token": google.sign(t, map[string]any{
			"iss": "https://accounts.google.com", "aud": aud, "email": "runner@proj.iam.gserviceaccount.com",
			"iat": time.Now().Unix(), "exp": time.Now().Add(time.Hour).Unix()})})
	}))
	defer tokenURI.Close()
	keyFile, _ := json.Marshal(map[string]string{
		"type": "service_account", "project_id": "proj", "private_key_id": "sa1",
		"private_key":  string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: must(x509.MarshalPKCS8PrivateKey(sa))})),
		"client_email": "runner@proj.iam.gserviceaccount.com", "client_id": "1", "token_uri": tokenURI.URL,
	})
	ts, err := idtoken.NewTokenSource(context.Background(), aud, idtoken.WithAuthCredentialsJSON(idtoken.ServiceAccount, keyFile))
	if err != nil {
		t.Fatal(err)
	}
	var seen string
	fn := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { seen = r.Header.Get("Authorization") }))
	defer fn.Close()
	c := &http.Client{Transport: &controlauth.Transport{Signer: controlauth.TokenSourceSigner(ts)}}
	resp, err := c.Get(fn.URL + "/_ping")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if gotAssertion == "" {
		t.Fatal("no assertion reached the token URI")
	}
	// The token functions receives passes the real validator.
	v, err := idtoken.NewValidator(context.Background(), option.WithHTTPClient(&http.Client{Transport: certsTransport{google.jwks()}}))
	if err != nil {
		t.Fatal(err)
	}
	check(t, controlauth.GoogleIDToken(v, aud), request("GET", "/_ping", "", "Authorization", seen), "")
}

func must(b []byte, err error) []byte {
	if err != nil {
		panic(err)
	}
	return b
}
