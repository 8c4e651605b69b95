package main

import (
	"archive/tar"
	"bufio"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"strings"
)

func gzipCmd(e *env, args []string) int {
	g := getopt{bools: "cdfkqrtvn123456789", longs: map[string]byte{"stdout": 'c', "decompress": 'd', "force": 'f', "keep": 'k', "to-stdout": 'c'}}
	if !parseOpts(e, &g, args) {
		return 1
	}
	if g.has('d') {
		return gunzipOpts(e, &g)
	}
	level := gzip.DefaultCompression
	for c := byte('1'); c <= '9'; c++ {
		if g.has(c) {
			level = int(c - '0')
		}
	}
	if len(g.args) == 0 || g.has('c') {
		return e.eachInput(g.args, func(_ string, r *bufio.Reader) error {
			zw, _ := gzip.NewWriterLevel(e.stdout, level)
			if _, err := io.Copy(zw, r); err != nil {
				return err
			}
			return zw.Close()
		})
	}
	status := 0
	for _, name := range g.args {
		if err := gzipFile(name, level, g.has('k')); err != nil {
			e.fail(err)
			status = 1
		}
	}
	return status
}

func gzipFile(name string, level int, keep bool) error {
	in, err := os.Open(name)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(name+".gz", os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return err
	}
	bw := bufio.NewWriterSize(out, 64<<10)
	zw, _ := gzip.NewWriterLevel(bw, level)
	zw.Name = path.Base(name)
	_, err = io.Copy(zw, bufio.NewReaderSize(in, 64<<10))
	err = errors.Join(err, zw.Close(), bw.Flush(), out.Close())
	if err != nil {
		os.Remove(name + ".gz")
		return err
	}
	if !keep {
		return os.Remove(name)
	}
	return nil
}

func gunzipCmd(e *env, args []string) int {
	g := getopt{bools: "cdfkqrtvn", longs: map[string]byte{"stdout": 'c', "force": 'f', "keep": 'k', "to-stdout": 'c'}}
	if !parseOpts(e, &g, args) {
		return 1
	}
	return gunzipOpts(e, &g)
}

func zcatCmd(e *env, args []string) int {
	g := getopt{bools: "f"}
	if !parseOpts(e, &g, args) {
		return 1
	}
	g.set['c'] = 1
	return gunzipOpts(e, &g)
}

func gunzipOpts(e *env, g *getopt) int {
	if len(g.args) == 0 || g.has('c') || g.has('t') {
		return e.eachInput(g.args, func(_ string, r *bufio.Reader) error {
			zr, err := gzip.NewReader(r)
			if err != nil {
				return fmt.Errorf("not in gzip format")
			}
			var w io.Writer = e.stdout
			if g.has('t') {
				w = io.Discard
			}
			_, err = io.Copy(w, zr)
			return err
		})
	}
	status := 0
	for _, name := range g.args {
		if err := gunzipFile(name, g.has('k')); err != nil {
			e.fail(err)
			status = 1
		}
	}
	return status
}

func gunzipFile(name string, keep bool) error {
	out := strings.TrimSuffix(strings.TrimSuffix(name, ".gz"), ".tgz")
	if out == name {
		return fmt.Errorf("%s: unknown suffix -- ignored", name)
	}
	if strings.HasSuffix(name, ".tgz") {
		out += ".tar"
	}
	in, err := os.Open(name)
	if err != nil {
		return err
	}
	defer in.Close()
	zr, err := gzip.NewReader(bufio.NewReaderSize(in, 64<<10))
	if err != nil {
		return fmt.Errorf("%s: not in gzip format", name)
	}
	f, err := os.OpenFile(out, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return err
	}
	bw := bufio.NewWriterSize(f, 64<<10)
	_, err = io.Copy(bw, zr)
	err = errors.Join(err, bw.Flush(), f.Close())
	if err != nil {
		os.Remove(out)
		return err
	}
	if !keep {
		return os.Remove(name)
	}
	return nil
}

func tarCmd(e *env, args []string) int {
	// Old-style first argument: "czf" without a dash.
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		args = append([]string{"-" + args[0]}, args[1:]...)
	}
	g := getopt{bools: "cxtzvkpOhmo", vals: "fCX", longs: map[string]byte{"create": 'c', "extract": 'x', "list": 't', "gzip": 'z', "verbose": 'v', "file": 'f', "directory": 'C', "to-stdout": 'O', "keep-old-files": 'k', "dereference": 'h', "no-same-owner": 'o', "exclude": 'E', "strip-components": 'S'}}
	g.vals += "ES"
	if !parseOpts(e, &g, args) {
		return 2
	}
	file := g.val('f', "-")
	strip := 0
	if s := g.val('S', ""); s != "" {
		fmt.Sscan(s, &strip)
	}
	gz := g.has('z') || strings.HasSuffix(file, ".gz") || strings.HasSuffix(file, ".tgz")
	switch {
	case g.has('c'):
		var w io.Writer = e.stdout
		var f *os.File
		if file != "-" {
			var err error
			if f, err = os.Create(file); err != nil {
				return e.fail(err)
			}
			w = f
		}
		bw := bufio.NewWriterSize(w, 64<<10)
		var zw *gzip.Writer
		w = bw
		if gz && g.has('z') {
			zw = gzip.NewWriter(bw)
			w = zw
		}
		tw := tar.NewWriter(w)
		status := 0
		base := g.val('C', "")
		for _, name := range g.args {
			if err := tarAdd(e, tw, base, name, g.has('v'), g.has('h'), g.values['E']); err != nil {
				e.fail(err)
				status = 2
			}
		}
		err := tw.Close()
		if zw != nil {
			err = errors.Join(err, zw.Close())
		}
		err = errors.Join(err, bw.Flush())
		if f != nil {
			err = errors.Join(err, f.Close())
		}
		if err != nil {
			return e.fail(err)
		}
		return status
	case g.has('x'), g.has('t'):
		var r io.Reader = e.stdin
		if file != "-" {
			f, err := os.Open(file)
			if err != nil {
				return e.fail(err)
			}
			defer f.Close()
			r = bufio.NewReaderSize(f, 64<<10)
		}
		br := bufio.NewReaderSize(r, 64<<10)
		if magic, err := br.Peek(2); err == nil && magic[0] == 0x1f && magic[1] == 0x8b {
			zr, err := gzip.NewReader(br)
			if err != nil {
				return e.fail(err)
			}
			br = bufio.NewReaderSize(zr, 64<<10)
		}
		return tarExtract(e, tar.NewReader(br), g.val('C', "."), g.has('t'), g.has('v'), g.has('O'), g.has('k'), strip, g.args)
	}
	return e.usage("You must specify one of the '-ctx' options")
}

func tarAdd(e *env, tw *tar.Writer, base, name string, verbose, deref bool, exclude []string) error {
	full := name
	if base != "" && !path.IsAbs(name) {
		full = path.Join(base, name)
	}
	var walk func(p, arc string) error
	walk = func(p, arc string) error {
		for _, x := range exclude {
			if ok, _ := path.Match(x, path.Base(arc)); ok {
				return nil
			}
		}
		var fi fs.FileInfo
		var err error
		if deref {
			fi, err = os.Stat(p)
		} else {
			fi, err = os.Lstat(p)
		}
		if err != nil {
			return err
		}
		mode := realMode(p, fi, deref)
		link := ""
		if mode&fs.ModeSymlink != 0 {
			if link, err = os.Readlink(p); err != nil {
				return err
			}
		}
		hdr, err := tar.FileInfoHeader(modeInfo{fi, mode}, link)
		if err != nil {
			return err
		}
		hdr.Name = strings.TrimPrefix(arc, "/")
		if fi.IsDir() && !strings.HasSuffix(hdr.Name, "/") {
			hdr.Name += "/"
		}
		if st, err := sysStat(p, deref); err == nil {
			hdr.Uid, hdr.Gid = int(st.uid), int(st.gid)
		}
		if verbose {
			fmt.Fprintln(e.stderr, hdr.Name)
		}
		if err := tw.WriteHeader(hdr); err != nil {
			return err
		}
		if fi.Mode().IsRegular() {
			f, err := os.Open(p)
			if err != nil {
				return err
			}
			_, err = io.Copy(tw, f)
			f.Close()
			if err != nil {
				return err
			}
		}
		if fi.IsDir() {
			des, err := os.ReadDir(p)
			if err != nil {
				return err
			}
			for _, de := range des {
				if err := walk(path.Join(p, de.Name()), path.Join(arc, de.Name())); err != nil {
					return err
				}
			}
		}
		return nil
	}
	return walk(full, name)
}

// modeInfo overrides the permission bits WASI cannot report.
type modeInfo struct {
	fs.FileInfo
	mode fs.FileMode
}

func (m modeInfo) Mode() fs.FileMode { return m.mode }

func tarExtract(e *env, tr *tar.Reader, dest string, list, verbose, toStdout, keep bool, strip int, only []string) int {
	status := 0
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			return status
		}
		if err != nil {
			e.fail(err)
			return 2
		}
		name := hdr.Name
		if strip > 0 {
			parts := strings.Split(strings.Trim(name, "/"), "/")
			if len(parts) <= strip {
				continue
			}
			name = strings.Join(parts[strip:], "/")
		}
		if len(only) > 0 {
			want := false
			for _, o := range only {
				o = strings.TrimSuffix(o, "/")
				if n := strings.TrimSuffix(name, "/"); n == o || strings.HasPrefix(n, o+"/") {
					want = true
				}
			}
			if !want {
				continue
			}
		}
		if list {
			if verbose {
				fmt.Fprintf(e.stdout, "%s %d/%d %8d %s %s\n", modeString(hdr.FileInfo().Mode()), hdr.Uid, hdr.Gid, hdr.Size, hdr.ModTime.Format("2006-01-02 15:04"), hdr.Name)
			} else {
				fmt.Fprintln(e.stdout, hdr.Name)
			}
			continue
		}
		if toStdout {
			if hdr.Typeflag == tar.TypeReg {
				io.Copy(e.stdout, tr)
			}
			continue
		}
		if verbose {
			fmt.Fprintln(e.stdout, hdr.Name)
		}
		// The sandbox confines every path to the container; ".." entries
		// are still refused so archives cannot climb out of dest.
		clean := path.Clean("/" + name)
		if strings.Contains("/"+name+"/", "/../") {
			e.errf("%s: Member name contains '..'", hdr.Name)
			status = 2
			continue
		}
		target := path.Join(dest, clean)
		if err := os.MkdirAll(path.Dir(target), 0o755); err != nil {
			e.fail(err)
			status = 2
			continue
		}
		mode := hdr.FileInfo().Mode()
		switch hdr.Typeflag {
		case tar.TypeDir:
			if err := os.MkdirAll(target, 0o755); err != nil {
				e.fail(err)
				status = 2
				continue
			}
			_ = sysChmod(target, mode.Perm())
		case tar.TypeReg, '\x00': // '\x00': pre-POSIX regular file (TypeRegA)
			if keep {
				if _, err := os.Lstat(target); err == nil {
					continue
				}
			}
			os.Remove(target)
			f, err := os.OpenFile(target, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
			if err != nil {
				e.fail(err)
				status = 2
				continue
			}
			bw := bufio.NewWriterSize(f, 64<<10)
			_, err = io.Copy(bw, tr)
			err = errors.Join(err, bw.Flush(), f.Close())
			if err != nil {
				e.fail(err)
				status = 2
				continue
			}
			_ = sysChmod(target, mode&(fs.ModePerm|fs.ModeSetuid|fs.ModeSetgid|fs.ModeSticky))
			_ = os.Chtimes(target, hdr.ModTime, hdr.ModTime)
		case tar.TypeSymlink:
			os.Remove(target)
			if err := os.Symlink(hdr.Linkname, target); err != nil {
				e.fail(err)
				status = 2
			}
		case tar.TypeLink:
			os.Remove(target)
			if err := os.Link(path.Join(dest, path.Clean("/"+hdr.Linkname)), target); err != nil {
				e.fail(err)
				status = 2
			}
		}
	}
}
