// Package httpx is the HTTP plumbing of the functions tier: a router for
// Docker's path shapes (image names contain slashes), API-version
// negotiation, Docker-shaped error answers, bounded JSON decoding, query
// parsing and the filters parameter.
//
// Handlers have the signature HandlerFunc: they return an error instead of
// writing one, so every error is answered in one place, in one shape.
package httpx
