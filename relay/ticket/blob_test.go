package ticket

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestVerifyBlob(t *testing.T) {
	secret := []byte("s3cret")
	now := time.Unix(1_700_000_000, 0)
	good, err := SignBlob(secret, BlobGrant{ID: "b1", Op: BlobPut, Purpose: "load", Max: 10, Expires: now.Unix() + 30})
	if err != nil {
		t.Fatal(err)
	}
	expired, _ := SignBlob(secret, BlobGrant{ID: "b1", Op: BlobPut, Expires: now.Unix()})
	other, _ := SignBlob([]byte("other"), BlobGrant{ID: "b1", Op: BlobPut, Expires: now.Unix() + 30})
	noOp, _ := SignBlob(secret, BlobGrant{ID: "b1", Op: "delete", Expires: now.Unix() + 30})
	// A stream ticket signed with the same secret is not a blob ticket,
	// and a blob ticket is not a stream ticket.
	stream, _ := Sign(secret, Grant{Container: "b1", Session: "s", Kind: KindBlob, Expires: now.Unix() + 30})
	for _, tt := range []struct {
		name, token string
		want        error
	}{
		{"good", good, nil},
		{"expired", expired, ErrExpired},
		{"forged key", other, ErrSignature},
		{"stream ticket", stream, ErrSignature},
		{"unknown op", noOp, ErrMalformed},
		{"no dot", "abc", ErrMalformed},
	} {
		t.Run(tt.name, func(t *testing.T) {
			g, err := VerifyBlob(secret, tt.token, now)
			if !errors.Is(err, tt.want) {
				t.Fatalf("VerifyBlob() error = %v, want %v", err, tt.want)
			}
			if tt.want == nil && (g.ID != "b1" || g.Op != BlobPut || g.Purpose != "load" || g.Max != 10) {
				t.Fatalf("grant = %+v", g)
			}
		})
	}
	if _, err := Verify(secret, good, now); !errors.Is(err, ErrSignature) {
		t.Fatalf("a blob ticket verified as a stream ticket: %v", err)
	}
	body, _, _ := strings.Cut(good, ".")
	_, sig, _ := strings.Cut(stream, ".")
	if _, err := VerifyBlob(secret, body+"."+sig, now); !errors.Is(err, ErrSignature) {
		t.Fatalf("spliced signature: %v", err)
	}
}
