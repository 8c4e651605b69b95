package localshim

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/sockerless/sockerless/internal/errdefs"
)

// TestRewriteCreate: binds of host folders (Binds and bind Mounts) become
// tmpfs mounts listed in the carry label, parents first; a bind of a host
// file is dropped; volumes, anonymous volumes and fields the shim does not
// know pass unchanged; a bind mount of a missing source is Docker's 400.
func TestRewriteCreate(t *testing.T) {
	dir := t.TempDir()
	work, temp, sock := filepath.Join(dir, "work"), filepath.Join(dir, "work", "_temp"), filepath.Join(dir, "docker.sock")
	if err := os.MkdirAll(temp, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(sock, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	type mountJSON struct {
		Type, Source, Target string
		ReadOnly             bool
	}
	type want struct {
		binds  []string
		mounts []mountJSON
		carry  []CarriedBind
		labels map[string]string
	}
	for _, tc := range []struct {
		name string
		body string
		want *want // nil: body unchanged
		err  int
	}{
		{"no binds", `{"Image":"a","HostConfig":{"Binds":["vol:/data","/anon"]}}`, nil, 0},
		{"not JSON", `{`, nil, 0},
		{"github job", `{"Image":"a","Labels":{"x":"y"},"Custom":1,"HostConfig":{"Binds":["` + sock + `:/var/run/docker.sock","` + work + `:/__w","` + temp + `:/__w/_temp","/ext:/__e:ro","cache:/cache"],"Memory":5}}`, &want{
			binds:  []string{"cache:/cache"},
			mounts: []mountJSON{{Type: "tmpfs", Target: "/__w"}, {Type: "tmpfs", Target: "/__w/_temp"}, {Type: "tmpfs", Target: "/__e", ReadOnly: true}},
			carry:  []CarriedBind{{Source: "/ext", Destination: "/__e", ReadOnly: true}, {Source: work, Destination: "/__w"}, {Source: temp, Destination: "/__w/_temp"}},
			labels: map[string]string{"x": "y"},
		}, 0},
		{"bind mounts", `{"Image":"a","HostConfig":{"Mounts":[{"Type":"volume","Source":"v","Target":"/v"},{"Type":"bind","Source":"` + work + `","Target":"/w","ReadOnly":true}]}}`, &want{
			binds:  []string{},
			mounts: []mountJSON{{Type: "volume", Source: "v", Target: "/v"}, {Type: "tmpfs", Target: "/w", ReadOnly: true}},
			carry:  []CarriedBind{{Source: work, Destination: "/w", ReadOnly: true}},
			labels: map[string]string{},
		}, 0},
		{"missing bind mount source", `{"Image":"a","HostConfig":{"Mounts":[{"Type":"bind","Source":"/does/not/exist","Target":"/w"}]}}`, nil, 400},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, carried, err := RewriteCreate([]byte(tc.body))
			if tc.err != 0 {
				if errdefs.HTTPStatus(err) != tc.err || !strings.Contains(err.Error(), "bind source path does not exist") {
					t.Fatalf("err = %v, want %d", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if tc.want == nil {
				if string(out) != tc.body || carried != nil {
					t.Fatalf("changed: %s, %v", out, carried)
				}
				return
			}
			var got struct {
				Custom     int
				Labels     map[string]string
				HostConfig struct {
					Binds  []string
					Mounts []mountJSON
					Memory int
				}
			}
			if err := json.Unmarshal(out, &got); err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got.HostConfig.Binds, tc.want.binds) || !reflect.DeepEqual(got.HostConfig.Mounts, tc.want.mounts) {
				t.Fatalf("binds %q mounts %+v", got.HostConfig.Binds, got.HostConfig.Mounts)
			}
			if !reflect.DeepEqual(carried, tc.want.carry) {
				t.Fatalf("carried %+v, want %+v", carried, tc.want.carry)
			}
			var label []CarriedBind
			if err := json.Unmarshal([]byte(got.Labels[CarryLabel]), &label); err != nil || !reflect.DeepEqual(label, tc.want.carry) {
				t.Fatalf("label %q: %v", got.Labels[CarryLabel], err)
			}
			delete(got.Labels, CarryLabel)
			if !reflect.DeepEqual(got.Labels, tc.want.labels) {
				t.Fatalf("labels %v", got.Labels)
			}
			if strings.Contains(tc.body, "Custom") && (got.Custom != 1 || got.HostConfig.Memory != 5) {
				t.Fatalf("unknown fields lost: %s", out)
			}
		})
	}
}

// TestRewriteCreateRefusesUncarriable: a bind whose source is the host's
// root (directly or through a link), one of its pseudo file systems, or a
// tree over the limits is refused at create with a 400 naming why, in
// Binds and in bind Mounts alike; a tree within the limits is carried.
func TestRewriteCreateRefusesUncarriable(t *testing.T) {
	dir := t.TempDir()
	big := filepath.Join(dir, "big")
	if err := os.MkdirAll(filepath.Join(big, "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	for i := range 5 {
		if err := os.WriteFile(filepath.Join(big, "sub", fmt.Sprint(i)), make([]byte, 100), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	toRoot := filepath.Join(dir, "toroot")
	if err := os.Symlink("/", toRoot); err != nil {
		t.Fatal(err)
	}
	lim := CarryLimits{Files: 10, Bytes: 1000}
	for _, tc := range []struct {
		name, src string
		lim       CarryLimits
		why       string // "" = carried
	}{
		{"root", "/", lim, "root of the runner host"},
		{"root unclean", "/./", lim, "root of the runner host"},
		{"link to root", toRoot, lim, "root of the runner host"},
		{"proc", "/proc", lim, "pseudo file system /proc"},
		{"in proc", "/proc/self", lim, "pseudo file system /proc"},
		{"sys", "/sys", lim, "pseudo file system /sys"},
		{"dev", "/dev", lim, "pseudo file system /dev"},
		{"too many files", big, CarryLimits{Files: 5, Bytes: 1000}, "more than 5 entries"},
		{"too many bytes", big, CarryLimits{Files: 10, Bytes: 499}, "or 499 bytes"},
		{"within limits", big, lim, ""},
		{"missing", filepath.Join(dir, "new"), lim, ""},
	} {
		for _, body := range []string{
			`{"Image":"a","HostConfig":{"Binds":["` + tc.src + `:/host"]}}`,
			`{"Image":"a","HostConfig":{"Binds":[],"Mounts":[{"Type":"bind","Source":"` + tc.src + `","Target":"/host"}]}}`,
		} {
			if tc.name == "missing" && strings.Contains(body, "Mounts") {
				continue // a missing bind-mount source is refused as Docker does
			}
			t.Run(tc.name, func(t *testing.T) {
				_, carried, err := rewriteCreate([]byte(body), tc.lim)
				if tc.why == "" {
					if err != nil || len(carried) != 1 {
						t.Fatalf("%s: carried %v, err %v; want carried", body, carried, err)
					}
					return
				}
				if errdefs.HTTPStatus(err) != 400 || !strings.Contains(err.Error(), "cannot be carried") || !strings.Contains(err.Error(), tc.why) {
					t.Fatalf("%s: err = %v, want 400 saying %q", body, err, tc.why)
				}
			})
		}
	}
}
