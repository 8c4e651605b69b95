package core

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/mount"
	"github.com/sockerless/sockerless/functions/records"
	"github.com/sockerless/sockerless/internal/errdefs"
)

func TestValidateVolumeName(t *testing.T) {
	tests := []struct {
		name, err string
	}{
		{"data", ""},
		{"a1_b.c-d", ""},
		{"ab", ""},
		{".", `create .: volume name is too short, names should be at least two alphanumeric characters`},
		{"/", `create /: volume name is too short, names should be at least two alphanumeric characters`},
		{"..", `create ..: ".." includes invalid characters for a local volume name, only "[a-zA-Z0-9][a-zA-Z0-9_.-]" are allowed. If you intended to pass a host directory, use absolute path`},
		{"a/../../x", `create a/../../x: "a/../../x" includes invalid characters`},
		{"./x", `create ./x: "./x" includes invalid characters`},
		{"_x", `includes invalid characters`},
		{"x y", `includes invalid characters`},
	}
	for _, tc := range tests {
		err := ValidateVolumeName(tc.name)
		if tc.err == "" {
			if err != nil {
				t.Errorf("validateVolumeName(%q) = %v, want nil", tc.name, err)
			}
			continue
		}
		if err == nil || !errdefs.IsInvalidParameter(err) || !strings.Contains(err.Error(), tc.err) {
			t.Errorf("validateVolumeName(%q) = %v, want invalid parameter containing %q", tc.name, err, tc.err)
		}
	}
}

func TestCheckMounts(t *testing.T) {
	tests := []struct {
		name      string
		hc        container.HostConfig
		hostBinds bool
		err       string
	}{
		{"named volume", container.HostConfig{Binds: []string{"v1:/d:ro"}}, false, ""},
		{"anonymous bind", container.HostConfig{Binds: []string{"/data"}}, false, ""},
		{"host bind embedded", container.HostConfig{Binds: []string{"/h:/c"}}, true, ""},
		{"host bind split", container.HostConfig{Binds: []string{"/:/host"}}, false, "bind mounts of host paths are not supported"},
		{"host bind mount split", container.HostConfig{Mounts: []mount.Mount{{Type: mount.TypeBind, Source: "/", Target: "/h"}}}, false, "bind mounts of host paths are not supported"},
		{"relative bind", container.HostConfig{Binds: []string{"..:/r"}}, true, `"..\" includes invalid characters`},
		{"traversal", container.HostConfig{Binds: []string{"a/../../../../tmp/x:/x"}}, true, "includes invalid characters"},
		{"relative target", container.HostConfig{Binds: []string{"nocolon"}}, true, "invalid volume specification: 'nocolon': invalid mount config for type \"volume\": invalid mount path: 'nocolon' mount path must be absolute"},
		{"too many colons", container.HostConfig{Binds: []string{"a:/b:ro:x"}}, true, "invalid volume specification: 'a:/b:ro:x'"},
		{"empty source", container.HostConfig{Binds: []string{":/b"}}, true, "invalid volume specification: ':/b'"},
		{"root target", container.HostConfig{Binds: []string{"v1:/"}}, true, "destination can't be '/'"},
		{"anonymous mount", container.HostConfig{Mounts: []mount.Mount{{Type: mount.TypeVolume, Target: "/m"}}}, false, ""},
		{"dot mount", container.HostConfig{Mounts: []mount.Mount{{Type: mount.TypeVolume, Source: ".", Target: "/m"}}}, false, "volume name is too short"},
		{"relative bind mount", container.HostConfig{Mounts: []mount.Mount{{Type: mount.TypeBind, Source: "..", Target: "/m"}}}, true, "mount path must be absolute"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := CheckMounts(&tc.hc, tc.hostBinds)
			if tc.err == "" {
				if err != nil {
					t.Fatalf("checkMounts = %v, want nil", err)
				}
				return
			}
			if err == nil || !errdefs.IsInvalidParameter(err) || !strings.Contains(err.Error(), strings.ReplaceAll(tc.err, `\"`, `"`)) {
				t.Fatalf("checkMounts = %v, want invalid parameter containing %q", err, tc.err)
			}
		})
	}
}

// TestAnonymousVolumes: every mount point Docker backs with an anonymous
// volume gets its own generated name; covered image VOLUMEs do not.
func TestAnonymousVolumes(t *testing.T) {
	c := &records.Container{
		Config: &container.Config{Volumes: map[string]struct{}{"/img": {}, "/covered": {}, "/cli": {}}},
		HostConfig: &container.HostConfig{
			Binds:  []string{"/data", "named:/covered"},
			Mounts: []mount.Mount{{Type: mount.TypeVolume, Target: "/m"}},
		},
	}
	PlanAnonymousVolumes(c)
	if len(c.AnonVolumes) != 4 {
		t.Fatalf("AnonVolumes = %v, want /data, /m, /img, /cli", c.AnonVolumes)
	}
	seen := map[string]bool{}
	for d, n := range c.AnonVolumes {
		if len(n) != 64 || !VolumeNameRe.MatchString(n) || seen[n] {
			t.Fatalf("anonymous volume %s = %q: want a fresh 64-hex name", d, n)
		}
		seen[n] = true
	}
	byDest := map[string]container.MountPoint{}
	for _, m := range ContainerMounts(c) {
		byDest[m.Destination] = m
	}
	for _, d := range []string{"/data", "/m", "/img", "/cli"} {
		if m := byDest[d]; m.Type != mount.TypeVolume || m.Name != c.AnonVolumes[d] || m.Driver != "local" {
			t.Fatalf("mount %s = %+v", d, m)
		}
	}
	if m := byDest["/covered"]; m.Name != "named" {
		t.Fatalf("/covered = %+v, want the named volume", m)
	}
}

// FuzzCheckMounts feeds arbitrary bind specs and volume-mount sources:
// whatever is accepted names either an absolute host path (only where
// host binds are allowed) or a volume that is exactly one folder under the
// volumes folder, and the provider is never handed a volume without one.
func FuzzCheckMounts(f *testing.F) {
	for _, s := range []string{"v:/d", "/data", "/h:/c:ro", "..:/r", "a/../../../../tmp/x:/x", ".:/x", "/:/host", ":/x", "x:y:z:w", "v:/"} {
		f.Add(s, s, false)
	}
	f.Fuzz(func(t *testing.T, bind, source string, hostBinds bool) {
		hc := &container.HostConfig{Binds: []string{bind}, Mounts: []mount.Mount{{Type: mount.TypeVolume, Source: source, Target: "/m"}}}
		err := CheckMounts(hc, hostBinds)
		if err != nil {
			if !errdefs.IsInvalidParameter(err) {
				t.Fatalf("checkMounts(%q, %q) = %v, want an invalid parameter (400)", bind, source, err)
			}
			return
		}
		c := &records.Container{Config: &container.Config{}, HostConfig: hc}
		PlanAnonymousVolumes(c)
		for _, m := range ContainerMounts(c) {
			switch m.Type {
			case mount.TypeVolume:
				if filepath.Dir(filepath.Join("/volumes", m.Name)) != "/volumes" || m.Name == "" || m.Name == "." || m.Name == ".." {
					t.Fatalf("accepted %q, %q: volume %q is not one folder under the volumes folder", bind, source, m.Name)
				}
			case mount.TypeBind:
				if !hostBinds || !strings.HasPrefix(m.Source, "/") {
					t.Fatalf("accepted %q (host binds %v): bind source %q", bind, hostBinds, m.Source)
				}
			}
		}
		a := &Backend{}
		for _, m := range a.Spec(c).Mounts {
			if m.Type == "volume" && !VolumeNameRe.MatchString(m.Source) {
				t.Fatalf("provider handed volume %q", m.Source)
			}
		}
	})
}
