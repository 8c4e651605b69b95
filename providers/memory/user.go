package memory

import (
	"bufio"
	"bytes"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/sockerless/sockerless/internal/rootfs"
)

// lookupUser resolves a container's User ("", "name", "uid", "name:group",
// "uid:gid") against its own /etc/passwd and /etc/group, as Docker does at
// start and exec. A numeric user need not exist (its group is then 0, or
// its passwd entry's group); a name must, or the process does not start.
func lookupUser(fs *rootfs.FS, spec string) (uid, gid int, err error) {
	if spec == "" {
		return 0, 0, nil
	}
	u, g, hasGroup := strings.Cut(spec, ":")
	var passwd [][]string
	if data, err := fs.ReadFile("/etc/passwd"); err == nil {
		passwd = colonFile(data, 7)
	}
	found := false
	if n, err := strconv.Atoi(u); err == nil && n >= 0 {
		uid = n
		for _, e := range passwd {
			if e[2] == u {
				gid, _ = strconv.Atoi(e[3])
				found = true
				break
			}
		}
	} else {
		for _, e := range passwd {
			if e[0] == u {
				uid, _ = strconv.Atoi(e[2])
				gid, _ = strconv.Atoi(e[3])
				found = true
				break
			}
		}
		if !found {
			return 0, 0, fmt.Errorf("unable to find user %s: no matching entries in passwd file", u)
		}
	}
	if !hasGroup {
		return uid, gid, nil
	}
	if n, err := strconv.Atoi(g); err == nil && n >= 0 {
		return uid, n, nil
	}
	if data, err := fs.ReadFile("/etc/group"); err == nil {
		for _, e := range colonFile(data, 4) {
			if e[0] == g {
				gid, _ = strconv.Atoi(e[2])
				return uid, gid, nil
			}
		}
	}
	return 0, 0, fmt.Errorf("unable to find group %s: no matching entries in group file", g)
}

// supplementaryGroups are the groups a process of uid runs with, as runc
// gives them: its primary group, the groups /etc/group lists the user
// in, and --group-add (numbers, or names looked up in /etc/group).
func supplementaryGroups(fs *rootfs.FS, uid, gid int, add []string) ([]int, error) {
	groups := []int{gid}
	var group [][]string
	if data, err := fs.ReadFile("/etc/group"); err == nil {
		group = colonFile(data, 4)
	}
	name := ""
	if data, err := fs.ReadFile("/etc/passwd"); err == nil {
		for _, e := range colonFile(data, 7) {
			if e[2] == strconv.Itoa(uid) {
				name = e[0]
				break
			}
		}
	}
	for _, e := range group {
		if name != "" && slices.Contains(strings.Split(e[3], ","), name) {
			if n, err := strconv.Atoi(e[2]); err == nil && !slices.Contains(groups, n) {
				groups = append(groups, n)
			}
		}
	}
	for _, g := range add {
		n, err := strconv.Atoi(g)
		if err != nil {
			found := false
			for _, e := range group {
				if e[0] == g {
					n, err = strconv.Atoi(e[2])
					found = err == nil
					break
				}
			}
			if !found {
				return nil, fmt.Errorf("unable to find group %s: no matching entries in group file", g)
			}
		}
		if !slices.Contains(groups, n) {
			groups = append(groups, n)
		}
	}
	return groups, nil
}

// colonFile splits the lines of a passwd or group file into at least n
// fields each, skipping comments and lines with numeric fields missing.
func colonFile(data []byte, n int) [][]string {
	var out [][]string
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		f := strings.Split(line, ":")
		if len(f) < 3 {
			continue
		}
		for len(f) < n {
			f = append(f, "")
		}
		out = append(out, f)
	}
	return out
}

// userName is the name /etc/passwd in the container gives uid, else the
// number, as ps shows it.
func userName(fs *rootfs.FS, uid int) string {
	if data, err := fs.ReadFile("/etc/passwd"); err == nil {
		for _, e := range colonFile(data, 7) {
			if e[2] == strconv.Itoa(uid) {
				return e[0]
			}
		}
	}
	return strconv.Itoa(uid)
}
