package ticket

import (
	"crypto/hmac"
	"encoding/json"
	"fmt"
	"strings"
	"time"
)

// KindBlob is a blob ticket: the right to upload (BlobPut) or download
// (BlobGet) one request body held by the relay's blob store, so that a
// body larger than the platform allows (docker load, a build context)
// travels shim → relay → functions instead of through the function's
// request. Blob tickets are signed for a purpose of their own, so a blob
// ticket is never a valid stream ticket and a stream ticket never a
// valid blob ticket.
const KindBlob = "blob"

// Blob operations.
const (
	BlobPut = "put" // the shim uploads the body
	BlobGet = "get" // functions fetches it, once
)

// BlobGrant is what a blob ticket allows: one operation on one blob.
type BlobGrant struct {
	// ID names the blob; functions chooses it at random when it issues
	// the upload ticket.
	ID string `json:"b"`
	// Op is BlobPut or BlobGet.
	Op string `json:"o"`
	// Purpose is what the body is for ("load", "build"); a blob uploaded
	// for one purpose is never served for another.
	Purpose string `json:"p"`
	// Max bounds an upload's size in bytes (BlobPut only).
	Max int64 `json:"m,omitempty"`
	// Expires is when the ticket stops being valid, in Unix seconds.
	Expires int64 `json:"x"`
}

// SignBlob returns the blob ticket for g signed with secret.
func SignBlob(secret []byte, g BlobGrant) (string, error) {
	body, err := json.Marshal(g)
	if err != nil {
		return "", err
	}
	b := enc.EncodeToString(body)
	return b + "." + enc.EncodeToString(mac(secret, KindBlob, b)), nil
}

// VerifyBlob checks a blob ticket's signature and expiry at now and
// returns its grant. Its errors are those of Verify.
func VerifyBlob(secret []byte, token string, now time.Time) (BlobGrant, error) {
	b, sig, ok := strings.Cut(token, ".")
	if !ok || b == "" || sig == "" {
		return BlobGrant{}, ErrMalformed
	}
	got, err := enc.DecodeString(sig)
	if err != nil {
		return BlobGrant{}, ErrMalformed
	}
	if !hmac.Equal(got, mac(secret, KindBlob, b)) {
		return BlobGrant{}, ErrSignature
	}
	body, err := enc.DecodeString(b)
	if err != nil {
		return BlobGrant{}, ErrMalformed
	}
	var g BlobGrant
	if err := json.Unmarshal(body, &g); err != nil || g.ID == "" || (g.Op != BlobPut && g.Op != BlobGet) {
		return BlobGrant{}, ErrMalformed
	}
	if now.Unix() >= g.Expires {
		return BlobGrant{}, fmt.Errorf("%w at %s", ErrExpired, time.Unix(g.Expires, 0).UTC().Format(time.RFC3339))
	}
	return g, nil
}

// BlobPath is the relay's blob endpoint: PUT BlobPath+id uploads a blob
// with a BlobPut ticket as bearer, GET BlobPath+id fetches it, once, with
// a BlobGet ticket.
const BlobPath = "/v1/blobs/"
