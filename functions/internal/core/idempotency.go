package core

import (
	"context"
	"net/http"
	"regexp"
	"strconv"

	"github.com/sockerless/sockerless/internal/controlapi"
	"github.com/sockerless/sockerless/internal/errdefs"
)

// validKey bounds what an idempotency key may be: it becomes part of a
// reserved record name in every store.
var validKey = regexp.MustCompile(`^[A-Za-z0-9_-]{8,64}$`)

// IdempotencyKey returns the request's idempotency key ("" when none) and
// whether this is a retry of an earlier attempt.
func IdempotencyKey(r *http.Request) (key string, retry bool, err error) {
	key = r.Header.Get(controlapi.HeaderIdempotencyKey)
	if key == "" {
		return "", false, nil
	}
	if !validKey.MatchString(key) {
		return "", false, errdefs.InvalidParameterf("invalid %s: want 8 to 64 characters of [A-Za-z0-9_-]", controlapi.HeaderIdempotencyKey)
	}
	n, _ := strconv.Atoi(r.Header.Get(controlapi.HeaderAttempt))
	return key, n > 1, nil
}

type startKeyCtx struct{}

// WithStartKey carries a start request's idempotency key to
// startContainer, which records it with the running state.
func WithStartKey(ctx context.Context, key string) context.Context {
	return context.WithValue(ctx, startKeyCtx{}, key)
}

func startKey(ctx context.Context) string {
	k, _ := ctx.Value(startKeyCtx{}).(string)
	return k
}
