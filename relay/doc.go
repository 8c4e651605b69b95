// Package relay is where a shim's stream and a container's agent meet.
//
// A shim presents a signed stream ticket (package ticket); the relay checks
// it, finds the agent of the ticket's container, and pairs the two byte
// streams, which then carry frames (package frame). The Hub in this package
// is the in-process relay used in embedded mode: agents register a session
// server per container and sessions are paired over in-memory pipes. The
// network relay (cmd/sockerless-relay) pairs the same frames over
// WebSockets.
package relay
