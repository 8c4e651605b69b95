package httpx

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/sockerless/sockerless/internal/errdefs"
)

// BoolValue reads a boolean query parameter the way Docker does: absent,
// "", "0", "no", "false" and "none" are false; anything else is true.
func BoolValue(r *http.Request, key string) bool {
	switch strings.ToLower(strings.TrimSpace(r.URL.Query().Get(key))) {
	case "", "0", "no", "false", "none":
		return false
	}
	return true
}

// IntValue reads an integer query parameter; absent or empty gives def.
func IntValue(r *http.Request, key string, def int) (int, error) {
	s := r.URL.Query().Get(key)
	if s == "" {
		return def, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil {
		return 0, errdefs.InvalidParameter(fmt.Errorf("invalid value for %s: %q: %w", key, s, err))
	}
	return n, nil
}
