package controlapi

import (
	"fmt"
	"net/url"
	"strings"

	"github.com/sockerless/sockerless/relay/ticket"
)

// BlobURL returns the HTTP address of blob id at the relay whose base URL
// (as put in tickets: ws://, wss://, http:// or https://) is relayURL.
func BlobURL(relayURL, id string) (string, error) {
	u, err := url.Parse(relayURL)
	if err != nil {
		return "", fmt.Errorf("relay URL %q: %w", relayURL, err)
	}
	switch u.Scheme {
	case "ws":
		u.Scheme = "http"
	case "wss":
		u.Scheme = "https"
	case "http", "https":
	default:
		return "", fmt.Errorf("relay URL %q has no blob endpoint: want ws://, wss://, http:// or https://", relayURL)
	}
	if u.Host == "" {
		return "", fmt.Errorf("relay URL %q has no host", relayURL)
	}
	u.Path = strings.TrimSuffix(u.Path, "/") + ticket.BlobPath + url.PathEscape(id)
	u.RawQuery, u.Fragment = "", ""
	return u.String(), nil
}
