package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"
)

func catCmd(e *env, args []string) int {
	g := getopt{bools: "nbsuAEvTe", longs: map[string]byte{"number": 'n', "number-nonblank": 'b', "squeeze-blank": 's', "show-ends": 'E'}}
	if !parseOpts(e, &g, args) {
		return 1
	}
	plain := !g.has('n') && !g.has('b') && !g.has('s') && !g.has('E') && !g.has('A') && !g.has('e')
	n := 0
	prevBlank := false
	return e.eachInput(g.args, func(_ string, r *bufio.Reader) error {
		if plain {
			_, err := r.WriteTo(e.stdout)
			return err
		}
		return readLines(r, func(line []byte, nl bool) error {
			blank := len(line) == 0
			if g.has('s') && blank && prevBlank {
				return nil
			}
			prevBlank = blank
			if g.has('b') && !blank || g.has('n') && !g.has('b') {
				n++
				fmt.Fprintf(e.stdout, "%6d\t", n)
			}
			e.stdout.Write(line)
			if g.has('E') || g.has('A') || g.has('e') {
				e.stdout.WriteByte('$')
			}
			if nl {
				e.stdout.WriteByte('\n')
			}
			return nil
		})
	})
}

type lsEntry struct {
	name string // as displayed
	path string
	fi   fs.FileInfo
	mode fs.FileMode
	st   statInfo
}

func lsCmd(e *env, args []string) int {
	g := getopt{bools: "laA1RdhtrSFipCgnoU", longs: map[string]byte{"all": 'a', "almost-all": 'A', "recursive": 'R', "directory": 'd', "human-readable": 'h', "reverse": 'r', "classify": 'F'}}
	if !parseOpts(e, &g, args) {
		return 2
	}
	long := g.has('l') || g.has('g') || g.has('n') || g.has('o')
	names := g.args
	if len(names) == 0 {
		names = []string{"."}
	}
	status := 0
	var files, dirs []lsEntry
	for _, n := range names {
		fi, err := os.Lstat(n)
		if err != nil {
			e.errf("cannot access '%s': %s", n, errnoText(unwrapPath(err)))
			status = 2
			continue
		}
		if fi.Mode()&fs.ModeSymlink != 0 && !long && !g.has('d') {
			if t, err := os.Stat(n); err == nil {
				fi = t
			}
		}
		ent := newLsEntry(n, n, fi)
		if ent.mode.IsDir() && !g.has('d') {
			dirs = append(dirs, ent)
		} else {
			files = append(files, ent)
		}
	}
	sortLs(files, &g)
	e.printLs(files, &g, long)
	sortLs(dirs, &g)
	for i, d := range dirs {
		if len(files) > 0 || i > 0 {
			e.stdout.WriteByte('\n')
		}
		if len(names) > 1 || g.has('R') {
			fmt.Fprintf(e.stdout, "%s:\n", d.path)
		}
		if e.lsDir(d.path, &g, long) != 0 {
			status = 2
		}
	}
	return status
}

func unwrapPath(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

func newLsEntry(name, p string, fi fs.FileInfo) lsEntry {
	ent := lsEntry{name: name, path: p, fi: fi, mode: fi.Mode()}
	if st, err := sysStat(p, false); err == nil {
		ent.st = st
		ent.mode = goMode(st.mode)
	}
	return ent
}

func sortLs(ents []lsEntry, g *getopt) {
	if g.has('U') {
		return
	}
	sort.SliceStable(ents, func(i, j int) bool {
		a, b := ents[i], ents[j]
		var less bool
		switch {
		case g.has('t') && !a.fi.ModTime().Equal(b.fi.ModTime()):
			less = a.fi.ModTime().After(b.fi.ModTime())
		case g.has('S') && a.fi.Size() != b.fi.Size():
			less = a.fi.Size() > b.fi.Size()
		default:
			less = a.name < b.name
		}
		if g.has('r') {
			return !less
		}
		return less
	})
}

func (e *env) lsDir(dir string, g *getopt, long bool) int {
	des, err := os.ReadDir(dir)
	if err != nil {
		e.errf("cannot open directory '%s': %s", dir, errnoText(unwrapPath(err)))
		return 2
	}
	var ents []lsEntry
	if g.has('a') {
		for _, n := range []string{".", ".."} {
			if fi, err := os.Stat(path.Join(dir, n)); err == nil {
				ents = append(ents, newLsEntry(n, path.Join(dir, n), fi))
			}
		}
	}
	for _, de := range des {
		if strings.HasPrefix(de.Name(), ".") && !g.has('a') && !g.has('A') {
			continue
		}
		p := path.Join(dir, de.Name())
		fi, err := os.Lstat(p)
		if err != nil {
			continue
		}
		ents = append(ents, newLsEntry(de.Name(), p, fi))
	}
	sortLs(ents, g)
	if long {
		var blocks int64
		for _, en := range ents {
			blocks += (en.fi.Size() + 1023) / 1024
		}
		fmt.Fprintf(e.stdout, "total %d\n", blocks)
	}
	e.printLs(ents, g, long)
	status := 0
	if g.has('R') {
		for _, en := range ents {
			if en.mode.IsDir() && en.name != "." && en.name != ".." {
				fmt.Fprintf(e.stdout, "\n%s:\n", en.path)
				if e.lsDir(en.path, g, long) != 0 {
					status = 2
				}
			}
		}
	}
	return status
}

func (e *env) printLs(ents []lsEntry, g *getopt, long bool) {
	for _, en := range ents {
		if g.has('i') {
			fmt.Fprintf(e.stdout, "%d ", inode(en.fi))
		}
		if long {
			size := strconv.FormatInt(en.fi.Size(), 10)
			if g.has('h') {
				size = human(en.fi.Size())
			}
			user, group := strconv.Itoa(int(en.st.uid)), strconv.Itoa(int(en.st.gid))
			if !g.has('n') {
				if n := lookupName("/etc/passwd", int(en.st.uid)); n != "" {
					user = n
				}
				if n := lookupName("/etc/group", int(en.st.gid)); n != "" {
					group = n
				}
			}
			nlink := en.st.nlink
			if nlink == 0 {
				nlink = 1
			}
			t := en.fi.ModTime()
			ts := t.Format("Jan _2 15:04")
			if time.Since(t) > 180*24*time.Hour || t.After(time.Now().Add(time.Hour)) {
				ts = t.Format("Jan _2  2006")
			}
			owner := user + " " + group
			if g.has('g') {
				owner = group
			} else if g.has('o') {
				owner = user
			}
			fmt.Fprintf(e.stdout, "%s %2d %s %8s %s ", modeString(en.mode), nlink, owner, size, ts)
		}
		e.stdout.WriteString(en.name)
		if g.has('F') || g.has('p') {
			switch {
			case en.mode.IsDir():
				e.stdout.WriteByte('/')
			case g.has('F') && en.mode&fs.ModeSymlink != 0 && !long:
				e.stdout.WriteByte('@')
			case g.has('F') && en.mode.IsRegular() && en.mode&0o111 != 0:
				e.stdout.WriteByte('*')
			}
		}
		if long && en.mode&fs.ModeSymlink != 0 {
			if t, err := os.Readlink(en.path); err == nil {
				e.stdout.WriteString(" -> " + t)
			}
		}
		e.stdout.WriteByte('\n')
	}
}

func inode(fi fs.FileInfo) uint64 {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return st.Ino
	}
	return 0
}

// human renders a size like ls -h / du -h.
func human(n int64) string {
	if n < 1024 {
		return strconv.FormatInt(n, 10)
	}
	f := float64(n)
	for _, u := range []string{"K", "M", "G", "T", "P"} {
		f /= 1024
		if f < 1024 {
			if f < 10 {
				return strconv.FormatFloat(float64(int(f*10+0.999))/10, 'f', 1, 64) + u
			}
			return strconv.Itoa(int(f+0.999)) + u
		}
	}
	return strconv.FormatInt(n, 10)
}

func mkdirCmd(e *env, args []string) int {
	g := getopt{bools: "pv", vals: "m", longs: map[string]byte{"parents": 'p', "verbose": 'v', "mode": 'm'}}
	if !parseOpts(e, &g, args) {
		return 1
	}
	if len(g.args) == 0 {
		return e.usage("missing operand")
	}
	mode := 0o777 &^ umask()
	explicit := false
	if m := g.val('m', ""); m != "" {
		nm, err := parseMode(m, 0o777&^umask(), true)
		if err != nil {
			return e.usage("invalid mode '%s'", m)
		}
		mode, explicit = nm, true
	}
	status := 0
	for _, d := range g.args {
		var err error
		if g.has('p') {
			err = os.MkdirAll(d, 0o755)
		} else {
			err = os.Mkdir(d, 0o755)
		}
		if err != nil {
			e.errf("cannot create directory '%s': %s", d, errnoText(unwrapPath(err)))
			status = 1
			continue
		}
		if explicit || mode != 0o755 {
			_ = sysChmod(d, mode)
		}
		if g.has('v') {
			fmt.Fprintf(e.stdout, "mkdir: created directory '%s'\n", d)
		}
	}
	return status
}

func rmdirCmd(e *env, args []string) int {
	g := getopt{bools: "pv", longs: map[string]byte{"parents": 'p', "ignore-fail-on-non-empty": 'i'}}
	if !parseOpts(e, &g, args) {
		return 1
	}
	status := 0
	for _, d := range g.args {
		for {
			fi, err := os.Lstat(d)
			if err == nil && !fi.IsDir() {
				err = &fs.PathError{Op: "rmdir", Path: d, Err: syscall.ENOTDIR}
			} else if err == nil {
				err = os.Remove(d)
			}
			if err != nil {
				e.errf("failed to remove '%s': %s", d, errnoText(unwrapPath(err)))
				status = 1
				break
			}
			if !g.has('p') {
				break
			}
			d = dirname(d)
			if d == "." || d == "/" {
				break
			}
		}
	}
	return status
}

func rmCmd(e *env, args []string) int {
	g := getopt{bools: "rRfvdi", longs: map[string]byte{"recursive": 'r', "force": 'f', "verbose": 'v', "dir": 'd', "no-preserve-root": 'N'}}
	if !parseOpts(e, &g, args) {
		return 1
	}
	if len(g.args) == 0 && !g.has('f') {
		return e.usage("missing operand")
	}
	rec := g.has('r') || g.has('R')
	status := 0
	for _, p := range g.args {
		if rec && path.Clean(p) == "/" && !g.has('N') {
			e.errf("it is dangerous to operate recursively on '/'")
			status = 1
			continue
		}
		if b := basename(p); b == "." || b == ".." {
			e.errf("refusing to remove '.' or '..' directory: skipping '%s'", p)
			status = 1
			continue
		}
		fi, err := os.Lstat(p)
		if err != nil {
			if !g.has('f') || !errors.Is(err, fs.ErrNotExist) {
				e.errf("cannot remove '%s': %s", p, errnoText(unwrapPath(err)))
				status = 1
			}
			continue
		}
		switch {
		case fi.IsDir() && rec:
			err = os.RemoveAll(p)
		case fi.IsDir() && !g.has('d'):
			e.errf("cannot remove '%s': Is a directory", p)
			status = 1
			continue
		default:
			err = os.Remove(p)
		}
		if err != nil {
			e.errf("cannot remove '%s': %s", p, errnoText(unwrapPath(err)))
			status = 1
			continue
		}
		if g.has('v') {
			fmt.Fprintf(e.stdout, "removed '%s'\n", p)
		}
	}
	return status
}

type copyOpts struct {
	recursive, preserve, noClobber, verbose, deref, noDeref, force bool
}

func cpCmd(e *env, args []string) int {
	g := getopt{bools: "rRapfnvLPdHuTt", longs: map[string]byte{"recursive": 'r', "archive": 'a', "force": 'f', "no-clobber": 'n', "verbose": 'v', "dereference": 'L', "no-dereference": 'P', "preserve": 'p', "parents": 'Z', "no-target-directory": 'T'}}
	if !parseOpts(e, &g, args) {
		return 1
	}
	o := copyOpts{
		recursive: g.has('r') || g.has('R') || g.has('a'),
		preserve:  g.has('p') || g.has('a'),
		noClobber: g.has('n'),
		verbose:   g.has('v'),
		deref:     g.has('L'),
		noDeref:   g.has('P') || g.has('d') || g.has('a'),
		force:     g.has('f'),
	}
	if o.recursive && !g.has('L') && !g.has('H') {
		o.noDeref = true
	}
	return e.copyLike(g.args, g.has('T'), func(src, dst string) error { return copyPath(e, src, dst, o, true) })
}

// copyLike implements the SOURCE... DEST operand handling of cp/mv/ln.
func (e *env) copyLike(args []string, noTargetDir bool, op func(src, dst string) error) int {
	if len(args) < 2 {
		if len(args) == 1 && e.name == "ln" {
			args = append(args, ".")
		} else {
			return e.usage("missing file operand")
		}
	}
	dst := args[len(args)-1]
	srcs := args[:len(args)-1]
	dfi, derr := os.Stat(dst)
	intoDir := derr == nil && dfi.IsDir() && !noTargetDir
	if len(srcs) > 1 && !intoDir {
		e.errf("target '%s' is not a directory", dst)
		return 1
	}
	status := 0
	for _, s := range srcs {
		d := dst
		if intoDir {
			d = path.Join(dst, basename(s))
		}
		if err := op(s, d); err != nil {
			e.fail(err)
			status = 1
		}
	}
	return status
}

func copyPath(e *env, src, dst string, o copyOpts, top bool) error {
	var fi fs.FileInfo
	var err error
	if o.noDeref && !(top && o.deref) {
		fi, err = os.Lstat(src)
	} else {
		fi, err = os.Stat(src)
	}
	if err != nil {
		return err
	}
	if sfi, err := os.Stat(src); err == nil {
		if dfi, err := os.Stat(dst); err == nil && os.SameFile(sfi, dfi) && !fi.IsDir() {
			return fmt.Errorf("'%s' and '%s' are the same file", src, dst)
		}
	}
	mode := realMode(src, fi, !o.noDeref)
	if o.verbose {
		fmt.Fprintf(e.stdout, "'%s' -> '%s'\n", src, dst)
	}
	switch {
	case fi.Mode()&fs.ModeSymlink != 0:
		t, err := os.Readlink(src)
		if err != nil {
			return err
		}
		if _, err := os.Lstat(dst); err == nil {
			if o.noClobber {
				return nil
			}
			os.Remove(dst)
		}
		return os.Symlink(t, dst)
	case fi.IsDir():
		if !o.recursive {
			return fmt.Errorf("-r not specified; omitting directory '%s'", src)
		}
		if dfi, err := os.Stat(dst); err != nil {
			if err := os.Mkdir(dst, 0o755); err != nil {
				return err
			}
			_ = sysChmod(dst, mode.Perm()|0o200)
		} else if !dfi.IsDir() {
			return fmt.Errorf("cannot overwrite non-directory '%s' with directory '%s'", dst, src)
		}
		if abs := absPath(dst); strings.HasPrefix(abs+"/", absPath(src)+"/") {
			return fmt.Errorf("cannot copy a directory, '%s', into itself, '%s'", src, dst)
		}
		des, err := os.ReadDir(src)
		if err != nil {
			return err
		}
		for _, de := range des {
			if err := copyPath(e, path.Join(src, de.Name()), path.Join(dst, de.Name()), o, false); err != nil {
				e.fail(err)
			}
		}
		if o.preserve {
			_ = os.Chtimes(dst, fi.ModTime(), fi.ModTime())
			_ = sysChmod(dst, mode.Perm())
		}
		return nil
	default:
		if _, err := os.Lstat(dst); err == nil && o.noClobber {
			return nil
		}
		if err := copyFile(src, dst, mode); err != nil {
			if o.force {
				os.Remove(dst)
				err = copyFile(src, dst, mode)
			}
			if err != nil {
				return err
			}
		}
		if o.preserve {
			_ = os.Chtimes(dst, fi.ModTime(), fi.ModTime())
		}
		return nil
	}
}

// copyFile copies contents and permission bits (less the umask).
func copyFile(src, dst string, mode fs.FileMode) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	_, existed := os.Lstat(dst)
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return err
	}
	_, err = io.CopyBuffer(out, in, make([]byte, 64<<10))
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	if err == nil && existed != nil {
		err = sysChmod(dst, mode.Perm()&^umask()|mode&(fs.ModeSetuid|fs.ModeSetgid|fs.ModeSticky))
	}
	return err
}

func mvCmd(e *env, args []string) int {
	g := getopt{bools: "fnvTiu", longs: map[string]byte{"force": 'f', "no-clobber": 'n', "verbose": 'v', "no-target-directory": 'T'}}
	if !parseOpts(e, &g, args) {
		return 1
	}
	return e.copyLike(g.args, g.has('T'), func(src, dst string) error {
		if _, err := os.Lstat(src); err != nil {
			return err
		}
		if g.has('n') {
			if _, err := os.Lstat(dst); err == nil {
				return nil
			}
		}
		if g.has('v') {
			fmt.Fprintf(e.stdout, "renamed '%s' -> '%s'\n", src, dst)
		}
		err := os.Rename(src, dst)
		if errors.Is(err, syscall.EXDEV) || errors.Is(err, syscall.ENOTSUP) {
			// Across mounts: copy, then delete, like coreutils mv.
			if err = copyPath(e, src, dst, copyOpts{recursive: true, preserve: true, noDeref: true}, true); err == nil {
				err = os.RemoveAll(src)
			}
		}
		return err
	})
}

func lnCmd(e *env, args []string) int {
	g := getopt{bools: "sfnvTLP", longs: map[string]byte{"symbolic": 's', "force": 'f', "no-dereference": 'n', "verbose": 'v'}}
	if !parseOpts(e, &g, args) {
		return 1
	}
	if len(g.args) >= 2 && g.has('n') {
		// -n: treat a symlink to a directory as a file.
		if fi, err := os.Lstat(g.args[len(g.args)-1]); err == nil && fi.Mode()&fs.ModeSymlink != 0 {
			g.set['T']++
		}
	}
	return e.copyLike(g.args, g.has('T'), func(src, dst string) error {
		if g.has('f') {
			if fi, err := os.Lstat(dst); err == nil && !fi.IsDir() {
				os.Remove(dst)
			}
		}
		if g.has('v') {
			fmt.Fprintf(e.stdout, "'%s' -> '%s'\n", dst, src)
		}
		if g.has('s') {
			return os.Symlink(src, dst)
		}
		return os.Link(src, dst)
	})
}

func touchCmd(e *env, args []string) int {
	g := getopt{bools: "camh", vals: "dtr", longs: map[string]byte{"no-create": 'c', "date": 'd', "reference": 'r'}}
	if !parseOpts(e, &g, args) {
		return 1
	}
	t := time.Now()
	if d := g.val('d', ""); d != "" {
		pt, err := parseDate(d)
		if err != nil {
			return e.usage("invalid date format '%s'", d)
		}
		t = pt
	}
	if ts := g.val('t', ""); ts != "" {
		pt, err := time.ParseInLocation("200601021504.05", ts, time.Local)
		if err != nil {
			pt, err = time.ParseInLocation("200601021504", ts, time.Local)
		}
		if err != nil {
			return e.usage("invalid date format '%s'", ts)
		}
		t = pt
	}
	if r := g.val('r', ""); r != "" {
		fi, err := os.Stat(r)
		if err != nil {
			return e.fail(err)
		}
		t = fi.ModTime()
	}
	status := 0
	for _, p := range g.args {
		if _, err := os.Stat(p); errors.Is(err, fs.ErrNotExist) {
			if g.has('c') {
				continue
			}
			f, err := os.OpenFile(p, os.O_CREATE|os.O_WRONLY, 0o644)
			if err != nil {
				e.errf("cannot touch '%s': %s", p, errnoText(unwrapPath(err)))
				status = 1
				continue
			}
			f.Close()
		}
		if err := os.Chtimes(p, t, t); err != nil {
			e.errf("setting times of '%s': %s", p, errnoText(unwrapPath(err)))
			status = 1
		}
	}
	return status
}

// parseMode applies an octal or symbolic chmod mode to base.
func parseMode(s string, base fs.FileMode, isDir bool) (fs.FileMode, error) {
	if n, err := strconv.ParseUint(s, 8, 32); err == nil {
		return goMode(uint32(n)) &^ fs.ModeType, nil
	}
	m := base
	for _, clause := range strings.Split(s, ",") {
		i := 0
		var who fs.FileMode
		for i < len(clause) && strings.IndexByte("ugoa", clause[i]) >= 0 {
			switch clause[i] {
			case 'u':
				who |= 0o4700
			case 'g':
				who |= 0o2070
			case 'o':
				who |= 0o1007
			case 'a':
				who |= 0o7777
			}
			i++
		}
		userGiven := who != 0
		if !userGiven {
			who = 0o7777
		}
		if i >= len(clause) {
			return 0, fmt.Errorf("invalid mode")
		}
		for i < len(clause) {
			op := clause[i]
			if op != '+' && op != '-' && op != '=' {
				return 0, fmt.Errorf("invalid mode")
			}
			i++
			var bits uint32
			cur := unixMode(m) & 0o7777
			for i < len(clause) && strings.IndexByte("rwxXstugo", clause[i]) >= 0 {
				switch clause[i] {
				case 'r':
					bits |= 0o444
				case 'w':
					bits |= 0o222
				case 'x':
					bits |= 0o111
				case 'X':
					if isDir || cur&0o111 != 0 {
						bits |= 0o111
					}
				case 's':
					bits |= 0o6000
				case 't':
					bits |= 0o1000
				case 'u':
					u := (cur >> 6) & 7
					bits |= u<<6 | u<<3 | u
				case 'g':
					u := (cur >> 3) & 7
					bits |= u<<6 | u<<3 | u
				case 'o':
					u := cur & 7
					bits |= u<<6 | u<<3 | u
				}
				i++
			}
			mask := uint32(unixMode(who) & 0o7777)
			if !userGiven {
				mask &^= uint32(umask())
				if op == '=' {
					mask = 0o7777
				}
			}
			bits &= mask
			switch op {
			case '+':
				cur |= bits
			case '-':
				cur &^= bits
			case '=':
				cur = cur&^(uint32(unixMode(who))&0o7777) | bits
			}
			m = goMode(cur | sIFREG)
		}
	}
	return m &^ fs.ModeType, nil
}

// ownerModeFlags splits the arguments of chmod and chown GNU style:
// options may follow operands ("chmod 777 -R dir"), "--" ends options,
// and an argument that is not one of the known flags is an operand (so
// chmod's "-w" mode stays a mode).
func ownerModeFlags(args []string, flags map[string]byte) (set map[byte]bool, operands []string) {
	set = map[byte]bool{}
	for i, a := range args {
		if a == "--" {
			return set, append(operands, args[i+1:]...)
		}
		if c, ok := flags[a]; ok {
			set[c] = true
			continue
		}
		if len(a) > 2 && a[0] == '-' && a[1] != '-' {
			all := true
			for j := 1; j < len(a); j++ {
				if _, ok := flags["-"+a[j:j+1]]; !ok {
					all = false
					break
				}
			}
			if all {
				for j := 1; j < len(a); j++ {
					set[flags["-"+a[j:j+1]]] = true
				}
				continue
			}
		}
		operands = append(operands, a)
	}
	return set, operands
}

func chmodCmd(e *env, args []string) int {
	set, args := ownerModeFlags(args, map[string]byte{
		"-R": 'R', "--recursive": 'R', "-v": 'v', "--verbose": 'v', "-c": 'v', "--changes": 'v',
		"-f": 'f', "--silent": 'f', "--quiet": 'f',
	})
	rec, verbose := set['R'], set['v']
	if len(args) < 2 {
		return e.usage("missing operand")
	}
	spec := args[0]
	status := 0
	var apply func(p string, top bool)
	apply = func(p string, top bool) {
		fi, err := os.Stat(p)
		if err != nil {
			e.errf("cannot access '%s': %s", p, errnoText(unwrapPath(err)))
			status = 1
			return
		}
		cur := realMode(p, fi, true)
		m, err := parseMode(spec, cur, fi.IsDir())
		if err != nil {
			e.errf("invalid mode: '%s'", spec)
			status = 1
			return
		}
		if err := sysChmod(p, m); err != nil {
			e.errf("changing permissions of '%s': %s", p, errnoText(unwrapPath(err)))
			status = 1
		} else if verbose {
			fmt.Fprintf(e.stdout, "mode of '%s' changed to %04o (%s)\n", p, unixMode(m)&0o7777, modeString(m)[1:])
		}
		if rec && fi.IsDir() {
			if lfi, err := os.Lstat(p); err == nil && lfi.Mode()&fs.ModeSymlink != 0 && !top {
				return
			}
			des, _ := os.ReadDir(p)
			for _, de := range des {
				if de.Type()&fs.ModeSymlink != 0 {
					continue
				}
				apply(path.Join(p, de.Name()), false)
			}
		}
	}
	for _, p := range args[1:] {
		apply(p, true)
	}
	return status
}

func chownCmd(e *env, args []string) int {
	// Ownership cannot change without host privileges; accept and ignore,
	// as rootless container runtimes do for a single mapped user. The
	// files must exist, as for chown.
	_, args = ownerModeFlags(args, map[string]byte{
		"-R": 'R', "--recursive": 'R', "-v": 'v', "--verbose": 'v', "-c": 'v', "--changes": 'v',
		"-f": 'f', "--silent": 'f', "--quiet": 'f', "-h": 'h', "--no-dereference": 'h',
		"--dereference": 'L', "-H": 'H', "-L": 'L', "-P": 'P',
	})
	if len(args) < 2 {
		return e.usage("missing operand")
	}
	status := 0
	for _, p := range args[1:] {
		if _, err := os.Lstat(p); err != nil {
			e.errf("cannot access '%s': %s", p, errnoText(unwrapPath(err)))
			status = 1
		}
	}
	return status
}

func statCmd(e *env, args []string) int {
	g := getopt{bools: "Lt", vals: "cf", longs: map[string]byte{"format": 'c', "dereference": 'L', "printf": 'c'}}
	if !parseOpts(e, &g, args) {
		return 1
	}
	if len(g.args) == 0 {
		return e.usage("missing operand")
	}
	status := 0
	for _, p := range g.args {
		var fi fs.FileInfo
		var err error
		if g.has('L') {
			fi, err = os.Stat(p)
		} else {
			fi, err = os.Lstat(p)
		}
		if err != nil {
			e.errf("cannot statx '%s': %s", p, errnoText(unwrapPath(err)))
			status = 1
			continue
		}
		st, _ := sysStat(p, g.has('L'))
		mode := fi.Mode()
		if st.mode != 0 {
			mode = goMode(st.mode)
		}
		format := g.val('c', "")
		if format == "" {
			format = "  File: %N\n  Size: %s\tBlocks: %b\tIO Block: 4096\t%F\nDevice: 0\tInode: %i\tLinks: %h\nAccess: (%04a/%A)  Uid: (%u/%U)   Gid: (%g/%G)\nModify: %y\n"
		}
		e.stdout.WriteString(statFormat(format, p, fi, mode, st))
		if g.val('c', "") != "" {
			e.stdout.WriteByte('\n')
		}
	}
	return status
}

func statFormat(format, p string, fi fs.FileInfo, mode fs.FileMode, st statInfo) string {
	var b strings.Builder
	for i := 0; i < len(format); i++ {
		c := format[i]
		if c == '\\' && i+1 < len(format) {
			s, _ := unescape(format[i:i+2], false)
			b.WriteString(s)
			i++
			continue
		}
		if c != '%' || i+1 >= len(format) {
			b.WriteByte(c)
			continue
		}
		j := i + 1
		for j < len(format) && (format[j] >= '0' && format[j] <= '9' || format[j] == '-') {
			j++
		}
		if j >= len(format) {
			b.WriteString(format[i:])
			break
		}
		width := format[i+1 : j]
		i = j
		var v string
		switch format[j] {
		case 'n':
			v = p
		case 'N':
			v = "'" + p + "'"
			if mode&fs.ModeSymlink != 0 {
				if t, err := os.Readlink(p); err == nil {
					v += " -> '" + t + "'"
				}
			}
		case 's':
			v = strconv.FormatInt(fi.Size(), 10)
		case 'b':
			v = strconv.FormatInt((fi.Size()+511)/512, 10)
		case 'B':
			v = "512"
		case 'a':
			v = strconv.FormatUint(uint64(unixMode(mode)&0o7777), 8)
		case 'A':
			v = modeString(mode)
		case 'f':
			v = strconv.FormatUint(uint64(unixMode(mode)), 16)
		case 'F':
			v = fileType(mode, fi.Size())
		case 'u':
			v = strconv.Itoa(int(st.uid))
		case 'g':
			v = strconv.Itoa(int(st.gid))
		case 'U':
			v = lookupName("/etc/passwd", int(st.uid))
			if v == "" {
				v = "UNKNOWN"
			}
		case 'G':
			v = lookupName("/etc/group", int(st.gid))
			if v == "" {
				v = "UNKNOWN"
			}
		case 'h':
			v = strconv.Itoa(max(1, int(st.nlink)))
		case 'i':
			v = strconv.FormatUint(inode(fi), 10)
		case 'Y', 'X', 'Z', 'W':
			v = strconv.FormatInt(fi.ModTime().Unix(), 10)
		case 'y', 'x', 'z', 'w':
			v = fi.ModTime().Format("2006-01-02 15:04:05.000000000 -0700")
		case 'd', 'D':
			v = "0"
		case 'm':
			v = "/"
		case 't', 'T':
			v = "0"
		case '%':
			v = "%"
		default:
			v = "?"
		}
		if width != "" {
			w, _ := strconv.Atoi(width)
			v = fmt.Sprintf("%*s", w, v)
		}
		b.WriteString(v)
	}
	return b.String()
}

func fileType(m fs.FileMode, size int64) string {
	switch {
	case m.IsDir():
		return "directory"
	case m&fs.ModeSymlink != 0:
		return "symbolic link"
	case m&fs.ModeNamedPipe != 0:
		return "fifo"
	case m&fs.ModeSocket != 0:
		return "socket"
	case m&fs.ModeCharDevice != 0:
		return "character special file"
	case m&fs.ModeDevice != 0:
		return "block special file"
	case size == 0:
		return "regular empty file"
	}
	return "regular file"
}

func duCmd(e *env, args []string) int {
	g := getopt{bools: "shkacmbxL", vals: "d", longs: map[string]byte{"summarize": 's', "human-readable": 'h', "max-depth": 'd', "total": 'c', "all": 'a'}}
	if !parseOpts(e, &g, args) {
		return 1
	}
	maxDepth := -1
	if d := g.val('d', ""); d != "" {
		maxDepth, _ = strconv.Atoi(d)
	}
	if g.has('s') {
		maxDepth = 0
	}
	names := g.args
	if len(names) == 0 {
		names = []string{"."}
	}
	show := func(n int64, p string) {
		var s string
		switch {
		case g.has('h'):
			s = human(n)
		case g.has('b'):
			s = strconv.FormatInt(n, 10)
		case g.has('m'):
			s = strconv.FormatInt((n+1<<20-1)>>20, 10)
		default:
			s = strconv.FormatInt((n+1023)/1024, 10)
		}
		fmt.Fprintf(e.stdout, "%s\t%s\n", s, p)
	}
	var total int64
	status := 0
	var walk func(p string, depth int) int64
	walk = func(p string, depth int) int64 {
		fi, err := os.Lstat(p)
		if err != nil {
			e.errf("cannot access '%s': %s", p, errnoText(unwrapPath(err)))
			status = 1
			return 0
		}
		size := (fi.Size() + 4095) / 4096 * 4096
		if g.has('b') {
			size = fi.Size()
		}
		if !fi.IsDir() {
			if g.has('a') && (maxDepth < 0 || depth <= maxDepth) || depth == 0 {
				show(size, p)
			}
			return size
		}
		des, _ := os.ReadDir(p)
		for _, de := range des {
			size += walk(path.Join(p, de.Name()), depth+1)
		}
		if maxDepth < 0 || depth <= maxDepth {
			show(size, p)
		}
		return size
	}
	for _, n := range names {
		total += walk(n, 0)
	}
	if g.has('c') {
		show(total, "total")
	}
	return status
}

func dfCmd(e *env, args []string) int {
	g := getopt{bools: "hkPTai"}
	if !parseOpts(e, &g, args) {
		return 1
	}
	// The filesystem holding the container's root, as the sandbox sees it
	// (its size limit when it has one), then the sized tmpfs mounts.
	type fsys struct {
		name, target      string
		size, free, avail int64
	}
	lines := strings.Split(sysInfo(infoDisk), "\n")
	root := fsys{name: "sandbox", target: "/"}
	if _, err := fmt.Sscan(lines[0], &root.size, &root.free, &root.avail); err != nil {
		fmt.Fprintln(e.stderr, "df: /: cannot read filesystem information")
		return 1
	}
	all := []fsys{root}
	for _, l := range lines[1:] {
		f := fsys{name: "tmpfs"}
		if _, err := fmt.Sscan(l, &f.target, &f.size, &f.free, &f.avail); err == nil {
			all = append(all, f)
		}
	}
	show := all[:1]
	if len(g.args) > 0 {
		show = nil
		for _, a := range g.args {
			if _, err := os.Stat(a); err != nil {
				e.errf("%s: %s", a, errnoText(err))
				return 1
			}
			p := a
			if !path.IsAbs(p) {
				wd, _ := os.Getwd()
				p = path.Join(wd, p)
			}
			p = path.Clean(p)
			best := all[0]
			for _, f := range all[1:] {
				if (p == f.target || strings.HasPrefix(p, f.target+"/")) && len(f.target) > len(best.target) {
					best = f
				}
			}
			show = append(show, best)
		}
	}
	if g.has('h') {
		fmt.Fprintln(e.stdout, "Filesystem      Size  Used Avail Use% Mounted on")
	} else {
		fmt.Fprintln(e.stdout, "Filesystem     1K-blocks      Used Available Use% Mounted on")
	}
	for _, f := range show {
		used := f.size - f.free
		pct := int64(0)
		if used+f.avail > 0 {
			pct = (used*100 + used + f.avail - 1) / (used + f.avail)
		}
		if g.has('h') {
			fmt.Fprintf(e.stdout, "%-15s %4s  %4s  %4s %3d%% %s\n", f.name, human(f.size), human(used), human(f.avail), pct, f.target)
		} else {
			fmt.Fprintf(e.stdout, "%-14s %9d %9d %9d %3d%% %s\n", f.name, f.size/1024, used/1024, f.avail/1024, pct, f.target)
		}
	}
	return 0
}

func randName(n int) string {
	const chars = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
	// math/rand/v2 is seeded from the system's randomness (WASI
	// random_get); the names need to be unpredictable enough to avoid
	// collisions, and mktemp creates them exclusively anyway.
	b := make([]byte, n)
	for i := range b {
		b[i] = chars[rand.IntN(len(chars))]
	}
	return string(b)
}

func mktempCmd(e *env, args []string) int {
	g := getopt{bools: "dqtu", vals: "p", longs: map[string]byte{"directory": 'd', "quiet": 'q', "dry-run": 'u', "tmpdir": 'p'}}
	if !parseOpts(e, &g, args) {
		return 1
	}
	tmpl := "tmp.XXXXXXXXXX"
	if len(g.args) > 0 {
		tmpl = g.args[0]
	}
	dir := ""
	if g.has('p') || g.has('t') || len(g.args) == 0 {
		dir = g.val('p', "")
		if dir == "" {
			dir = os.Getenv("TMPDIR")
		}
		if dir == "" {
			dir = "/tmp"
		}
	}
	x := len(tmpl) - len(strings.TrimRight(tmpl, "X"))
	if x < 3 {
		return e.usage("too few X's in template '%s'", tmpl)
	}
	for try := 0; try < 100; try++ {
		name := tmpl[:len(tmpl)-x] + randName(x)
		if dir != "" {
			name = path.Join(dir, name)
		}
		var err error
		switch {
		case g.has('u'):
		case g.has('d'):
			if err = os.Mkdir(name, 0o755); err == nil {
				err = sysChmod(name, 0o700)
			}
		default:
			var f *os.File
			if f, err = os.OpenFile(name, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600); err == nil {
				f.Close()
				err = sysChmod(name, 0o600)
			}
		}
		if errors.Is(err, fs.ErrExist) {
			continue
		}
		if err != nil {
			if !g.has('q') {
				e.errf("failed to create '%s': %s", name, errnoText(unwrapPath(err)))
			}
			return 1
		}
		fmt.Fprintln(e.stdout, name)
		return 0
	}
	return 1
}

func readlinkCmd(e *env, args []string) int {
	g := getopt{bools: "fenmqsvz", longs: map[string]byte{"canonicalize": 'f', "canonicalize-existing": 'e', "no-newline": 'n'}}
	if !parseOpts(e, &g, args) {
		return 1
	}
	status := 0
	for _, p := range g.args {
		var out string
		var err error
		if g.has('f') || g.has('e') || g.has('m') {
			out, err = realpath(p, g.has('e'))
		} else {
			out, err = os.Readlink(p)
		}
		if err != nil {
			status = 1
			if g.has('v') {
				e.fail(err)
			}
			continue
		}
		e.stdout.WriteString(out)
		if !g.has('n') {
			e.stdout.WriteByte('\n')
		}
	}
	return status
}

// realpath resolves p inside the sandbox (all of it must exist when
// mustExist, else all but the last component).
func realpath(p string, mustExist bool) (string, error) {
	abs := absPath(p)
	out, err := filepath.EvalSymlinks(abs)
	if err == nil {
		return out, nil
	}
	if mustExist {
		return "", err
	}
	dir, err := filepath.EvalSymlinks(filepath.Dir(abs))
	if err != nil {
		return "", err
	}
	return filepath.Join(dir, filepath.Base(abs)), nil
}

func realpathCmd(e *env, args []string) int {
	g := getopt{bools: "emqsz", longs: map[string]byte{"canonicalize-missing": 'm', "canonicalize-existing": 'e', "quiet": 'q', "no-symlinks": 's'}}
	if !parseOpts(e, &g, args) {
		return 1
	}
	status := 0
	for _, p := range g.args {
		var out string
		var err error
		if g.has('s') || g.has('m') {
			out = absPath(p)
		} else {
			out, err = realpath(p, true)
		}
		if err != nil {
			if !g.has('q') {
				e.fail(err)
			}
			status = 1
			continue
		}
		e.stdout.WriteString(out + "\n")
	}
	return status
}

func installCmd(e *env, args []string) int {
	g := getopt{bools: "dDcCvps", vals: "mogt", longs: map[string]byte{"directory": 'd', "mode": 'm', "owner": 'o', "group": 'g', "target-directory": 't', "verbose": 'v'}}
	if !parseOpts(e, &g, args) {
		return 1
	}
	mode := fs.FileMode(0o755)
	if m := g.val('m', ""); m != "" {
		nm, err := parseMode(m, 0o755, false)
		if err != nil {
			return e.usage("invalid mode '%s'", m)
		}
		mode = nm
	}
	status := 0
	if g.has('d') {
		for _, d := range g.args {
			if err := os.MkdirAll(d, 0o755); err != nil {
				e.fail(err)
				status = 1
				continue
			}
			_ = sysChmod(d, mode)
		}
		return status
	}
	args = g.args
	if t := g.val('t', ""); t != "" {
		args = append(args, t)
	}
	if g.has('D') && len(args) >= 2 {
		_ = os.MkdirAll(dirname(args[len(args)-1]), 0o755)
	}
	return e.copyLike(args, false, func(src, dst string) error {
		os.Remove(dst)
		if err := copyFile(src, dst, 0o644); err != nil {
			return err
		}
		return sysChmod(dst, mode)
	})
}

func truncateCmd(e *env, args []string) int {
	g := getopt{bools: "c", vals: "s", longs: map[string]byte{"size": 's', "no-create": 'c'}}
	if !parseOpts(e, &g, args) {
		return 1
	}
	spec := g.val('s', "")
	if spec == "" {
		return e.usage("you must specify '--size'")
	}
	status := 0
	for _, p := range g.args {
		var cur int64
		if fi, err := os.Stat(p); err == nil {
			cur = fi.Size()
		} else if g.has('c') {
			continue
		}
		n, err := parseSize(strings.TrimLeft(spec, "+-"))
		if err != nil {
			return e.usage("invalid number: '%s'", spec)
		}
		switch spec[0] {
		case '+':
			n = cur + n
		case '-':
			n = max(cur-n, 0)
		}
		f, err := os.OpenFile(p, os.O_WRONLY|os.O_CREATE, 0o644)
		if err == nil {
			err = f.Truncate(n)
			f.Close()
		}
		if err != nil {
			e.fail(err)
			status = 1
		}
	}
	return status
}

// parseSize parses N[KMG] (powers of 1024) and N[kB MB] (powers of 1000).
func parseSize(s string) (int64, error) {
	mult := int64(1)
	for _, u := range []struct {
		suf string
		m   int64
	}{{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}, {"kB", 1000}, {"KB", 1000}, {"MB", 1000000}, {"GB", 1000000000}, {"K", 1 << 10}, {"k", 1 << 10}, {"M", 1 << 20}, {"G", 1 << 30}, {"T", 1 << 40}, {"b", 512}, {"c", 1}, {"w", 2}} {
		if strings.HasSuffix(s, u.suf) {
			s, mult = strings.TrimSuffix(s, u.suf), u.m
			break
		}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	return n * mult, err
}

func cmpCmd(e *env, args []string) int {
	g := getopt{bools: "sl", longs: map[string]byte{"silent": 's', "quiet": 's'}}
	if !parseOpts(e, &g, args) {
		return 2
	}
	if len(g.args) < 1 {
		return e.usage("missing operand")
	}
	if len(g.args) == 1 {
		g.args = append(g.args, "-")
	}
	ra, err := e.openInput(g.args[0])
	if err != nil {
		e.fail(err)
		return 2
	}
	defer ra.Close()
	rb, err := e.openInput(g.args[1])
	if err != nil {
		e.fail(err)
		return 2
	}
	defer rb.Close()
	a, b := bufio.NewReader(ra), bufio.NewReader(rb)
	if g.args[0] == "-" {
		a = e.stdin
	}
	if g.args[1] == "-" {
		b = e.stdin
	}
	line := 1
	for n := int64(1); ; n++ {
		x, ea := a.ReadByte()
		y, eb := b.ReadByte()
		if ea != nil || eb != nil {
			if ea != nil && eb != nil {
				return 0
			}
			if !g.has('s') {
				short := g.args[0]
				if ea == nil {
					short = g.args[1]
				}
				e.errf("EOF on %s after byte %d", short, n-1)
			}
			return 1
		}
		if x != y {
			if !g.has('s') {
				fmt.Fprintf(e.stdout, "%s %s differ: byte %d, line %d\n", g.args[0], g.args[1], n, line)
			}
			return 1
		}
		if x == '\n' {
			line++
		}
	}
}
