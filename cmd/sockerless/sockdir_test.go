package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestPrivateDir(t *testing.T) {
	tests := []struct {
		name  string
		setup func(dir string) error
		err   string
	}{
		{"missing is made 0700", func(string) error { return nil }, ""},
		{"own 0700", func(d string) error { return os.Mkdir(d, 0o700) }, ""},
		{"open to others", func(d string) error {
			if err := os.Mkdir(d, 0o700); err != nil {
				return err
			}
			return os.Chmod(d, 0o777)
		}, "group and others must have no access"},
		{"group readable", func(d string) error {
			if err := os.Mkdir(d, 0o700); err != nil {
				return err
			}
			return os.Chmod(d, 0o750)
		}, "group and others must have no access"},
		{"symlink", func(d string) error { return os.Symlink(t.TempDir(), d) }, "is not a folder"},
		{"file", func(d string) error { return os.WriteFile(d, nil, 0o600) }, "is not a folder"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "sockerless-1")
			if err := tc.setup(dir); err != nil {
				t.Fatal(err)
			}
			err := privateDir(dir)
			if tc.err == "" {
				if err != nil {
					t.Fatalf("privateDir = %v", err)
				}
				if fi, err := os.Stat(dir); err != nil || fi.Mode().Perm() != 0o700 {
					t.Fatalf("folder: %v %v, want mode 0700", fi, err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Fatalf("privateDir = %v, want an error containing %q", err, tc.err)
			}
		})
	}
	if os.Getuid() == 0 {
		dir := filepath.Join(t.TempDir(), "other")
		if err := os.Mkdir(dir, 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.Chown(dir, 65534, 65534); err != nil {
			t.Fatal(err)
		}
		if err := privateDir(dir); err == nil || !strings.Contains(err.Error(), "owned by uid 65534") {
			t.Fatalf("another user's folder: %v, want a refusal", err)
		}
	}
}
