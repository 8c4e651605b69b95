package ticket

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestVerify(t *testing.T) {
	secret := []byte("s3cret")
	now := time.Unix(1_700_000_000, 0)
	good, err := Sign(secret, Grant{Container: "A", Session: "s1", Kind: KindExec, Expires: now.Unix() + 30})
	if err != nil {
		t.Fatal(err)
	}
	expired, _ := Sign(secret, Grant{Container: "A", Session: "s1", Expires: now.Unix() - 1})
	body, _, _ := strings.Cut(good, ".")
	other, _ := Sign([]byte("other"), Grant{Container: "A", Session: "s1", Expires: now.Unix() + 30})
	_, otherSig, _ := strings.Cut(other, ".")
	tests := []struct {
		name  string
		token string
		want  error
	}{
		{"good", good, nil},
		{"expired", expired, ErrExpired},
		{"forged key", other, ErrSignature},
		{"spliced signature", body + "." + otherSig, ErrSignature},
		{"no dot", "abc", ErrMalformed},
		{"empty", "", ErrMalformed},
		{"bad base64", body + ".!!!", ErrMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g, err := Verify(secret, tt.token, now)
			if !errors.Is(err, tt.want) {
				t.Fatalf("Verify() error = %v, want %v", err, tt.want)
			}
			if tt.want == nil && (g.Container != "A" || g.Kind != KindExec) {
				t.Errorf("Verify() = %+v", g)
			}
		})
	}
}

func TestAgentToken(t *testing.T) {
	secret := []byte("s3cret")
	tok := AgentToken(secret, "A")
	if !VerifyAgentToken(secret, "A", tok) {
		t.Error("VerifyAgentToken(A, token of A) = false")
	}
	if VerifyAgentToken(secret, "B", tok) {
		t.Error("VerifyAgentToken(B, token of A) = true")
	}
	if VerifyAgentToken([]byte("x"), "A", tok) {
		t.Error("token verified under another secret")
	}
}

func FuzzVerify(f *testing.F) {
	secret := []byte("k")
	tok, _ := Sign(secret, Grant{Container: "c", Session: "s", Expires: 1 << 40})
	f.Add(tok)
	f.Add("a.b")
	f.Add("")
	f.Fuzz(func(t *testing.T, s string) {
		g, err := Verify(secret, s, time.Unix(0, 0))
		if err == nil && (g.Container == "" || g.Session == "") {
			t.Fatalf("accepted grant without container or session: %q", s)
		}
	})
}
