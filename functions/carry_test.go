package functions

import (
	"context"
	"encoding/json"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sockerless/sockerless/internal/controlapi"
	"github.com/sockerless/sockerless/relay/direct"
	"github.com/sockerless/sockerless/relay/ticket"
	"github.com/sockerless/sockerless/statestore/memory"
)

// TestCarryTicket: a carry ticket is issued only through a shim, for an
// existing container, a known direction and one of its tmpfs mounts (a
// carried bind's destination), and names that direction and directory.
func TestCarryTicket(t *testing.T) {
	a := newTestAPI(t)
	code, body := do(a, "POST", "/containers/create?name=job", `{"Image":"alpine:3.20","Cmd":["true"],"HostConfig":{"Mounts":[{"Type":"tmpfs","Target":"/__w"}]}}`)
	if code != 201 {
		t.Fatalf("create: %d %s", code, body)
	}
	ask := func(path string, shim bool) (int, string) {
		rec := httptest.NewRecorder()
		req := httptest.NewRequest("POST", path, nil)
		if shim {
			req.Header.Set(controlapi.HeaderShim, "1")
		}
		a.ServeHTTP(rec, req)
		return rec.Code, rec.Body.String()
	}
	for _, tc := range []struct {
		name, path string
		shim       bool
		want       int
		msg        string
	}{
		{"no shim", "/_sockerless/carry/job?op=push&dir=/__w", false, 400, "needs the sockerless shim"},
		{"unknown container", "/_sockerless/carry/nope?op=push&dir=/__w", true, 404, "No such container"},
		{"bad direction", "/_sockerless/carry/job?op=sideways&dir=/__w", true, 400, "op must be"},
		{"not a carried mount", "/_sockerless/carry/job?op=push&dir=/etc", true, 400, "not a carried mount"},
		{"push", "/_sockerless/carry/job?op=push&dir=/__w", true, 200, ""},
		{"pull", "/_sockerless/carry/job?op=pull&dir=/__w", true, 200, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, body := ask(tc.path, tc.shim)
			if code != tc.want || !strings.Contains(body, tc.msg) {
				t.Fatalf("%s = %d %s, want %d %q", tc.path, code, body, tc.want, tc.msg)
			}
			if code != http.StatusOK {
				return
			}
			var st controlapi.StreamTicket
			if err := json.Unmarshal([]byte(body), &st); err != nil {
				t.Fatal(err)
			}
			g, err := ticket.Verify([]byte("test-secret"), st.Token, a.st.Now())
			if err != nil {
				t.Fatal(err)
			}
			if g.Kind != ticket.KindCarry || g.Carry == nil || g.Carry.Dir != "/__w" || !strings.Contains(tc.path, "op="+g.Carry.Op) {
				t.Fatalf("grant %+v (carry %+v)", g, g.Carry)
			}
		})
	}
}

// TestTunnelTicketAndPorts: a tunnel ticket needs the shim, a valid port
// and a running container; a running container whose ports a shim
// listens on shows its bindings' host ports in inspect and list (both
// unspecified addresses for a binding on all of them), a created one, or
// one nobody listens for, does not.
func TestTunnelTicketAndPorts(t *testing.T) {
	// Workloads run until the test ends them: a 50 ms run could end
	// before the next request on a loaded machine.
	a, _, _ := sweepAPI(t, memory.New())
	code, body := do(a, "POST", "/containers/create?name=web", `{"Image":"alpine:3.20","Cmd":["sleep","300"],"ExposedPorts":{"80/tcp":{},"81/tcp":{}},"Labels":{"io.sockerless.ports":"shim"},"HostConfig":{"PortBindings":{"80/tcp":[{"HostIp":"127.0.0.1","HostPort":"32801"}],"81/tcp":[{"HostIp":"","HostPort":"8081"}]}}}`)
	if code != 201 {
		t.Fatalf("create: %d %s", code, body)
	}
	ask := func(path string) (int, string) {
		rec := httptest.NewRecorder()
		req := httptest.NewRequest("POST", path, nil)
		req.Header.Set(controlapi.HeaderShim, "1")
		a.ServeHTTP(rec, req)
		return rec.Code, rec.Body.String()
	}
	if code, body := ask("/_sockerless/tunnel/web?port=80"); code != 409 {
		t.Fatalf("tunnel to a created container: %d %s", code, body)
	}
	if _, body := do(a, "GET", "/containers/web/json", ""); !strings.Contains(body, `"Ports":{"80/tcp":null,"81/tcp":null}`) {
		t.Fatalf("a created container shows host ports: %s", body)
	}
	if code, body := do(a, "POST", "/containers/web/start", ""); code != 204 {
		t.Fatalf("start: %d %s", code, body)
	}
	for _, p := range []string{"0", "65536", "x", ""} {
		if code, _ := ask("/_sockerless/tunnel/web?port=" + p); code != 400 {
			t.Fatalf("port %q: %d", p, code)
		}
	}
	code, body = ask("/_sockerless/tunnel/web?port=80")
	if code != 200 {
		t.Fatalf("tunnel: %d %s", code, body)
	}
	var st controlapi.StreamTicket
	_ = json.Unmarshal([]byte(body), &st)
	if g, err := ticket.Verify([]byte("test-secret"), st.Token, a.st.Now()); err != nil || g.Kind != ticket.KindTunnel || g.Tunnel.Port != 80 {
		t.Fatalf("grant %+v, %v", g, err)
	}
	var info struct {
		NetworkSettings struct {
			Ports map[string][]struct{ HostIp, HostPort string }
		}
	}
	_, body = do(a, "GET", "/containers/web/json", "")
	if err := json.Unmarshal([]byte(body), &info); err != nil {
		t.Fatal(err)
	}
	got, _ := json.Marshal(info.NetworkSettings.Ports)
	want := `{"80/tcp":[{"HostIp":"127.0.0.1","HostPort":"32801"}],"81/tcp":[{"HostIp":"0.0.0.0","HostPort":"8081"},{"HostIp":"::","HostPort":"8081"}]}`
	if string(got) != want {
		t.Fatalf("Ports = %s, want %s", got, want)
	}
	// Without the label (embedded mode: nothing listens) no host port.
	code, body = do(a, "POST", "/containers/create?name=unheard", `{"Image":"alpine:3.20","Cmd":["sleep","300"],"HostConfig":{"PortBindings":{"80/tcp":[{"HostPort":"8080"}]}}}`)
	if code != 201 {
		t.Fatalf("create: %d %s", code, body)
	}
	do(a, "POST", "/containers/unheard/start", "")
	if _, body := do(a, "GET", "/containers/unheard/json", ""); strings.Contains(body, `"HostIp":"0.0.0.0"`) {
		t.Fatalf("host ports shown with nobody listening: %s", body)
	}
	_, body = do(a, "GET", "/containers/json?filters=%7B%22name%22%3A%5B%22web%22%5D%7D", "")
	if !strings.Contains(body, `"Ports":[{"IP":"127.0.0.1","PrivatePort":80,"PublicPort":32801,"Type":"tcp"},{"IP":"0.0.0.0","PrivatePort":81,"PublicPort":8081,"Type":"tcp"},{"IP":"::","PrivatePort":81,"PublicPort":8081,"Type":"tcp"}]`) {
		t.Fatalf("list: %s", body)
	}
}

// TestAgentPeer: an agent gets a tunnel ticket to a running peer on one
// of its user networks, named by container name, alias or address; a
// container on another network (or only on the default bridge) gets 404,
// a bad agent token 401, a stopped peer 409.
func TestAgentPeer(t *testing.T) {
	// Workloads run until the test ends them: a 50 ms run could end
	// before the next request on a loaded machine.
	a, _, _ := sweepAPI(t, memory.New())
	for _, n := range []string{"ci-net", "ci-other"} {
		if code, body := do(a, "POST", "/networks/create", `{"Name":"`+n+`"}`); code != 201 {
			t.Fatalf("network create: %d %s", code, body)
		}
	}
	ids := map[string]string{}
	for _, c := range []struct{ name, body string }{
		{"db", `{"Image":"alpine:3.20","Cmd":["sleep","300"],"NetworkingConfig":{"EndpointsConfig":{"ci-net":{"Aliases":["database"]}}}}`},
		{"cli", `{"Image":"alpine:3.20","Cmd":["sleep","300"],"HostConfig":{"NetworkMode":"ci-net"}}`},
		{"other", `{"Image":"alpine:3.20","Cmd":["sleep","300"],"HostConfig":{"NetworkMode":"ci-other"}}`},
		{"plain", `{"Image":"alpine:3.20","Cmd":["sleep","300"]}`},
	} {
		code, body := do(a, "POST", "/containers/create?name="+c.name, c.body)
		if code != 201 {
			t.Fatalf("create %s: %d %s", c.name, code, body)
		}
		var r struct{ Id string }
		_ = json.Unmarshal([]byte(body), &r)
		ids[c.name] = r.Id
		if code, body := do(a, "POST", "/containers/"+c.name+"/start", ""); code != 204 {
			t.Fatalf("start %s: %d %s", c.name, code, body)
		}
	}
	_, body := do(a, "GET", "/containers/db/json", "")
	var info struct {
		NetworkSettings struct {
			Networks map[string]struct{ IPAddress string }
		}
	}
	_ = json.Unmarshal([]byte(body), &info)
	ip := info.NetworkSettings.Networks["ci-net"].IPAddress
	ask := func(from, token, name string) (int, string) {
		rec := httptest.NewRecorder()
		req := httptest.NewRequest("POST", "/_sockerless/agent/"+ids[from]+"/peer?port=5432&name="+name, nil)
		req.Header.Set("Authorization", "Bearer "+token)
		a.ServeHTTP(rec, req)
		return rec.Code, rec.Body.String()
	}
	secret := []byte("test-secret")
	for _, tc := range []struct {
		from, name string
		want       int
	}{
		{"cli", "database", 200}, {"cli", "db", 200}, {"cli", ip, 200}, {"cli", ids["db"][:12], 200},
		{"cli", "nobody", 404}, {"other", "database", 404}, {"other", "db", 404}, {"plain", "db", 404},
	} {
		code, body := ask(tc.from, ticket.AgentToken(secret, ids[tc.from]), tc.name)
		if code != tc.want {
			t.Fatalf("%s -> %s: %d %s, want %d", tc.from, tc.name, code, body, tc.want)
		}
		if code == 200 {
			var st controlapi.StreamTicket
			_ = json.Unmarshal([]byte(body), &st)
			g, err := ticket.Verify(secret, st.Token, a.st.Now())
			if err != nil || g.Container != ids["db"] || g.Kind != ticket.KindTunnel || g.Tunnel.Port != 5432 {
				t.Fatalf("%s -> %s: grant %+v, %v", tc.from, tc.name, g, err)
			}
		}
	}
	if code, _ := ask("cli", ticket.AgentToken(secret, ids["other"]), "db"); code != 401 {
		t.Fatalf("another container's token: %d, want 401", code)
	}

	// Direct connections: once db's agent reports where it takes them,
	// the answer offers them too, and the offer opens a connection to
	// db's agent (a direct.Server with db's token) to the port.
	if _, body := ask("cli", ticket.AgentToken(secret, ids["cli"]), "db"); strings.Contains(body, `"direct"`) {
		t.Fatalf("an offer before db reported any address: %s", body)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	dialed := make(chan int, 1)
	srv := &direct.Server{Container: ids["db"], Token: ticket.AgentToken(secret, ids["db"]),
		DialPort: func(ctx context.Context, port int) (net.Conn, error) {
			dialed <- port
			c1, c2 := net.Pipe()
			go c2.Close()
			return c1, nil
		}}
	sctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() { _ = srv.Serve(sctx, ln) }()
	report := func(token, body string) int {
		rec := httptest.NewRecorder()
		req := httptest.NewRequest("POST", "/_sockerless/agent/"+ids["db"]+"/direct", strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+token)
		req.Header.Set("Content-Type", "application/json")
		a.ServeHTTP(rec, req)
		return rec.Code
	}
	dbTok := ticket.AgentToken(secret, ids["db"])
	for _, bad := range []string{`{"addrs":["db:7012"]}`, `{"addrs":["0.0.0.0:7012"]}`, `{"addrs":["10.0.0.1:0"]}`, `{"addrs":["10.0.0.1"]}`,
		`{"addrs":[` + strings.Repeat(`"10.0.0.1:1",`, 16) + `"10.0.0.1:1"]}`, `{"addrs":`} {
		if code := report(dbTok, bad); code != 400 {
			t.Fatalf("direct report %s: %d, want 400", bad, code)
		}
	}
	if code := report(ticket.AgentToken(secret, ids["cli"]), `{"addrs":["`+ln.Addr().String()+`"]}`); code != 401 {
		t.Fatalf("direct report with cli's token for db: %d, want 401", code)
	}
	if code := report(dbTok, `{"addrs":["`+ln.Addr().String()+`"]}`); code != 204 {
		t.Fatalf("direct report: %d", code)
	}
	code, body := ask("cli", ticket.AgentToken(secret, ids["cli"]), "database")
	var pt controlapi.PeerTicket
	if err := json.Unmarshal([]byte(body), &pt); code != 200 || err != nil || pt.Direct == nil || pt.Token == "" {
		t.Fatalf("peer answer after the report: %d %s", code, body)
	}
	if pt.Direct.Container != ids["db"] || pt.Direct.Port != 5432 || !slices.Equal(pt.Direct.Addrs, []string{ln.Addr().String()}) {
		t.Fatalf("offer %+v", pt.Direct)
	}
	c, err := direct.Dial(context.Background(), *pt.Direct, 10*time.Second)
	if err != nil {
		t.Fatalf("the offer did not open a connection: %v", err)
	}
	c.Close()
	if p := <-dialed; p != 5432 {
		t.Fatalf("db's agent dialled port %d", p)
	}

	if code, body := do(a, "POST", "/containers/db/kill", ""); code != 204 {
		t.Fatalf("kill: %d %s", code, body)
	}
	if code, _ := ask("cli", ticket.AgentToken(secret, ids["cli"]), "database"); code != 409 {
		t.Fatalf("a stopped peer: %d, want 409", code)
	}
}

// TestAgentPeers: an agent lists its user networks' running peers with
// their names and the ports they expose or reported listening; another
// network's containers and the container itself are not listed, a
// container on no user network is told so, and a bad report changes
// nothing.
func TestAgentPeers(t *testing.T) {
	// Workloads run until the test ends them: a 50 ms run could end
	// before the next request on a loaded machine.
	a, _, _ := sweepAPI(t, memory.New())
	for _, n := range []string{"ci-net", "ci-other"} {
		if code, body := do(a, "POST", "/networks/create", `{"Name":"`+n+`"}`); code != 201 {
			t.Fatalf("network create: %d %s", code, body)
		}
	}
	ids := map[string]string{}
	for _, c := range []struct{ name, body string }{
		{"db", `{"Image":"alpine:3.20","Cmd":["sleep","300"],"ExposedPorts":{"5432/tcp":{},"53/udp":{}},"NetworkingConfig":{"EndpointsConfig":{"ci-net":{"Aliases":["database"]}}}}`},
		{"cli", `{"Image":"alpine:3.20","Cmd":["sleep","300"],"HostConfig":{"NetworkMode":"ci-net"}}`},
		{"other", `{"Image":"alpine:3.20","Cmd":["sleep","300"],"HostConfig":{"NetworkMode":"ci-other"}}`},
		{"plain", `{"Image":"alpine:3.20","Cmd":["sleep","300"]}`},
	} {
		code, body := do(a, "POST", "/containers/create?name="+c.name, c.body)
		if code != 201 {
			t.Fatalf("create %s: %d %s", c.name, code, body)
		}
		var r struct{ Id string }
		_ = json.Unmarshal([]byte(body), &r)
		ids[c.name] = r.Id
		if code, body := do(a, "POST", "/containers/"+c.name+"/start", ""); code != 204 {
			t.Fatalf("start %s: %d %s", c.name, code, body)
		}
	}
	secret := []byte("test-secret")
	call := func(method, from, what, body string) (int, string) {
		rec := httptest.NewRecorder()
		req := httptest.NewRequest(method, "/_sockerless/agent/"+ids[from]+"/"+what, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+ticket.AgentToken(secret, ids[from]))
		a.ServeHTTP(rec, req)
		return rec.Code, rec.Body.String()
	}
	if code, body := call("POST", "db", "ports", `{"ports":[8080,5432]}`); code != 204 {
		t.Fatalf("ports report: %d %s", code, body)
	}
	if code, _ := call("POST", "db", "ports", `{"ports":[0]}`); code != 400 {
		t.Fatalf("port 0: %d, want 400", code)
	}
	peers := func(from string) PeerList {
		code, body := call("GET", from, "peers", "")
		if code != 200 {
			t.Fatalf("peers of %s: %d %s", from, code, body)
		}
		var l PeerList
		if err := json.Unmarshal([]byte(body), &l); err != nil {
			t.Fatal(err)
		}
		return l
	}
	l := peers("cli")
	if !l.Networked || len(l.Peers) != 1 || l.Peers[0].ID != ids["db"] ||
		!slices.Equal(l.Peers[0].Names, slices.Sorted(slices.Values([]string{ids["db"][:12], "database", "db"}))) || !slices.Equal(l.Peers[0].Ports, []int{5432, 8080}) {
		t.Fatalf("peers of cli: %+v", l)
	}
	if l := peers("other"); !l.Networked || len(l.Peers) != 0 {
		t.Fatalf("peers of other: %+v", l)
	}
	if l := peers("plain"); l.Networked || len(l.Peers) != 0 {
		t.Fatalf("peers of plain: %+v", l)
	}
	if code, body := do(a, "POST", "/containers/db/kill", ""); code != 204 {
		t.Fatalf("kill: %d %s", code, body)
	}
	if l := peers("cli"); len(l.Peers) != 0 {
		t.Fatalf("a stopped peer listed: %+v", l)
	}
}
