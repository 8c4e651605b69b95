package controlapi

import (
	"testing"

	"github.com/sockerless/sockerless/relay/ticket"
)

func TestBlobURL(t *testing.T) {
	for in, want := range map[string]string{
		"ws://127.0.0.1:9":       "http://127.0.0.1:9" + ticket.BlobPath + "b1",
		"wss://relay.example/r/": "https://relay.example/r" + ticket.BlobPath + "b1",
		"http://h:1?x=1":         "http://h:1" + ticket.BlobPath + "b1",
	} {
		if got, err := BlobURL(in, "b1"); err != nil || got != want {
			t.Errorf("BlobURL(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, bad := range []string{"inproc:", "", "ftp://h", "ws://"} {
		if got, err := BlobURL(bad, "b1"); err == nil {
			t.Errorf("BlobURL(%q) = %q, want an error", bad, got)
		}
	}
}
