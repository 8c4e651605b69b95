// Package redact keeps secrets out of errors and logs: every place that
// would print a URL that may carry credentials (a state store's, with its
// account key) or an error that may quote a bearer token (a JWT a library
// refused) goes through it, so what counts as a secret is decided once.
package redact

import (
	"net/url"
	"strings"
)

// Redacted replaces a secret.
const Redacted = "REDACTED"

// credentialKeys are the query parameter names, in lower case, whose
// values are secrets: any name containing one of them.
var credentialKeys = []string{"key", "secret", "token", "password", "sig"}

// URL returns s with the credentials it may carry replaced by Redacted:
// a password in its user info and the values of query parameters whose
// name contains key, secret, token, password or sig. A string that does
// not parse as a URL is returned as it is.
func URL(s string) string {
	u, err := url.Parse(s)
	if err != nil {
		return s
	}
	changed := false
	if _, ok := u.User.Password(); ok {
		u.User = url.UserPassword(u.User.Username(), Redacted)
		changed = true
	}
	if u.RawQuery != "" {
		q := u.Query()
		for k := range q {
			if isCredential(k) {
				q.Set(k, Redacted)
				changed = true
			}
		}
		if changed {
			u.RawQuery = q.Encode()
		}
	}
	if !changed {
		return s
	}
	return u.String()
}

func isCredential(name string) bool {
	name = strings.ToLower(name)
	for _, k := range credentialKeys {
		if strings.Contains(name, k) {
			return true
		}
	}
	return false
}

// Tokens returns msg cut where a JSON Web Token starts ("eyJ", the
// base64 of `{"`), with "[token]" in its place: a validator's reason is
// kept, a token it quotes is not.
func Tokens(msg string) string {
	if i := strings.Index(msg, "eyJ"); i >= 0 {
		return msg[:i] + "[token]"
	}
	return msg
}
