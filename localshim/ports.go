package localshim

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"

	"github.com/sockerless/sockerless/internal/controlapi"
	"github.com/sockerless/sockerless/internal/errdefs"
	"github.com/sockerless/sockerless/relay/tunnel"
)

// tunnelTicketPath is functions' route for tunnel tickets (functions.TunnelPath).
const tunnelTicketPath = "/_sockerless/tunnel/"

// portsLabel tells functions that the shim listens on the container's
// host ports (functions.PortsLabel), so it shows them.
const portsLabel = "io.sockerless.ports"

// published is one host port the shim listens on for a container port.
type published struct {
	ln   net.Listener
	port int // the container port
}

// portState is what the shim listens on, per container (id and name).
type portState struct {
	mu   sync.Mutex
	byID map[string]*containerPorts
}

type containerPorts struct {
	id, name string
	pubs     []*published
}

// rewritePorts makes every TCP port binding of a create body concrete
// and marks the container with portsLabel:
// the shim listens on the binding's host address and port (an empty or 0
// host port gets a free one, a range the first free port of it) and
// writes the port it got into the body, so functions records, and
// inspect and `docker port` show, the real host port. UDP and SCTP
// bindings are left as they are (not carried). The listeners are
// returned; the caller closes them if the create fails.
func rewritePorts(body []byte) ([]byte, []*published, error) {
	var top map[string]json.RawMessage
	if json.Unmarshal(body, &top) != nil {
		return body, nil, nil
	}
	var hc map[string]json.RawMessage
	if raw, ok := top["HostConfig"]; !ok || json.Unmarshal(raw, &hc) != nil || hc == nil {
		return body, nil, nil
	}
	type binding struct {
		HostIP   string `json:"HostIp"`
		HostPort string `json:"HostPort"`
	}
	var pb map[string][]binding
	if raw, ok := hc["PortBindings"]; !ok || json.Unmarshal(raw, &pb) != nil || len(pb) == 0 {
		return body, nil, nil
	}
	var pubs []*published
	fail := func(err error) ([]byte, []*published, error) {
		for _, p := range pubs {
			p.ln.Close()
		}
		return nil, nil, err
	}
	for key, bs := range pb {
		num, proto, _ := strings.Cut(key, "/")
		if proto != "" && proto != "tcp" {
			continue
		}
		cport, err := strconv.Atoi(num)
		if err != nil || cport < 1 || cport > 65535 {
			continue // functions answers the invalid port
		}
		for i, b := range bs {
			ln, err := listenBinding(b.HostIP, b.HostPort)
			if err != nil {
				return fail(err)
			}
			pubs = append(pubs, &published{ln: ln, port: cport})
			bs[i].HostPort = strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)
		}
	}
	var err error
	if hc["PortBindings"], err = json.Marshal(pb); err != nil {
		return fail(err)
	}
	labels := map[string]string{}
	if raw, ok := top["Labels"]; ok {
		_ = json.Unmarshal(raw, &labels)
		if labels == nil {
			labels = map[string]string{}
		}
	}
	labels[portsLabel] = "shim"
	if top["Labels"], err = json.Marshal(labels); err != nil {
		return fail(err)
	}
	if top["HostConfig"], err = json.Marshal(hc); err != nil {
		return fail(err)
	}
	out, err := json.Marshal(top)
	if err != nil {
		return fail(err)
	}
	return out, pubs, nil
}

// publishAll spells -P (HostConfig.PublishAllPorts) out as bindings:
// every TCP port the container exposes (its ExposedPorts and its
// image's) that has no binding gets one on all addresses with a free host
// port, as Docker gives each a port of the ephemeral range. rewritePorts
// then listens on them. An image that cannot be read adds nothing (the
// create fails on it anyway).
func (s *Shim) publishAll(ctx context.Context, body []byte) []byte {
	var top map[string]json.RawMessage
	if json.Unmarshal(body, &top) != nil {
		return body
	}
	var hc map[string]json.RawMessage
	if json.Unmarshal(top["HostConfig"], &hc) != nil || hc == nil {
		return body
	}
	var all bool
	if json.Unmarshal(hc["PublishAllPorts"], &all) != nil || !all {
		return body
	}
	var exposed map[string]struct{}
	_ = json.Unmarshal(top["ExposedPorts"], &exposed)
	var img string
	if json.Unmarshal(top["Image"], &img) == nil && img != "" {
		var info struct {
			Config struct{ ExposedPorts map[string]struct{} }
		}
		if s.getJSON(ctx, "/images/"+url.PathEscape(img)+"/json", &info) == nil {
			for p := range info.Config.ExposedPorts {
				if exposed == nil {
					exposed = map[string]struct{}{}
				}
				exposed[p] = struct{}{}
			}
		}
	}
	type binding struct {
		HostIP   string `json:"HostIp"`
		HostPort string `json:"HostPort"`
	}
	pb := map[string][]binding{}
	_ = json.Unmarshal(hc["PortBindings"], &pb)
	if pb == nil {
		pb = map[string][]binding{}
	}
	added := false
	for p := range exposed {
		key := p
		if !strings.Contains(key, "/") {
			key += "/tcp"
		}
		if _, ok := pb[key]; ok || !strings.HasSuffix(key, "/tcp") {
			continue // bound already, or UDP/SCTP (not carried)
		}
		pb[key] = []binding{{}}
		added = true
	}
	if !added {
		return body
	}
	raw, err := json.Marshal(pb)
	if err != nil {
		return body
	}
	hc["PortBindings"] = raw
	if top["HostConfig"], err = json.Marshal(hc); err != nil {
		return body
	}
	out, err := json.Marshal(top)
	if err != nil {
		return body
	}
	return out
}

// listenBinding listens on ip (all addresses when empty) and hostPort
// ("" or "0": any free port; "A-B": the first free one of the range).
func listenBinding(ip, hostPort string) (net.Listener, error) {
	lo, hi := 0, 0
	if hostPort != "" {
		a, b, isRange := strings.Cut(hostPort, "-")
		var err1, err2 error
		lo, err1 = strconv.Atoi(a)
		hi = lo
		if isRange {
			hi, err2 = strconv.Atoi(b)
		}
		if err1 != nil || err2 != nil || lo < 0 || hi > 65535 || hi < lo {
			return nil, errdefs.InvalidParameterf("invalid port specification: %q", hostPort)
		}
	}
	var last error
	for p := lo; p <= hi; p++ {
		ln, err := net.Listen("tcp", net.JoinHostPort(ip, strconv.Itoa(p)))
		if err == nil {
			return ln, nil
		}
		last = err
	}
	shown := ip
	if shown == "" {
		shown = "0.0.0.0"
	}
	return nil, fmt.Errorf("driver failed programming external connectivity: Bind for %s:%s failed: port is already allocated (%v)", shown, hostPort, last)
}

// publish starts serving a created container's listeners.
func (s *Shim) publish(id, name string, pubs []*published) {
	if len(pubs) == 0 {
		return
	}
	s.ports.mu.Lock()
	if s.ports.byID == nil {
		s.ports.byID = map[string]*containerPorts{}
	}
	s.ports.byID[id] = &containerPorts{id: id, name: name, pubs: pubs}
	s.ports.mu.Unlock()
	for _, p := range pubs {
		go s.acceptPublished(id, p)
	}
}

// unpublish stops listening for the container ref (id, id prefix or name).
func (s *Shim) unpublish(ref string) {
	s.ports.mu.Lock()
	defer s.ports.mu.Unlock()
	for id, cp := range s.ports.byID {
		if id == ref || cp.name == strings.TrimPrefix(ref, "/") || (len(ref) >= 12 && strings.HasPrefix(id, ref)) {
			for _, p := range cp.pubs {
				p.ln.Close()
			}
			delete(s.ports.byID, id)
		}
	}
}

func (s *Shim) acceptPublished(id string, p *published) {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			if !errors.Is(err, net.ErrClosed) {
				s.log.Warn("published port stopped accepting", "container", id, "port", p.port, "err", err)
			}
			return
		}
		go s.tunnel(context.Background(), id, p.port, c)
	}
}

// tunnel carries one accepted connection to port in container id through
// the relay (see agent.serveTunnel). A container that does not run, or a
// port nobody listens on, closes the connection, as a refused connection
// behind Docker's proxy does.
func (s *Shim) tunnel(ctx context.Context, id string, port int, client net.Conn) {
	defer client.Close()
	remote, err := s.openTunnel(ctx, id, port)
	if err != nil {
		s.log.Debug("published port: no tunnel", "container", id, "port", port, "err", err)
		return
	}
	defer remote.Close()
	tunnel.Bridge(client, remote)
}

// openTunnel asks functions for a tunnel ticket and dials the relay.
func (s *Shim) openTunnel(ctx context.Context, id string, port int) (io.ReadWriteCloser, error) {
	req, err := s.functionsRequest(ctx, http.MethodPost, tunnelTicketPath+url.PathEscape(id), url.Values{"port": {strconv.Itoa(port)}})
	if err != nil {
		return nil, err
	}
	resp, err := s.client.Do(req)
	if err != nil {
		return nil, errdefs.Unavailable(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, answerError(resp)
	}
	var t controlapi.StreamTicket
	if err := json.NewDecoder(resp.Body).Decode(&t); err != nil {
		return nil, err
	}
	return s.opts.Dialer.Dial(ctx, t.RelayURL, t.Token)
}
