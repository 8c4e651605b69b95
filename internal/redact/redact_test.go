package redact

import (
	"strings"
	"testing"
)

func TestURL(t *testing.T) {
	tests := []struct {
		in, want string
		secret   string // must not appear in the output
	}{
		{"aztables://acct/tbl?endpoint=http://127.0.0.1:1&key=c2VjcmV0", "aztables://acct/tbl?endpoint=http%3A%2F%2F127.0.0.1%3A1&key=REDACTED", "c2VjcmV0"},
		{"dynamodb://table?region=eu-west-1", "dynamodb://table?region=eu-west-1", ""},
		{"https://u:hunter2@store.example/x", "https://u:REDACTED@store.example/x", "hunter2"},
		{"https://h/x?AccountKey=a&SharedAccessSignature=b&sessionToken=c", "https://h/x?AccountKey=REDACTED&SharedAccessSignature=REDACTED&sessionToken=REDACTED", "="},
		{"memory:", "memory:", ""},
		{"%zz", "%zz", ""},
	}
	for _, tc := range tests {
		got := URL(tc.in)
		if tc.secret == "=" {
			for _, v := range []string{"=a", "=b", "=c"} {
				if strings.Contains(got, v) {
					t.Errorf("URL(%q) = %q, leaks %q", tc.in, got, v)
				}
			}
		} else if tc.secret != "" && strings.Contains(got, tc.secret) {
			t.Errorf("URL(%q) = %q, leaks %q", tc.in, got, tc.secret)
		}
		if got != tc.want {
			t.Errorf("URL(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestTokens(t *testing.T) {
	tests := []struct{ in, want string }{
		{"token expired", "token expired"},
		{"idtoken: invalid token eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.sig", "idtoken: invalid token [token]"},
		{"", ""},
	}
	for _, tc := range tests {
		if got := Tokens(tc.in); got != tc.want {
			t.Errorf("Tokens(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}
