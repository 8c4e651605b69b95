package functions

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"testing"

	"github.com/sockerless/sockerless/functions/internal/core"
	"github.com/sockerless/sockerless/functions/records"
)

// TestBridgeAddressNames checks the default bridge's addresses, which are
// reserved as names of the container records: every container gets its
// own, a requested address that is taken is refused with 403 and stores
// nothing, a removed container's address is free again, the bridge
// record is never rewritten, and network connect/disconnect reserve and
// free an address the same way.
func TestBridgeAddressNames(t *testing.T) {
	a := newTestAPI(t)
	ctx := context.Background()
	bridgeBefore, err := a.st.Raw().Get(ctx, records.KindNetwork, core.DefaultBridge.ID)
	if err != nil {
		t.Fatal(err)
	}
	create := func(name, body string) (int, string) {
		t.Helper()
		code, resp := do(a, "POST", "/containers/create?name="+name, body)
		var cr struct{ Id string }
		_ = json.Unmarshal([]byte(resp), &cr)
		return code, cr.Id
	}
	ipOf := func(id string) string {
		t.Helper()
		c, err := a.st.Container(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		ep := c.Networks["bridge"]
		if ep == nil || ep.IPAddress == "" || ep.AddrName != records.AddrName("bridge", ep.IPAddress) {
			t.Fatalf("container %s bridge endpoint %+v", id, ep)
		}
		holder, err := a.st.ContainerByName(ctx, ep.AddrName)
		if err != nil || holder.ID != c.ID {
			t.Fatalf("address name %s held by %v (%v), want %s", ep.AddrName, holder, err, c.ID)
		}
		return ep.IPAddress
	}
	seen := map[string]bool{}
	for i := range 20 {
		code, id := create(fmt.Sprintf("b%d", i), `{"Image":"alpine:3.20","Cmd":["true"]}`)
		if code != http.StatusCreated {
			t.Fatalf("create b%d: %d", i, code)
		}
		ip := ipOf(id)
		if seen[ip] {
			t.Fatalf("address %s given twice", ip)
		}
		seen[ip] = true
	}

	req := `{"Image":"alpine:3.20","Cmd":["a"],"NetworkingConfig":{"EndpointsConfig":{"bridge":{"IPAMConfig":{"IPv4Address":"172.17.3.9"}}}}}`
	code, first := create("fixed1", req)
	if code != http.StatusCreated || ipOf(first) != "172.17.3.9" {
		t.Fatalf("create with requested address: %d", code)
	}
	if code, _ := create("fixed2", req); code != http.StatusForbidden {
		t.Fatalf("second create with the same address: %d, want 403", code)
	}
	if _, err := a.st.ContainerByName(ctx, "fixed2"); err == nil {
		t.Fatal("refused create left its name behind")
	}
	if c, body := do(a, "DELETE", "/containers/"+first, ""); c != http.StatusNoContent {
		t.Fatalf("rm: %d %s", c, body)
	}
	code, second := create("fixed2", req)
	if code != http.StatusCreated || ipOf(second) != "172.17.3.9" {
		t.Fatalf("address not free after rm: %d", code)
	}

	// Connect and disconnect: containers on a network of their own join
	// the bridge.
	if c, body := do(a, "POST", "/networks/create", `{"Name":"own"}`); c != http.StatusCreated {
		t.Fatalf("network create: %d %s", c, body)
	}
	code, loner := create("loner", `{"Image":"alpine:3.20","Cmd":["a"],"HostConfig":{"NetworkMode":"own"}}`)
	if code != http.StatusCreated {
		t.Fatalf("create on none: %d", code)
	}
	if c, body := do(a, "POST", "/networks/bridge/disconnect", `{"Container":"loner"}`); c != http.StatusForbidden {
		t.Fatalf("disconnect of unconnected: %d %s", c, body)
	}
	code, other := create("other", `{"Image":"alpine:3.20","Cmd":["a"],"HostConfig":{"NetworkMode":"own"}}`)
	if code != http.StatusCreated {
		t.Fatalf("create other: %d", code)
	}
	if c, body := do(a, "POST", "/networks/bridge/connect", `{"Container":"`+loner+`","EndpointConfig":{"IPAMConfig":{"IPv4Address":"172.17.3.9"}}}`); c != http.StatusForbidden {
		t.Fatalf("connect with a taken address: %d %s", c, body)
	}
	if c, body := do(a, "POST", "/networks/bridge/connect", `{"Container":"`+other+`"}`); c != http.StatusOK {
		t.Fatalf("connect: %d %s", c, body)
	}
	ip := ipOf(other)
	if c, body := do(a, "POST", "/networks/bridge/disconnect", `{"Container":"`+other+`"}`); c != http.StatusOK {
		t.Fatalf("disconnect: %d %s", c, body)
	}
	if _, err := a.st.ContainerByName(ctx, records.AddrName("bridge", ip)); err == nil {
		t.Fatalf("address %s still reserved after disconnect", ip)
	}

	bridgeAfter, err := a.st.Raw().Get(ctx, records.KindNetwork, core.DefaultBridge.ID)
	if err != nil {
		t.Fatal(err)
	}
	if bridgeAfter.Version != bridgeBefore.Version {
		t.Fatalf("bridge record rewritten: version %d -> %d", bridgeBefore.Version, bridgeAfter.Version)
	}
}
