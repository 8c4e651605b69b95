package httpx

import (
	"context"
	"net/http"
	"regexp"
	"strconv"
	"strings"

	"github.com/sockerless/sockerless/internal/errdefs"
)

// API versions this server speaks: those of the engine it answers as
// (dockerd 28.2.2, the conformance suite's reference, whose newest is
// 1.50); a newer client negotiates down to it, and a request for a newer
// version gets that engine's refusal.
const (
	MinAPIVersion     = "1.24"
	DefaultAPIVersion = "1.50"
)

var versionPrefix = regexp.MustCompile(`^/v([0-9]+\.[0-9]+)(/.*)$`)

type versionKey struct{}

// APIVersion returns the version the request was made with (from its
// /vX.Y prefix), or DefaultAPIVersion for an unversioned path.
func APIVersion(ctx context.Context) string {
	if v, ok := ctx.Value(versionKey{}).(string); ok {
		return v
	}
	return DefaultAPIVersion
}

// WithVersion strips a /vX.Y prefix, refuses versions outside
// [MinAPIVersion, DefaultAPIVersion] with Docker's 400 message, and
// records the version in the request context.
func WithVersion(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Api-Version", DefaultAPIVersion)
		w.Header().Set("Server", "Sockerless")
		m := versionPrefix.FindStringSubmatch(r.URL.Path)
		if m == nil {
			next.ServeHTTP(w, r)
			return
		}
		v := m[1]
		if VersionLess(v, MinAPIVersion) {
			WriteError(w, errdefs.InvalidParameterf("client version %s is too old. Minimum supported API version is %s, please upgrade your client to a newer version", v, MinAPIVersion), 0)
			return
		}
		if VersionLess(DefaultAPIVersion, v) {
			WriteError(w, errdefs.InvalidParameterf("client version %s is too new. Maximum supported API version is %s", v, DefaultAPIVersion), 0)
			return
		}
		r2 := r.WithContext(context.WithValue(r.Context(), versionKey{}, v))
		u := *r.URL
		u.Path = m[2]
		u.RawPath = ""
		r2.URL = &u
		next.ServeHTTP(w, r2)
	})
}

// VersionLess reports whether API version a is older than b. Malformed
// parts compare as 0.
func VersionLess(a, b string) bool {
	pa, pb := strings.Split(a, "."), strings.Split(b, ".")
	for i := 0; i < len(pa) || i < len(pb); i++ {
		var x, y int
		if i < len(pa) {
			x, _ = strconv.Atoi(pa[i])
		}
		if i < len(pb) {
			y, _ = strconv.Atoi(pb[i])
		}
		if x != y {
			return x < y
		}
	}
	return false
}
