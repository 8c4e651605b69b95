package main

import (
	"bufio"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"
)

// parseDate understands the date strings scripts commonly pass to -d.
func parseDate(s string) (time.Time, error) {
	s = strings.TrimSpace(s)
	now := time.Now()
	switch s {
	case "now", "":
		return now, nil
	case "today":
		return now, nil
	case "yesterday":
		return now.AddDate(0, 0, -1), nil
	case "tomorrow":
		return now.AddDate(0, 0, 1), nil
	}
	if strings.HasPrefix(s, "@") {
		f, err := strconv.ParseFloat(s[1:], 64)
		if err != nil {
			return time.Time{}, err
		}
		sec := int64(f)
		return time.Unix(sec, int64((f-float64(sec))*1e9)), nil
	}
	layouts := []string{time.RFC3339Nano, time.RFC3339, "2006-01-02T15:04:05", "2006-01-02 15:04:05Z07:00", "2006-01-02 15:04:05", "2006-01-02 15:04", "2006-01-02", time.RFC1123Z, time.RFC1123, time.UnixDate, time.ANSIC, "Jan 2 2006", "Jan 2, 2006", "2 Jan 2006", "01/02/2006"}
	for _, l := range layouts {
		if t, err := time.ParseInLocation(l, s, time.Local); err == nil {
			return t, nil
		}
	}
	// "N unit ago", "+N unit", "N unit".
	f := strings.Fields(s)
	if len(f) >= 2 {
		n, err := strconv.Atoi(f[0])
		if err == nil {
			if len(f) == 3 && f[2] == "ago" {
				n = -n
			}
			unit := strings.TrimSuffix(f[1], "s")
			switch unit {
			case "second", "sec":
				return now.Add(time.Duration(n) * time.Second), nil
			case "minute", "min":
				return now.Add(time.Duration(n) * time.Minute), nil
			case "hour":
				return now.Add(time.Duration(n) * time.Hour), nil
			case "day":
				return now.AddDate(0, 0, n), nil
			case "week":
				return now.AddDate(0, 0, 7*n), nil
			case "month":
				return now.AddDate(0, n, 0), nil
			case "year":
				return now.AddDate(n, 0, 0), nil
			}
		}
	}
	return time.Time{}, fmt.Errorf("invalid date '%s'", s)
}

// strftime formats t with a C strftime format.
func strftime(format string, t time.Time) string {
	var b strings.Builder
	for i := 0; i < len(format); i++ {
		c := format[i]
		if c != '%' || i+1 >= len(format) {
			b.WriteByte(c)
			continue
		}
		i++
		pad := byte(0)
		if format[i] == '-' || format[i] == '_' || format[i] == '0' {
			pad = format[i]
			if i+1 < len(format) {
				i++
			}
		}
		num := func(v, width int) {
			switch pad {
			case '-':
				b.WriteString(strconv.Itoa(v))
			case '_':
				fmt.Fprintf(&b, "%*d", width, v)
			default:
				fmt.Fprintf(&b, "%0*d", width, v)
			}
		}
		switch format[i] {
		case 'Y':
			num(t.Year(), 4)
		case 'C':
			num(t.Year()/100, 2)
		case 'y':
			num(t.Year()%100, 2)
		case 'm':
			num(int(t.Month()), 2)
		case 'd':
			num(t.Day(), 2)
		case 'e':
			if pad == 0 {
				pad = '_'
			}
			num(t.Day(), 2)
		case 'H':
			num(t.Hour(), 2)
		case 'k':
			if pad == 0 {
				pad = '_'
			}
			num(t.Hour(), 2)
		case 'I':
			h := t.Hour() % 12
			if h == 0 {
				h = 12
			}
			num(h, 2)
		case 'l':
			h := t.Hour() % 12
			if h == 0 {
				h = 12
			}
			if pad == 0 {
				pad = '_'
			}
			num(h, 2)
		case 'M':
			num(t.Minute(), 2)
		case 'S':
			num(t.Second(), 2)
		case 'N':
			fmt.Fprintf(&b, "%09d", t.Nanosecond())
		case 'j':
			num(t.YearDay(), 3)
		case 'u':
			wd := int(t.Weekday())
			if wd == 0 {
				wd = 7
			}
			b.WriteString(strconv.Itoa(wd))
		case 'w':
			b.WriteString(strconv.Itoa(int(t.Weekday())))
		case 'a':
			b.WriteString(t.Format("Mon"))
		case 'A':
			b.WriteString(t.Format("Monday"))
		case 'b', 'h':
			b.WriteString(t.Format("Jan"))
		case 'B':
			b.WriteString(t.Format("January"))
		case 'p':
			b.WriteString(t.Format("PM"))
		case 'P':
			b.WriteString(strings.ToLower(t.Format("PM")))
		case 'Z':
			b.WriteString(t.Format("MST"))
		case 'z':
			b.WriteString(t.Format("-0700"))
		case 's':
			b.WriteString(strconv.FormatInt(t.Unix(), 10))
		case 'F':
			b.WriteString(t.Format("2006-01-02"))
		case 'T':
			b.WriteString(t.Format("15:04:05"))
		case 'R':
			b.WriteString(t.Format("15:04"))
		case 'D':
			b.WriteString(t.Format("01/02/06"))
		case 'c':
			b.WriteString(t.Format("Mon Jan _2 15:04:05 2006"))
		case 'x':
			b.WriteString(t.Format("01/02/06"))
		case 'X':
			b.WriteString(t.Format("15:04:05"))
		case 'V':
			_, w := t.ISOWeek()
			num(w, 2)
		case 'G':
			y, _ := t.ISOWeek()
			num(y, 4)
		case 'n':
			b.WriteByte('\n')
		case 't':
			b.WriteByte('\t')
		case '%':
			b.WriteByte('%')
		default:
			b.WriteByte('%')
			b.WriteByte(format[i])
		}
	}
	return b.String()
}

func dateCmd(e *env, args []string) int {
	t := time.Now()
	utc := false
	format := "%a %b %e %H:%M:%S %Z %Y"
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch {
		case a == "-u" || a == "--utc" || a == "--universal":
			utc = true
		case a == "-d" || a == "--date":
			if i+1 >= len(args) {
				return e.usage("option requires an argument -- 'd'")
			}
			i++
			pt, err := parseDate(args[i])
			if err != nil {
				e.errf("%v", err)
				return 1
			}
			t = pt
		case strings.HasPrefix(a, "--date="):
			pt, err := parseDate(a[len("--date="):])
			if err != nil {
				e.errf("%v", err)
				return 1
			}
			t = pt
		case strings.HasPrefix(a, "-d") && len(a) > 2:
			pt, err := parseDate(a[2:])
			if err != nil {
				e.errf("%v", err)
				return 1
			}
			t = pt
		case a == "-r" && i+1 < len(args):
			i++
			fi, err := os.Stat(args[i])
			if err != nil {
				return e.fail(err)
			}
			t = fi.ModTime()
		case a == "-R" || a == "--rfc-email" || a == "--rfc-2822":
			format = "%a, %d %b %Y %H:%M:%S %z"
		case strings.HasPrefix(a, "-I") || strings.HasPrefix(a, "--iso-8601"):
			spec := strings.TrimPrefix(strings.TrimPrefix(strings.TrimPrefix(a, "--iso-8601"), "-I"), "=")
			switch spec {
			case "", "date":
				format = "%Y-%m-%d"
			case "hours":
				format = "%Y-%m-%dT%H%:z"
			case "minutes":
				format = "%Y-%m-%dT%H:%M%:z"
			case "seconds":
				format = "%Y-%m-%dT%H:%M:%S%:z"
			case "ns":
				format = "%Y-%m-%dT%H:%M:%S,%N%:z"
			}
		case strings.HasPrefix(a, "+"):
			format = a[1:]
		case strings.HasPrefix(a, "-"):
			return e.usage("invalid option -- '%s'", a)
		default:
			e.errf("cannot set date: Operation not permitted")
			return 1
		}
	}
	if utc {
		t = t.UTC()
	}
	out := strftime(strings.ReplaceAll(format, "%:z", "\x00"), t)
	out = strings.ReplaceAll(out, "\x00", t.Format("-07:00"))
	fmt.Fprintln(e.stdout, out)
	return 0
}

func odCmd(e *env, args []string) int {
	g := getopt{bools: "bcdxv", vals: "AtN", longs: map[string]byte{"address-radix": 'A', "format": 't'}}
	if !parseOpts(e, &g, args) {
		return 1
	}
	data, status := readAll(e, g.args)
	radix := g.val('A', "o")
	kind := g.val('t', "o2")
	if g.has('c') {
		kind = "c"
	}
	if g.has('x') {
		kind = "x2"
	}
	if g.has('b') {
		kind = "o1"
	}
	addr := func(n int) string {
		switch radix {
		case "d":
			return fmt.Sprintf("%07d", n)
		case "x":
			return fmt.Sprintf("%06x", n)
		case "n":
			return ""
		}
		return fmt.Sprintf("%07o", n)
	}
	for off := 0; off < len(data); off += 16 {
		row := data[off:min(off+16, len(data))]
		e.stdout.WriteString(addr(off))
		switch {
		case kind == "c":
			for _, c := range row {
				s := map[byte]string{0: `\0`, '\n': `\n`, '\t': `\t`, '\r': `\r`}[c]
				if s == "" {
					if c >= 32 && c < 127 {
						s = string(rune(c))
					} else {
						s = fmt.Sprintf("%03o", c)
					}
				}
				fmt.Fprintf(e.stdout, " %3s", s)
			}
		case strings.HasPrefix(kind, "x1"):
			for _, c := range row {
				fmt.Fprintf(e.stdout, " %02x", c)
			}
		case strings.HasPrefix(kind, "o1"), strings.HasPrefix(kind, "u1"), strings.HasPrefix(kind, "d1"):
			for _, c := range row {
				if kind[0] == 'o' {
					fmt.Fprintf(e.stdout, " %03o", c)
				} else {
					fmt.Fprintf(e.stdout, " %3d", c)
				}
			}
		default:
			for k := 0; k < len(row); k += 2 {
				v := int(row[k])
				if k+1 < len(row) {
					v |= int(row[k+1]) << 8
				}
				if kind[0] == 'x' {
					fmt.Fprintf(e.stdout, " %04x", v)
				} else {
					fmt.Fprintf(e.stdout, " %06o", v)
				}
			}
		}
		e.stdout.WriteByte('\n')
	}
	if radix != "n" {
		e.stdout.WriteString(addr(len(data)) + "\n")
	}
	return status
}

func readAll(e *env, names []string) ([]byte, int) {
	var data []byte
	status := e.eachInput(names, func(_ string, r *bufio.Reader) error {
		b, err := io.ReadAll(r)
		data = append(data, b...)
		return err
	})
	return data, status
}

func hexdumpCmd(e *env, args []string) int {
	canonical := false
	var names []string
	for _, a := range args {
		if a == "-C" {
			canonical = true
		} else {
			names = append(names, a)
		}
	}
	data, status := readAll(e, names)
	if canonical {
		d := hex.Dumper(e.stdout)
		d.Write(data)
		d.Close()
		if len(data) > 0 {
			fmt.Fprintf(e.stdout, "%08x\n", len(data))
		}
		return status
	}
	for off := 0; off < len(data); off += 16 {
		row := data[off:min(off+16, len(data))]
		fmt.Fprintf(e.stdout, "%07x", off)
		for k := 0; k < len(row); k += 2 {
			v := int(row[k])
			if k+1 < len(row) {
				v |= int(row[k+1]) << 8
			}
			fmt.Fprintf(e.stdout, " %04x", v)
		}
		e.stdout.WriteByte('\n')
	}
	fmt.Fprintf(e.stdout, "%07x\n", len(data))
	return status
}

func xxdCmd(e *env, args []string) int {
	g := getopt{bools: "prs"}
	if !parseOpts(e, &g, args) {
		return 1
	}
	if g.has('r') {
		data, status := readAll(e, g.args)
		clean := strings.Map(func(r rune) rune {
			if isHex(byte(r)) && r < 128 {
				return r
			}
			return -1
		}, string(data))
		out, _ := hex.DecodeString(clean)
		e.stdout.Write(out)
		return status
	}
	data, status := readAll(e, g.args)
	if g.has('p') {
		s := hex.EncodeToString(data)
		for len(s) > 60 {
			e.stdout.WriteString(s[:60] + "\n")
			s = s[60:]
		}
		if s != "" {
			e.stdout.WriteString(s + "\n")
		}
		return status
	}
	for off := 0; off < len(data); off += 16 {
		row := data[off:min(off+16, len(data))]
		fmt.Fprintf(e.stdout, "%08x:", off)
		for k := 0; k < 16; k += 2 {
			switch {
			case k+1 < len(row):
				fmt.Fprintf(e.stdout, " %02x%02x", row[k], row[k+1])
			case k < len(row):
				fmt.Fprintf(e.stdout, " %02x  ", row[k])
			default:
				e.stdout.WriteString("     ")
			}
		}
		e.stdout.WriteString("  ")
		for _, c := range row {
			if c >= 32 && c < 127 {
				e.stdout.WriteByte(c)
			} else {
				e.stdout.WriteByte('.')
			}
		}
		e.stdout.WriteByte('\n')
	}
	return status
}

func ddCmd(e *env, args []string) int {
	in, out := "-", "-"
	bs, count, skip, seek := int64(512), int64(-1), int64(0), int64(0)
	for _, a := range args {
		k, v, ok := strings.Cut(a, "=")
		if !ok {
			return e.usage("unrecognized operand '%s'", a)
		}
		n, _ := parseSize(v)
		switch k {
		case "if":
			in = v
		case "of":
			out = v
		case "bs", "ibs", "obs":
			bs = n
		case "count":
			count = n
		case "skip":
			skip = n
		case "seek":
			seek = n
		case "status", "conv", "iflag", "oflag":
		}
	}
	var r io.Reader = e.stdin
	if in != "-" {
		f, err := os.Open(in)
		if err != nil {
			return e.fail(err)
		}
		defer f.Close()
		r = f
	}
	var w io.Writer = e.stdout
	if out != "-" {
		f, err := os.OpenFile(out, os.O_WRONLY|os.O_CREATE, 0o644)
		if err != nil {
			return e.fail(err)
		}
		defer f.Close()
		if seek > 0 {
			f.Seek(seek*bs, io.SeekStart)
		} else {
			f.Truncate(0)
		}
		w = f
	}
	if skip > 0 {
		io.CopyN(io.Discard, r, skip*bs)
	}
	buf := make([]byte, bs)
	var full, total int64
	for count < 0 || full < count {
		n, err := io.ReadFull(r, buf)
		if n > 0 {
			wn, werr := w.Write(buf[:n])
			total += int64(wn)
			if werr != nil {
				// As busybox: the error, then what was copied, status 1.
				if u := errors.Unwrap(werr); u != nil {
					werr = u
				}
				e.errf("error writing '%s': %s", out, errnoText(werr))
				fmt.Fprintf(e.stderr, "%d+0 records in\n%d+0 records out\n%d bytes copied\n", full+1, full, total)
				return 1
			}
			full++
		}
		if err != nil {
			break
		}
	}
	fmt.Fprintf(e.stderr, "%d+0 records in\n%d+0 records out\n%d bytes copied\n", full, full, total)
	return 0
}
