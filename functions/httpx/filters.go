package httpx

import (
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"strings"

	"github.com/sockerless/sockerless/internal/errdefs"
)

// Filters is the decoded `filters` query parameter: for each key, the set
// of values asked for. Docker ORs values of one key and ANDs keys.
type Filters map[string]map[string]bool

// ParseFilters decodes the filters JSON Docker clients send, in both the
// current form {"label":{"a=b":true}} and the legacy form
// {"label":["a=b"]}. An empty string is no filters. Malformed JSON is a
// 400 that names the parameter.
func ParseFilters(s string) (Filters, error) {
	f := Filters{}
	if strings.TrimSpace(s) == "" {
		return f, nil
	}
	var raw map[string]json.RawMessage
	if err := json.Unmarshal([]byte(s), &raw); err != nil {
		return nil, errdefs.InvalidParameter(fmt.Errorf("invalid filter: %w", err))
	}
	for k, v := range raw {
		set := map[string]bool{}
		var m map[string]bool
		if err := json.Unmarshal(v, &m); err == nil {
			for val, on := range m {
				if on {
					set[val] = true
				}
			}
		} else {
			var list []string
			if err := json.Unmarshal(v, &list); err != nil {
				return nil, errdefs.InvalidParameterf("invalid filter: value of %q must be a map or a list of strings", k)
			}
			for _, val := range list {
				set[val] = true
			}
		}
		f[k] = set
	}
	return f, nil
}

// FiltersFrom parses r's "filters" query parameter.
func FiltersFrom(r *http.Request) (Filters, error) {
	return ParseFilters(r.URL.Query().Get("filters"))
}

// Validate refuses keys not in allowed, as Docker does ("invalid filter
// 'x'").
func (f Filters) Validate(allowed ...string) error {
	for k := range f {
		ok := false
		for _, a := range allowed {
			if k == a {
				ok = true
				break
			}
		}
		if !ok {
			return errdefs.InvalidParameterf("invalid filter '%s'", k)
		}
	}
	return nil
}

// Values returns the values of key, unordered.
func (f Filters) Values(key string) []string {
	out := make([]string, 0, len(f[key]))
	for v := range f[key] {
		out = append(out, v)
	}
	return out
}

// Has reports whether key was given.
func (f Filters) Has(key string) bool { return len(f[key]) > 0 }

// Match reports whether value matches the key's filter: true when the key
// is absent, or value equals one of its values.
func (f Filters) Match(key, value string) bool {
	if !f.Has(key) {
		return true
	}
	return f[key][value]
}

// MatchAny is Match for an object with several values (e.g. names).
func (f Filters) MatchAny(key string, values ...string) bool {
	if !f.Has(key) {
		return true
	}
	for _, v := range values {
		if f[key][v] {
			return true
		}
	}
	return false
}

// MatchPattern reports whether value matches one of key's values taken as
// an unanchored regular expression, as Docker's name filter does. An
// invalid pattern matches literally.
func (f Filters) MatchPattern(key, value string) bool {
	if !f.Has(key) {
		return true
	}
	for p := range f[key] {
		re, err := regexp.Compile(p)
		if err != nil {
			if strings.Contains(value, p) {
				return true
			}
			continue
		}
		if re.MatchString(value) {
			return true
		}
	}
	return false
}

// MatchLabels reports whether labels satisfy every "label" filter value:
// "key" requires the key, "key=value" requires that value. It also
// accepts "label!" values that require the label to differ or be absent.
func (f Filters) MatchLabels(labels map[string]string) bool {
	for v := range f["label"] {
		k, want, hasValue := strings.Cut(v, "=")
		got, ok := labels[k]
		if !ok || (hasValue && got != want) {
			return false
		}
	}
	for v := range f["label!"] {
		k, want, hasValue := strings.Cut(v, "=")
		got, ok := labels[k]
		if ok && (!hasValue || got == want) {
			return false
		}
	}
	return true
}
