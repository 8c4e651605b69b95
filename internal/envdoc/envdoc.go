// Package envdoc prints the environment variables of a binary's
// configuration struct for its --help: each `env` tag with its prefix, its
// `envDefault` and its `help` text.
package envdoc

import (
	"fmt"
	"io"
	"reflect"
	"slices"
	"strings"
)

// Write lists the fields of cfg (a struct value) as "PREFIXNAME (default
// D)" lines followed by their help. Keys named in unprefixed (such as
// PORT, the Cloud Run convention) are printed without the prefix.
func Write(w io.Writer, cfg any, prefix string, unprefixed ...string) {
	t := reflect.TypeOf(cfg)
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		key := f.Tag.Get("env")
		if key == "" {
			continue
		}
		def := f.Tag.Get("envDefault")
		if def == "" {
			def = `""`
		}
		name := prefix + key
		if slices.Contains(unprefixed, key) {
			name = key
		}
		fmt.Fprintf(w, "  %s (default %s)\n      %s\n", name, def, strings.TrimSpace(f.Tag.Get("help")))
	}
}
