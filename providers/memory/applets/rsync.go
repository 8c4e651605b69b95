package main

import (
	"bufio"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"regexp"
	"strings"
)

// rsync is a local-only rsync: the transfers CI helpers make inside a
// container (gitlab-ci-local collects artifacts and caches with
// `rsync -Ra --exclude ... ./path dest/.`). Supported: -a -r -R -l -p -t
// -v -q (and -g -o -D -z -h -P, accepted), --delete, --delete-excluded,
// --exclude/--include (rsync's pattern rules, first match wins),
// --exclude-from, -n. Files are copied when their size or modification
// time differ (rsync's quick check). Remote paths (host:path) fail.
type rsyncOpts struct {
	recursive, relative, links, perms, times, verbose, dryRun bool
	del, delExcluded                                          bool
	rules                                                     []rsyncRule
}

// rsyncRule is one include (+) or exclude (-) pattern.
type rsyncRule struct {
	include  bool
	dirOnly  bool
	fullPath bool // matched against the whole relative path
	anchored bool // matched from the transfer root only
	re       *regexp.Regexp
}

func rsyncCmd(e *env, args []string) int {
	var o rsyncOpts
	var operands []string
	addRule := func(include bool, pat string) {
		if r, ok := parseRsyncRule(include, pat); ok {
			o.rules = append(o.rules, r)
		}
	}
	for i := 0; i < len(args); i++ {
		a := args[i]
		value := func() (string, bool) {
			if _, v, ok := strings.Cut(a, "="); ok {
				return v, true
			}
			if i+1 < len(args) {
				i++
				return args[i], true
			}
			e.errf("option '%s' requires an argument", a)
			return "", false
		}
		switch {
		case a == "--":
			operands = append(operands, args[i+1:]...)
			i = len(args)
		case a == "--archive":
			o.recursive, o.links, o.perms, o.times = true, true, true, true
		case a == "--recursive":
			o.recursive = true
		case a == "--relative":
			o.relative = true
		case a == "--links":
			o.links = true
		case a == "--perms":
			o.perms = true
		case a == "--times":
			o.times = true
		case a == "--verbose":
			o.verbose = true
		case a == "--dry-run":
			o.dryRun = true
		case a == "--delete":
			o.del = true
		case a == "--delete-excluded":
			o.del, o.delExcluded = true, true
		case a == "--exclude" || strings.HasPrefix(a, "--exclude="),
			a == "--include" || strings.HasPrefix(a, "--include="):
			v, ok := value()
			if !ok {
				return 1
			}
			addRule(strings.HasPrefix(a, "--include"), v)
		case a == "--exclude-from" || strings.HasPrefix(a, "--exclude-from="):
			v, ok := value()
			if !ok {
				return 1
			}
			f, err := os.Open(v)
			if err != nil {
				e.errf("failed to open exclude file %s: %s", v, errnoText(unwrapPath(err)))
				return 1
			}
			sc := bufio.NewScanner(f)
			for sc.Scan() {
				if l := strings.TrimRight(sc.Text(), "\r"); l != "" && l[0] != '#' && l[0] != ';' {
					addRule(false, l)
				}
			}
			f.Close()
		case strings.HasPrefix(a, "--"):
			// --progress, --partial, --human-readable, --compress, --owner...
		case len(a) > 1 && a[0] == '-':
			for _, c := range a[1:] {
				switch c {
				case 'a':
					o.recursive, o.links, o.perms, o.times = true, true, true, true
				case 'r':
					o.recursive = true
				case 'R':
					o.relative = true
				case 'l':
					o.links = true
				case 'p':
					o.perms = true
				case 't':
					o.times = true
				case 'v':
					o.verbose = true
				case 'q':
					o.verbose = false
				case 'n':
					o.dryRun = true
				case 'g', 'o', 'D', 'z', 'h', 'P', 'u', 'c', 'i', 'W':
				default:
					e.errf("-%c: unknown option", c)
					return 1
				}
			}
		default:
			operands = append(operands, a)
		}
	}
	if len(operands) < 2 {
		e.errf("a source and a destination are required (listing is not supported)")
		return 1
	}
	for _, p := range operands {
		if i := strings.IndexByte(p, ':'); i > 0 && !strings.Contains(p[:i], "/") {
			e.errf("%s: remote transfers are not supported in the sandbox", p)
			return 1
		}
	}
	dst := operands[len(operands)-1]
	srcs := operands[:len(operands)-1]
	status := 0
	for _, src := range srcs {
		if err := o.transfer(e, src, dst, len(srcs) > 1); err != nil {
			e.errf("%v", err)
			status = 23
		}
	}
	return status
}

// parseRsyncRule turns one filter pattern into a rule.
func parseRsyncRule(include bool, pat string) (rsyncRule, bool) {
	r := rsyncRule{include: include}
	if pat == "" {
		return r, false
	}
	if strings.HasSuffix(pat, "/") {
		r.dirOnly = true
		pat = strings.TrimRight(pat, "/")
	}
	if strings.HasPrefix(pat, "/") {
		r.anchored, r.fullPath = true, true
		pat = strings.TrimLeft(pat, "/")
	}
	if strings.Contains(pat, "/") || strings.Contains(pat, "**") {
		r.fullPath = true
	}
	var b strings.Builder
	b.WriteString("^")
	if r.fullPath && !r.anchored {
		b.WriteString("(?:.*/)?")
	}
	for i := 0; i < len(pat); i++ {
		switch c := pat[i]; c {
		case '*':
			switch {
			case strings.HasPrefix(pat[i:], "/***") && i > 0:
				// "dir/***" matches dir and everything below it.
				b.WriteString("(?:/.*)?")
				i += 3
			case strings.HasPrefix(pat[i:], "**"):
				b.WriteString(".*")
				i++
			default:
				b.WriteString("[^/]*")
			}
		case '?':
			b.WriteString("[^/]")
		case '[':
			j := strings.IndexByte(pat[i+1:], ']')
			if j < 0 {
				b.WriteString(`\[`)
				continue
			}
			class := pat[i+1 : i+1+j]
			if strings.HasPrefix(class, "!") {
				class = "^" + class[1:]
			}
			b.WriteString("[" + strings.ReplaceAll(class, `\`, `\\`) + "]")
			i += j + 1
		case '\\':
			if i+1 < len(pat) {
				i++
				b.WriteString(regexp.QuoteMeta(pat[i : i+1]))
			}
		default:
			if c == '/' && strings.HasPrefix(pat[i:], "/***") {
				b.WriteString("(?:/.*)?")
				i += 3
				continue
			}
			b.WriteString(regexp.QuoteMeta(string(c)))
		}
	}
	b.WriteString("$")
	re, err := regexp.Compile(b.String())
	if err != nil {
		return r, false
	}
	r.re = re
	return r, true
}

// excluded reports whether the path rel (relative to the transfer root)
// is excluded by the first matching rule.
func (o *rsyncOpts) excluded(rel string, dir bool) bool {
	for _, r := range o.rules {
		if r.dirOnly && !dir {
			continue
		}
		name := rel
		if !r.fullPath {
			name = path.Base(rel)
		}
		if r.re.MatchString(name) {
			return !r.include
		}
	}
	return false
}

// transfer copies one source operand to dst.
func (o *rsyncOpts) transfer(e *env, src, dst string, many bool) error {
	contents := strings.HasSuffix(src, "/") || strings.HasSuffix(src, "/.") || src == "."
	clean := path.Clean(src)
	fi, err := os.Lstat(clean)
	if err != nil {
		return fmt.Errorf("link_stat \"%s\" failed: %s", src, errnoText(unwrapPath(err)))
	}
	if fi.Mode()&fs.ModeSymlink != 0 && contents {
		if fi, err = os.Stat(clean); err != nil {
			return fmt.Errorf("link_stat \"%s\" failed: %s", src, errnoText(unwrapPath(err)))
		}
	}
	if fi.IsDir() && !o.recursive {
		if o.verbose {
			fmt.Fprintf(e.stdout, "skipping directory %s\n", src)
		}
		return nil
	}
	var rel string // the source's path below the destination
	switch {
	case o.relative:
		r := src
		if i := strings.Index(r, "/./"); i >= 0 {
			r = r[i+3:]
		}
		rel = strings.TrimPrefix(path.Clean("/"+r), "/")
		if rel == "" {
			rel = "."
		}
		if rel != "." && path.Dir(rel) != "." {
			// Implied directories: the source's parents, created in dst.
			if err := o.mkdirs(path.Join(dst, path.Dir(rel))); err != nil {
				return err
			}
		}
	case contents && fi.IsDir():
		rel = "."
	default:
		rel = path.Base(clean)
		dfi, err := os.Stat(dst)
		if !fi.IsDir() && !many && !strings.HasSuffix(dst, "/") && (err != nil || !dfi.IsDir()) {
			// One file to a name that is not a directory: dst is the file.
			return o.copyEntry(e, clean, dst, rel, fi)
		}
	}
	if err := o.mkdirs(dst); err != nil {
		return err
	}
	if rel == "." {
		return o.copyDirContents(e, clean, dst, "")
	}
	if o.excluded(rel, fi.IsDir()) {
		return nil
	}
	return o.copyEntry(e, clean, path.Join(dst, rel), rel, fi)
}

func (o *rsyncOpts) mkdirs(dir string) error {
	if o.dryRun {
		return nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("mkdir \"%s\" failed: %s", dir, errnoText(unwrapPath(err)))
	}
	return nil
}

// copyEntry copies src (described by fi) to dst; rel is its path
// relative to the transfer root, for filters and -v.
func (o *rsyncOpts) copyEntry(e *env, src, dst, rel string, fi fs.FileInfo) error {
	switch {
	case fi.Mode()&fs.ModeSymlink != 0:
		if !o.links {
			fmt.Fprintf(e.stdout, "skipping non-regular file \"%s\"\n", rel)
			return nil
		}
		t, err := os.Readlink(src)
		if err != nil {
			return err
		}
		if cur, err := os.Readlink(dst); err == nil && cur == t {
			return nil
		}
		o.say(e, rel)
		if o.dryRun {
			return nil
		}
		if dfi, err := os.Lstat(dst); err == nil {
			if dfi.IsDir() {
				os.RemoveAll(dst)
			} else {
				os.Remove(dst)
			}
		}
		return os.Symlink(t, dst)
	case fi.IsDir():
		dfi, err := os.Lstat(dst)
		if err == nil && !dfi.IsDir() && !o.dryRun {
			os.Remove(dst)
			err = fs.ErrNotExist
		}
		if err != nil {
			o.say(e, rel+"/")
			if !o.dryRun {
				if err := os.Mkdir(dst, 0o755); err != nil {
					return fmt.Errorf("mkdir \"%s\" failed: %s", dst, errnoText(unwrapPath(err)))
				}
			}
		}
		if err := o.copyDirContents(e, src, dst, rel); err != nil {
			return err
		}
		if !o.dryRun {
			if o.perms {
				_ = sysChmod(dst, realMode(src, fi, false).Perm())
			}
			if o.times {
				_ = os.Chtimes(dst, fi.ModTime(), fi.ModTime())
			}
		}
		return nil
	case fi.Mode().IsRegular():
		if dfi, err := os.Stat(dst); err == nil && dfi.Mode().IsRegular() && dfi.Size() == fi.Size() && dfi.ModTime().Unix() == fi.ModTime().Unix() {
			return nil // rsync's quick check: same size and time
		}
		o.say(e, rel)
		if o.dryRun {
			return nil
		}
		if dfi, err := os.Lstat(dst); err == nil && !dfi.Mode().IsRegular() {
			os.RemoveAll(dst)
		}
		mode := realMode(src, fi, false)
		if err := copyFile(src, dst, mode); err != nil {
			return err
		}
		if o.perms {
			_ = sysChmod(dst, mode.Perm())
		}
		if o.times {
			_ = os.Chtimes(dst, fi.ModTime(), fi.ModTime())
		}
		return nil
	}
	fmt.Fprintf(e.stdout, "skipping non-regular file \"%s\"\n", rel)
	return nil
}

// copyDirContents copies the entries of the directory src into dst.
func (o *rsyncOpts) copyDirContents(e *env, src, dst, rel string) error {
	des, err := os.ReadDir(src)
	if err != nil {
		return err
	}
	var errs []error
	keep := map[string]bool{}
	for _, de := range des {
		r := path.Join(rel, de.Name())
		fi, err := de.Info()
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if o.excluded(r, fi.IsDir()) {
			if !o.delExcluded {
				keep[de.Name()] = true
			}
			continue
		}
		keep[de.Name()] = true
		if err := o.copyEntry(e, path.Join(src, de.Name()), path.Join(dst, de.Name()), r, fi); err != nil {
			errs = append(errs, err)
		}
	}
	if o.del && !o.dryRun {
		if cur, err := os.ReadDir(dst); err == nil {
			for _, de := range cur {
				r := path.Join(rel, de.Name())
				if !keep[de.Name()] && (o.delExcluded || !o.excluded(r, de.IsDir())) {
					if o.verbose {
						fmt.Fprintf(e.stdout, "deleting %s\n", r)
					}
					if err := os.RemoveAll(path.Join(dst, de.Name())); err != nil {
						errs = append(errs, err)
					}
				}
			}
		}
	}
	return errors.Join(errs...)
}

func (o *rsyncOpts) say(e *env, rel string) {
	if o.verbose {
		fmt.Fprintln(e.stdout, strings.TrimPrefix(rel, "./"))
	}
}
