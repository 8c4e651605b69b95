package agent

import (
	"bufio"
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// PeerNet gives a workload its user networks' peers by name, as Docker's
// embedded DNS and bridge do for containers on one host: each running
// peer gets a loopback address of its own (127.0.0.2 and up), its names
// (container name, aliases) point to that address in /etc/hosts, and the
// agent listens there on every port the peer serves, carrying each
// connection through the relay to the peer's agent (PeerProxy). So a job
// reaches `postgres:5432` whatever cloud workload the service runs in.
//
// The ports a peer serves are the ports its own agent finds listening on
// a non-loopback address (ReportPorts, read from /proc/net/tcp*) plus its
// exposed ports, so a service needs no EXPOSE. Both lists are polled
// every Interval: a peer that starts or opens a port later is reachable
// within about two intervals.
type PeerNet struct {
	ControlPlaneURL string
	Container       string
	Token           string
	Proxy           *PeerProxy
	// HostsFile is the workload's /etc/hosts; the agent rewrites a block
	// it marks at its end and keeps the rest.
	HostsFile string
	// Proc is the proc file system ("/proc"): the listening sockets are
	// read from its net/tcp*, and counted only when a process it shows
	// holds them (so a workload sharing a network namespace, as the local
	// cloud's host-network tasks do, reports only its own).
	Proc string
	// Exclude are ports the agent itself listens on (DirectListener): not
	// the workload's, so not reported.
	Exclude []int
	// Interval between polls; 0 means one second.
	Interval time.Duration
	Client   *http.Client
	Logger   *slog.Logger

	mu        sync.Mutex
	addrs     map[string]string       // peer id -> loopback address
	listeners map[string]net.Listener // "addr:port" -> listener
	reported  []int
}

// PeerInfo is one peer as functions lists it (functions.Peer).
type PeerInfo struct {
	ID    string   `json:"id"`
	Names []string `json:"names"`
	Ports []int    `json:"ports"`
}

type peerList struct {
	Networked bool       `json:"networked"`
	Peers     []PeerInfo `json:"peers"`
}

const hostsMarker = "# sockerless peers"

// Start does a first round synchronously (so the main process finds its
// peers in place) and then polls until ctx ends. It returns false when
// the container is on no user network, and then does nothing more.
func (p *PeerNet) Start(ctx context.Context) (bool, error) {
	p.addrs = map[string]string{}
	p.listeners = map[string]net.Listener{}
	networked, err := p.refresh(ctx)
	if err != nil {
		return false, err
	}
	if !networked {
		return false, nil
	}
	p.reportPorts(ctx)
	iv := p.Interval
	if iv <= 0 {
		iv = time.Second
	}
	go func() {
		t := time.NewTicker(iv)
		defer t.Stop()
		defer p.closeAll()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
			p.reportPorts(ctx)
			if _, err := p.refresh(ctx); err != nil && ctx.Err() == nil && p.Logger != nil {
				p.Logger.Warn("network peers not refreshed", "err", err)
			}
		}
	}()
	return true, nil
}

func (p *PeerNet) closeAll() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for k, l := range p.listeners {
		l.Close()
		delete(p.listeners, k)
	}
}

func (p *PeerNet) call(ctx context.Context, method, what string, body []byte, out any) error {
	return agentCall(ctx, p.Client, p.ControlPlaneURL, p.Container, p.Token, method, what, body, out)
}

// agentCall calls functions' agent route `what` of container with its
// agent token, sending body as JSON when not nil and decoding a 2xx
// answer into out when not nil; client nil uses one with a 30 s timeout.
func agentCall(ctx context.Context, client *http.Client, controlPlaneURL, container, token, method, what string, body []byte, out any) error {
	u := strings.TrimSuffix(controlPlaneURL, "/") + "/_sockerless/agent/" + url.PathEscape(container) + "/" + what
	req, err := http.NewRequestWithContext(ctx, method, u, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+token)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if client == nil {
		client = &http.Client{Timeout: 30 * time.Second}
	}
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 4<<10))
		return fmt.Errorf("%s %s: %s: %s", method, what, resp.Status, bytes.TrimSpace(msg))
	}
	if out != nil {
		return json.NewDecoder(resp.Body).Decode(out)
	}
	return nil
}

// reportPorts posts the workload's listening ports when they changed.
func (p *PeerNet) reportPorts(ctx context.Context) {
	dir := p.Proc
	if dir == "" {
		dir = "/proc"
	}
	ports := slices.DeleteFunc(ListeningPorts(dir), func(n int) bool { return slices.Contains(p.Exclude, n) })
	if p.reported != nil && slices.Equal(ports, p.reported) {
		return
	}
	body, _ := json.Marshal(map[string][]int{"ports": ports})
	if err := p.call(ctx, http.MethodPost, "ports", body, nil); err != nil {
		if p.Logger != nil && ctx.Err() == nil {
			p.Logger.Warn("listening ports not reported", "err", err)
		}
		return
	}
	p.reported = ports
}

// refresh fetches the peers and brings listeners and /etc/hosts in line.
func (p *PeerNet) refresh(ctx context.Context) (bool, error) {
	var l peerList
	if err := p.call(ctx, http.MethodGet, "peers", nil, &l); err != nil {
		return false, err
	}
	if !l.Networked {
		return false, nil
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	want := map[string]PeerInfo{}
	for _, pi := range l.Peers {
		if _, ok := p.addrs[pi.ID]; !ok {
			a, err := p.freeAddr()
			if err != nil {
				return true, err
			}
			p.addrs[pi.ID] = a
		}
		a := p.addrs[pi.ID]
		for _, port := range pi.Ports {
			k := net.JoinHostPort(a, strconv.Itoa(port))
			want[k] = pi
			if _, ok := p.listeners[k]; ok {
				continue
			}
			ln, err := net.Listen("tcp", k)
			if err != nil {
				if p.Logger != nil {
					p.Logger.Warn("cannot listen for a peer", "addr", k, "err", err)
				}
				continue
			}
			p.listeners[k] = ln
			go p.Proxy.accept(ctx, ln, PeerForward{Listen: k, Peer: pi.ID, Port: port})
		}
	}
	for k, ln := range p.listeners {
		if _, ok := want[k]; !ok {
			ln.Close()
			delete(p.listeners, k)
		}
	}
	for id := range p.addrs {
		if !slices.ContainsFunc(l.Peers, func(pi PeerInfo) bool { return pi.ID == id }) {
			delete(p.addrs, id)
		}
	}
	return true, p.writeHosts(l.Peers)
}

// freeAddr is the lowest loopback address from 127.0.0.2 no peer holds.
func (p *PeerNet) freeAddr() (string, error) {
	used := map[string]bool{}
	for _, a := range p.addrs {
		used[a] = true
	}
	for i := 2; i < 1<<16; i++ {
		a := fmt.Sprintf("127.0.%d.%d", i>>8, i&0xff)
		if i&0xff == 0 || i&0xff == 255 {
			continue
		}
		if !used[a] {
			return a, nil
		}
	}
	return "", fmt.Errorf("no loopback address left for another peer")
}

// writeHosts rewrites the marked block of the hosts file in place (Docker
// and ECS bind-mount /etc/hosts, so it cannot be replaced by a rename).
func (p *PeerNet) writeHosts(peers []PeerInfo) error {
	if p.HostsFile == "" {
		return nil
	}
	old, err := os.ReadFile(p.HostsFile)
	if err != nil && !os.IsNotExist(err) {
		return err
	}
	keep, _, _ := strings.Cut(string(old), hostsMarker+"\n")
	var b strings.Builder
	b.WriteString(keep)
	if keep != "" && !strings.HasSuffix(keep, "\n") {
		b.WriteByte('\n')
	}
	b.WriteString(hostsMarker + "\n")
	for _, pi := range peers {
		fmt.Fprintf(&b, "%s\t%s\n", p.addrs[pi.ID], strings.Join(pi.Names, " "))
	}
	if b.String() == string(old) {
		return nil
	}
	return os.WriteFile(p.HostsFile, []byte(b.String()), 0o644)
}

// ListeningPorts are the TCP ports listening on an address other than
// loopback (what a peer could connect to) in proc's net/tcp and net/tcp6
// tables, on sockets that a process proc shows holds, sorted.
func ListeningPorts(proc string) []int {
	held := socketInodes(proc)
	set := map[int]bool{}
	for _, name := range []string{"tcp", "tcp6"} {
		f, err := os.Open(proc + "/net/" + name)
		if err != nil {
			continue
		}
		sc := bufio.NewScanner(f)
		sc.Scan() // header
		for sc.Scan() {
			fs := strings.Fields(sc.Text())
			if len(fs) < 10 || fs[3] != "0A" || !held[fs[9]] { // LISTEN, ours
				continue
			}
			hexIP, hexPort, ok := strings.Cut(fs[1], ":")
			if !ok {
				continue
			}
			port, err := strconv.ParseUint(hexPort, 16, 16)
			if err != nil {
				continue
			}
			raw, err := hex.DecodeString(hexIP)
			if err != nil || (len(raw) != 4 && len(raw) != 16) {
				continue
			}
			// The kernel prints each 32-bit word in host (little-endian) order.
			ip := make(net.IP, len(raw))
			for i := 0; i < len(raw); i += 4 {
				ip[i], ip[i+1], ip[i+2], ip[i+3] = raw[i+3], raw[i+2], raw[i+1], raw[i]
			}
			if ip.IsLoopback() {
				continue
			}
			set[int(port)] = true
		}
		f.Close()
	}
	out := make([]int, 0, len(set))
	for n := range set {
		out = append(out, n)
	}
	slices.Sort(out)
	return out
}

// socketInodes are the inodes of the sockets the processes under proc hold.
func socketInodes(proc string) map[string]bool {
	out := map[string]bool{}
	pids, _ := os.ReadDir(proc)
	for _, d := range pids {
		if _, err := strconv.Atoi(d.Name()); err != nil {
			continue
		}
		fds, _ := os.ReadDir(proc + "/" + d.Name() + "/fd")
		for _, fd := range fds {
			l, err := os.Readlink(proc + "/" + d.Name() + "/fd/" + fd.Name())
			if err != nil {
				continue
			}
			if in, ok := strings.CutPrefix(l, "socket:["); ok {
				out[strings.TrimSuffix(in, "]")] = true
			}
		}
	}
	return out
}
