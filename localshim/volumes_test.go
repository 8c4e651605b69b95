package localshim

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"reflect"
	"testing"
)

func TestAddCarriedVolumes(t *testing.T) {
	tests := []struct {
		name string
		body string
		want []CarriedBind // nil: the body is unchanged
	}{
		{"named binds, parents first", `{"HostConfig":{"Binds":["cache:/cache:ro","build:/builds"]}}`,
			[]CarriedBind{{Volume: "build", Destination: "/builds"}, {Volume: "cache", Destination: "/cache", ReadOnly: true}}},
		{"a mount of type volume", `{"HostConfig":{"Mounts":[{"Type":"volume","Source":"data","Target":"/data/"}]}}`,
			[]CarriedBind{{Volume: "data", Destination: "/data"}}},
		{"beside binds the shim carries already", `{"Labels":{"io.sockerless.carry":"[{\"src\":\"/h\",\"dst\":\"/w\"}]"},"HostConfig":{"Binds":["v1:/a"]}}`,
			[]CarriedBind{{Volume: "v1", Destination: "/a"}, {Source: "/h", Destination: "/w"}}},
		{"host paths and anonymous volumes are not", `{"HostConfig":{"Binds":["/h:/w","/anon"],"Mounts":[{"Type":"volume","Target":"/x"}]}}`, nil},
		{"a bad name is left to functions", `{"HostConfig":{"Binds":["a:/a"]}}`, nil},
		{"no host config", `{"Image":"x"}`, nil},
		{"not JSON", `{`, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, err := addCarriedVolumes([]byte(tt.body))
			if err != nil {
				t.Fatal(err)
			}
			if tt.want == nil {
				if string(out) != tt.body {
					t.Fatalf("body changed: %s", out)
				}
				return
			}
			var top struct {
				Labels     map[string]string
				HostConfig json.RawMessage
			}
			if err := json.Unmarshal(out, &top); err != nil {
				t.Fatal(err)
			}
			var got []CarriedBind
			if err := json.Unmarshal([]byte(top.Labels[CarryLabel]), &got); err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("carried %+v, want %+v", got, tt.want)
			}
			var in struct{ HostConfig json.RawMessage }
			_ = json.Unmarshal([]byte(tt.body), &in)
			if string(top.HostConfig) != string(in.HostConfig) {
				t.Fatalf("host config changed: %s", top.HostConfig)
			}
		})
	}
}

func TestSharesVolumes(t *testing.T) {
	for p, want := range map[string]bool{"memory": true, "docker": true, "synthetic": true, "ecs": false, "lambda": false, "unknown": false} {
		if got := sharesVolumes(p); got != want {
			t.Errorf("sharesVolumes(%q) = %v", p, got)
		}
	}
}

func TestEndsWorkload(t *testing.T) {
	tests := []struct {
		url, action string
		want        bool
	}{
		{"/containers/x/stop?t=0", "stop", true},
		{"/containers/x/kill", "kill", true},
		{"/containers/x/kill?signal=SIGTERM", "kill", true},
		{"/containers/x/kill?signal=9", "kill", true},
		{"/containers/x/kill?signal=HUP", "kill", false},
		{"/containers/x/kill?signal=SIGUSR1", "kill", false},
		{"/containers/x/restart", "restart", false},
	}
	for _, tt := range tests {
		r := httptest.NewRequest(http.MethodPost, tt.url, nil)
		if got := endsWorkload(r, tt.action); got != tt.want {
			t.Errorf("endsWorkload(%s) = %v, want %v", tt.url, got, tt.want)
		}
	}
}
