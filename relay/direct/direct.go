// Package direct connects a workload to a port of a peer workload over
// one TCP connection between their agents, without the relay, when the
// two can reach each other (two Fargate tasks in one VPC, two local
// processes): each relayed byte otherwise crosses the relay and two
// WebSocket framings, which caps bulk throughput between workloads.
//
// Functions authorises the connection as it authorises a relayed one
// (the asking container and the peer share a user network) and answers
// with an Offer next to the relay ticket: the peer agent's addresses, a
// fresh nonce, an expiry and two MACs keyed by the peer's agent token.
// The dialling agent presents the Proof; the peer's agent, which knows its
// own token, checks it and answers with the Answer, which the dialling
// agent compares, so neither side can be stood in for by a workload that
// does not hold that token: the dialler learns the MACs only from
// functions and never learns the token. A nonce is accepted once.
//
// On the wire: the dialler sends a hello, the server a reply, each a
// 2-byte big-endian length and that many bytes of JSON; then the
// connection carries the port's bytes both ways, unframed (so the
// kernel can splice them), with half-closes passed on.
package direct

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strconv"
	"sync"
	"time"
)

// Offer is what functions gives the dialling agent: where the peer's
// agent listens and the credentials of one connection to Port of
// Container.
type Offer struct {
	// Addrs are the peer agent's listening addresses (host:port), tried
	// in order.
	Addrs     []string `json:"addrs"`
	Container string   `json:"container"`
	Port      int      `json:"port"`
	Nonce     string   `json:"nonce"`
	// Expires is a Unix time after which the peer refuses the Proof.
	Expires int64  `json:"expires"`
	Proof   string `json:"proof"`
	// Answer is what the peer's agent must reply.
	Answer string `json:"answer"`
}

// NewOffer makes an offer for one connection to port of container, whose
// agent token is token and whose agent listens at addrs.
func NewOffer(token, container string, port int, addrs []string, expires time.Time) (Offer, error) {
	var n [16]byte
	if _, err := rand.Read(n[:]); err != nil {
		return Offer{}, err
	}
	o := Offer{Addrs: addrs, Container: container, Port: port, Nonce: enc.EncodeToString(n[:]), Expires: expires.Unix()}
	o.Proof = sum(token, "proof", o.Container, o.Port, o.Nonce, o.Expires)
	o.Answer = sum(token, "answer", o.Container, o.Port, o.Nonce, o.Expires)
	return o, nil
}

var enc = base64.RawURLEncoding

func sum(token, purpose, container string, port int, nonce string, expires int64) string {
	h := hmac.New(sha256.New, []byte(token))
	for _, s := range []string{"sockerless-direct-v1", purpose, container, strconv.Itoa(port), nonce, strconv.FormatInt(expires, 10)} {
		h.Write([]byte(s))
		h.Write([]byte{0})
	}
	return enc.EncodeToString(h.Sum(nil))
}

// hello is the dialler's first message.
type hello struct {
	Container string `json:"container"`
	Port      int    `json:"port"`
	Nonce     string `json:"nonce"`
	Expires   int64  `json:"expires"`
	Proof     string `json:"proof"`
}

// reply is the server's answer to a hello: the Answer MAC once the port
// is connected, or why not.
type reply struct {
	Answer string `json:"answer,omitempty"`
	Error  string `json:"error,omitempty"`
}

// maxMsg bounds a hello or reply; real ones are under 400 bytes.
const maxMsg = 4 << 10

// ErrRefused is a hello the server did not accept.
var ErrRefused = errors.New("direct connection refused")

func writeMsg(w io.Writer, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	if len(b) > maxMsg {
		return fmt.Errorf("direct: message of %d bytes", len(b))
	}
	msg := make([]byte, 2+len(b))
	binary.BigEndian.PutUint16(msg, uint16(len(b)))
	copy(msg[2:], b)
	_, err = w.Write(msg)
	return err
}

// readMsg reads exactly one message, never past it: what follows is the
// port's bytes.
func readMsg(r io.Reader, v any) error {
	var l [2]byte
	if _, err := io.ReadFull(r, l[:]); err != nil {
		return err
	}
	n := int(binary.BigEndian.Uint16(l[:]))
	if n == 0 || n > maxMsg {
		return fmt.Errorf("%w: message of %d bytes", ErrRefused, n)
	}
	b := make([]byte, n)
	if _, err := io.ReadFull(r, b); err != nil {
		return err
	}
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("%w: %v", ErrRefused, err)
	}
	return nil
}

// Dial connects to the offer's port through the first of its addresses
// that takes the connection within timeout and answers with the right
// Answer within HandshakeTimeout. The returned connection carries the
// port's bytes. An address that did not take the connection gives an
// error that is not ErrRefused (the caller may skip it for a while); a
// peer that took it but refused, or did not answer, gives ErrRefused.
func Dial(ctx context.Context, o Offer, timeout time.Duration) (net.Conn, error) {
	var errs []error
	for _, addr := range o.Addrs {
		c, err := dialOne(ctx, o, addr, timeout)
		if err == nil {
			return c, nil
		}
		errs = append(errs, fmt.Errorf("%s: %w", addr, err))
	}
	if len(errs) == 0 {
		return nil, errors.New("direct: the offer has no address")
	}
	return nil, errors.Join(errs...)
}

func dialOne(ctx context.Context, o Offer, addr string, timeout time.Duration) (net.Conn, error) {
	d := net.Dialer{Timeout: timeout}
	c, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	// Connected: the peer's agent is there, and on a loaded machine may
	// take a while to answer; a slow answer is not a dead address.
	_ = c.SetDeadline(time.Now().Add(HandshakeTimeout))
	h := hello{Container: o.Container, Port: o.Port, Nonce: o.Nonce, Expires: o.Expires, Proof: o.Proof}
	var rep reply
	if err := writeMsg(c, h); err != nil {
		c.Close()
		return nil, fmt.Errorf("%w: %v", ErrRefused, err)
	}
	if err := readMsg(c, &rep); err != nil {
		c.Close()
		if errors.Is(err, ErrRefused) {
			return nil, err
		}
		return nil, fmt.Errorf("%w: no answer: %v", ErrRefused, err)
	}
	switch {
	case rep.Error != "":
		c.Close()
		return nil, fmt.Errorf("%w: %s", ErrRefused, rep.Error)
	case !hmac.Equal([]byte(rep.Answer), []byte(o.Answer)):
		c.Close()
		return nil, fmt.Errorf("%w: the peer's answer is not the container's", ErrRefused)
	}
	_ = c.SetDeadline(time.Time{})
	return c, nil
}

// Server is a peer agent's end: it checks each hello against the agent's
// own token and connects the port in its workload.
type Server struct {
	// Container is the agent's container id and Token its agent token.
	Container, Token string
	// DialPort connects to a port of the workload.
	DialPort func(ctx context.Context, port int) (net.Conn, error)
	// Now is the clock; nil is time.Now.
	Now    func() time.Time
	Logger *slog.Logger

	mu      sync.Mutex
	seen    map[string]int64 // nonce -> expiry
	pending int              // connections still in their handshake
}

// maxPending bounds the connections in their handshake at once: past it
// a new one is closed unread, so a flood of idle connections cannot hold
// the agent's descriptors for HandshakeTimeout each.
const maxPending = 256

// maxNonces bounds the nonces kept against replay; a hello that would
// need more is refused until some expire.
const maxNonces = 100_000

// HandshakeTimeout bounds the hello's arrival at the server and the
// reply's at the dialler.
const HandshakeTimeout = 10 * time.Second

// Serve accepts connections on ln until ln is closed or ctx ends.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	stop := context.AfterFunc(ctx, func() { ln.Close() })
	defer stop()
	for {
		c, err := ln.Accept()
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, net.ErrClosed) {
				return nil
			}
			return err
		}
		go s.serve(ctx, c)
	}
}

func (s *Server) serve(ctx context.Context, c net.Conn) {
	defer c.Close()
	if !s.enter() {
		return
	}
	_ = c.SetDeadline(time.Now().Add(HandshakeTimeout))
	var h hello
	err := readMsg(c, &h)
	s.leave()
	if err != nil {
		return
	}
	if err := s.check(h); err != nil {
		if s.Logger != nil {
			// Debug: a probe of the port must not fill the container's stderr.
			s.Logger.Debug("direct connection refused", "from", c.RemoteAddr().String(), "err", err)
		}
		_ = writeMsg(c, reply{Error: err.Error()})
		return
	}
	up, err := s.DialPort(ctx, h.Port)
	if err != nil {
		_ = writeMsg(c, reply{Error: fmt.Sprintf("connecting to port %d in the container: %v", h.Port, err)})
		return
	}
	defer up.Close()
	if err := writeMsg(c, reply{Answer: sum(s.Token, "answer", h.Container, h.Port, h.Nonce, h.Expires)}); err != nil {
		return
	}
	_ = c.SetDeadline(time.Time{})
	stop := context.AfterFunc(ctx, func() { c.Close(); up.Close() })
	defer stop()
	Pipe(c, up)
}

func (s *Server) enter() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.pending >= maxPending {
		return false
	}
	s.pending++
	return true
}

func (s *Server) leave() {
	s.mu.Lock()
	s.pending--
	s.mu.Unlock()
}

// check accepts a hello once: for this container, a valid port, not
// expired, with the proof this agent's token makes, a nonce not seen.
func (s *Server) check(h hello) error {
	now := time.Now
	if s.Now != nil {
		now = s.Now
	}
	t := now().Unix()
	switch {
	case h.Container != s.Container:
		return errors.New("not this container")
	case h.Port < 1 || h.Port > 65535:
		return fmt.Errorf("invalid port %d", h.Port)
	case t >= h.Expires:
		return errors.New("expired")
	case !hmac.Equal([]byte(h.Proof), []byte(sum(s.Token, "proof", h.Container, h.Port, h.Nonce, h.Expires))):
		return errors.New("invalid proof")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.seen == nil {
		s.seen = map[string]int64{}
	}
	if _, ok := s.seen[h.Nonce]; ok {
		return errors.New("nonce already used")
	}
	if len(s.seen) >= maxNonces {
		for n, exp := range s.seen {
			if t >= exp {
				delete(s.seen, n)
			}
		}
		if len(s.seen) >= maxNonces {
			return errors.New("too many connections in flight")
		}
	}
	s.seen[h.Nonce] = h.Expires
	return nil
}

// Pipe copies both ways between a and b until both directions ended,
// passing each half-close on. With two TCP connections the copies are
// the kernel's (splice).
func Pipe(a, b net.Conn) {
	done := make(chan struct{})
	go func() {
		copyHalf(a, b)
		close(done)
	}()
	copyHalf(b, a)
	<-done
}

type closeWriter interface{ CloseWrite() error }

func copyHalf(dst, src net.Conn) {
	_, err := io.Copy(dst, src)
	if cw, ok := dst.(closeWriter); ok && err == nil {
		_ = cw.CloseWrite()
		return
	}
	// A broken direction ends both: closing makes the other copy return.
	dst.Close()
	src.Close()
}

// Addrs are the addresses peers dial to reach ln: its own address, or
// with an unspecified host (0.0.0.0, ::) every address of the machine's
// interfaces that is not loopback or link-local, at ln's port.
func Addrs(ln net.Listener) ([]string, error) {
	ta, ok := ln.Addr().(*net.TCPAddr)
	if !ok {
		return nil, fmt.Errorf("direct: %T is not a TCP listener", ln.Addr())
	}
	port := strconv.Itoa(ta.Port)
	if !ta.IP.IsUnspecified() {
		return []string{net.JoinHostPort(ta.IP.String(), port)}, nil
	}
	ifas, err := net.InterfaceAddrs()
	if err != nil {
		return nil, err
	}
	var out []string
	for _, a := range ifas {
		ipn, ok := a.(*net.IPNet)
		if !ok || ipn.IP.IsLoopback() || ipn.IP.IsLinkLocalUnicast() || (ta.IP.To4() != nil && ipn.IP.To4() == nil) {
			continue
		}
		out = append(out, net.JoinHostPort(ipn.IP.String(), port))
	}
	return out, nil
}
