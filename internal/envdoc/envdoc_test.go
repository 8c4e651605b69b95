package envdoc

import (
	"strings"
	"testing"
)

func TestWrite(t *testing.T) {
	type cfg struct {
		Port   string `env:"PORT" envDefault:"8080" help:"port"`
		Secret string `env:"SECRET" help:" the secret "`
		Other  int
	}
	var b strings.Builder
	Write(&b, cfg{}, "X_", "PORT")
	want := "  PORT (default 8080)\n      port\n  X_SECRET (default \"\")\n      the secret\n"
	if b.String() != want {
		t.Fatalf("got %q, want %q", b.String(), want)
	}
}
