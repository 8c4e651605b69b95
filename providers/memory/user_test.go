package memory

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/sockerless/sockerless/internal/rootfs"
)

func TestLookupUser(t *testing.T) {
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "etc"), 0o755)
	os.WriteFile(filepath.Join(dir, "etc/passwd"), []byte("root:x:0:0:root:/root:/bin/sh\n# comment\nnode:x:1000:1000::/home/node:/bin/sh\nbroken\nweb:x:33:44\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "etc/group"), []byte("root:x:0:\nnode:x:1000:\nstaff:x:50:node\n"), 0o644)
	fs, err := rootfs.New(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer fs.Close()
	for _, tc := range []struct {
		spec     string
		uid, gid int
		err      string
	}{
		{spec: "", uid: 0, gid: 0},
		{spec: "root", uid: 0, gid: 0},
		{spec: "node", uid: 1000, gid: 1000},
		{spec: "web", uid: 33, gid: 44},
		{spec: "1000", uid: 1000, gid: 1000},
		{spec: "4242", uid: 4242, gid: 0},
		{spec: "node:staff", uid: 1000, gid: 50},
		{spec: "node:7", uid: 1000, gid: 7},
		{spec: "4242:4343", uid: 4242, gid: 4343},
		{spec: "nobody", err: "unable to find user nobody: no matching entries in passwd file"},
		{spec: "node:wheel", err: "unable to find group wheel: no matching entries in group file"},
		{spec: "broken", err: "unable to find user broken: no matching entries in passwd file"},
	} {
		uid, gid, err := lookupUser(fs, tc.spec)
		switch {
		case tc.err != "":
			if err == nil || err.Error() != tc.err {
				t.Errorf("%q: %d:%d %v, want error %q", tc.spec, uid, gid, err, tc.err)
			}
		case err != nil || uid != tc.uid || gid != tc.gid:
			t.Errorf("%q: %d:%d %v, want %d:%d", tc.spec, uid, gid, err, tc.uid, tc.gid)
		}
	}
}
