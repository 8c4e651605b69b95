package sandbox

import (
	"context"
	"crypto/md5"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/binary"
	"errors"
	"fmt"
	"hash"
	"io/fs"
	"os"
	"path"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	experimentalsys "github.com/tetratelabs/wazero/experimental/sys"
)

// The "sockerless" host module gives applets what WASI lacks: permission
// bits (Go's wasip1 chmod is a no-op and its stat invents 0600/0700), the
// container user, and running another command (env, xargs, find -exec,
// timeout). Every path is a container path resolved through rootfs.

type invKey struct{}

func invFrom(ctx context.Context) *invocation {
	inv, _ := ctx.Value(invKey{}).(*invocation)
	return inv
}

func instantiateHostModule(ctx context.Context, rt wazero.Runtime) error {
	i32, i64 := api.ValueTypeI32, api.ValueTypeI64
	b := rt.NewHostModuleBuilder("sockerless")
	b.NewFunctionBuilder().WithGoModuleFunction(gated(hostChmod), []api.ValueType{i32, i32, i32}, []api.ValueType{i32}).Export("chmod")
	b.NewFunctionBuilder().WithGoModuleFunction(gated(hostStat), []api.ValueType{i32, i32, i32, i32}, []api.ValueType{i32}).Export("stat")
	b.NewFunctionBuilder().WithGoModuleFunction(gated(hostSpawn), []api.ValueType{i32, i32, i32, i32, i32, i32, i32, i64}, []api.ValueType{i32}).Export("spawn")
	b.NewFunctionBuilder().WithGoModuleFunction(gated(hostIDs), []api.ValueType{i32}, []api.ValueType{i32}).Export("ids")
	b.NewFunctionBuilder().WithGoModuleFunction(gated(hostHashNew), []api.ValueType{i32}, []api.ValueType{i32}).Export("hash_new")
	b.NewFunctionBuilder().WithGoModuleFunction(gated(hostHashWrite), []api.ValueType{i32, i32, i32}, []api.ValueType{i32}).Export("hash_write")
	b.NewFunctionBuilder().WithGoModuleFunction(gated(hostHashSum), []api.ValueType{i32, i32}, []api.ValueType{i32}).Export("hash_sum")
	b.NewFunctionBuilder().WithGoModuleFunction(gated(hostIsatty), []api.ValueType{i32}, []api.ValueType{i32}).Export("isatty")
	b.NewFunctionBuilder().WithGoModuleFunction(gated(hostInfo), []api.ValueType{i32, i32, i32}, []api.ValueType{i32}).Export("info")
	_, err := b.Instantiate(ctx)
	return err
}

func readString(mod api.Module, ptr, n uint64) (string, bool) {
	if n == 0 {
		return "", true
	}
	b, ok := mod.Memory().Read(uint32(ptr), uint32(n))
	if !ok {
		return "", false
	}
	return string(b), true
}

func hostChmod(ctx context.Context, mod api.Module, stack []uint64) {
	inv := invFrom(ctx)
	p, ok := readString(mod, stack[0], stack[1])
	switch {
	case inv == nil:
		stack[0] = uint64(experimentalsys.ENOSYS)
	case !ok:
		stack[0] = uint64(experimentalsys.EFAULT)
	case deviceFor(path.Clean(p)) != devNone:
		stack[0] = 0
	default:
		stack[0] = uint64(errno(inv.c.fs.Chmod(p, goMode(uint32(stack[2])))))
	}
}

func hostStat(ctx context.Context, mod api.Module, stack []uint64) {
	inv := invFrom(ctx)
	p, ok := readString(mod, stack[0], stack[1])
	if inv == nil || !ok {
		stack[0] = uint64(experimentalsys.EFAULT)
		return
	}
	follow, out := stack[2] != 0, uint32(stack[3])
	var buf [16]byte
	if deviceFor(path.Clean(p)) != devNone {
		binary.LittleEndian.PutUint32(buf[0:], 0o020666)
		binary.LittleEndian.PutUint32(buf[12:], 1)
	} else {
		var fi fs.FileInfo
		var err error
		if follow {
			fi, err = inv.c.fs.Stat(p)
		} else {
			fi, err = inv.c.fs.Lstat(p)
		}
		if err != nil {
			stack[0] = uint64(errno(err))
			return
		}
		mode, uid, gid, nlink := unixMode(fi.Mode()), uint32(0), uint32(0), uint32(1)
		if st, ok := fi.Sys().(*syscall.Stat_t); ok {
			mode, nlink = st.Mode, uint32(st.Nlink)
			uid, gid = mapOwner(st.Uid), mapOwner(st.Gid)
		}
		binary.LittleEndian.PutUint32(buf[0:], mode)
		binary.LittleEndian.PutUint32(buf[4:], uid)
		binary.LittleEndian.PutUint32(buf[8:], gid)
		binary.LittleEndian.PutUint32(buf[12:], nlink)
	}
	if !mod.Memory().Write(out, buf[:]) {
		stack[0] = uint64(experimentalsys.EFAULT)
		return
	}
	stack[0] = 0
}

// mapOwner shows files owned by the sandbox's own host user as root, like
// a rootless user namespace mapping the host user to uid 0.
func mapOwner(id uint32) uint32 {
	if int(id) == os.Getuid() || int(id) == os.Getgid() {
		return 0
	}
	return id
}

func hostIDs(ctx context.Context, mod api.Module, stack []uint64) {
	inv := invFrom(ctx)
	var buf [8]byte
	if inv != nil {
		binary.LittleEndian.PutUint32(buf[0:], uint32(inv.uid))
		binary.LittleEndian.PutUint32(buf[4:], uint32(inv.gid))
	}
	mod.Memory().Write(uint32(stack[0]), buf[:])
	stack[0] = 0
}

// Kinds of hostInfo: what ps, uname -m, nproc and df show, taken from the
// sandbox rather than invented.
const (
	infoProcesses = 1  // one line per process: PID PPID UID START-UNIX-SECONDS ARGV (tab-separated, argv NUL-joined)
	infoMachine   = 2  // the host's machine name, as uname -m prints it
	infoCPUs      = 3  // CPUs the sandbox's guests run on
	infoDisk      = 4  // "TOTAL FREE AVAIL" bytes of the filesystem holding the container's root, then a "TARGET TOTAL FREE AVAIL" line per sized mount
	infoGroups    = 5  // supplementary group ids, space-separated
	infoMounts    = 6  // the mount table: "SOURCE TARGET TYPE OPTIONS" lines
	infoAddrs     = 7  // interfaces besides lo: "NAME MAC ADDR/PREFIX" lines
	infoTTYSize   = 8  // "ROWS COLS" of the terminal, when stdin is it
	infoNoSpace   = 10 // "1" when a write of this instance failed with EIO for a size limit (WASI has no ENOSPC)
	infoTop       = 9  // the host's "MEM-TOTAL-KB MEM-FREE-KB SHARED-KB BUFFERS-KB CACHED-KB", /proc/stat's cpu line, /proc/loadavg, then "PID VSZ-KB" per process
)

// hostInfo writes the text of one kind of information at out (at most
// cap bytes) and returns its full length; a guest whose buffer was too
// small asks again with a larger one.
func hostInfo(ctx context.Context, mod api.Module, stack []uint64) {
	inv := invFrom(ctx)
	kind, out, capacity := uint32(stack[0]), uint32(stack[1]), uint32(stack[2])
	var text string
	switch {
	case inv == nil:
	case kind == infoProcesses:
		var b strings.Builder
		for _, p := range inv.c.Processes() {
			fmt.Fprintf(&b, "%d\t%d\t%d\t%d\t%s\n", p.PID, p.PPID, p.UID, p.Started.Unix(), strings.Join(p.Argv, "\x00"))
		}
		text = b.String()
	case kind == infoMachine:
		text = machine()
	case kind == infoCPUs:
		text = strconv.Itoa(runtime.NumCPU())
	case kind == infoGroups:
		var g []string
		for _, n := range inv.groups {
			g = append(g, strconv.Itoa(n))
		}
		text = strings.Join(g, " ")
	case kind == infoMounts:
		if st := inv.c.setting.Load(); st != nil {
			var b strings.Builder
			for _, m := range st.Mounts {
				fmt.Fprintf(&b, "%s %s %s %s\n", m.Source, m.Target, m.Type, m.Options)
			}
			text = b.String()
		}
	case kind == infoAddrs:
		if st := inv.c.setting.Load(); st != nil {
			var b strings.Builder
			for _, i := range st.Interfaces {
				fmt.Fprintf(&b, "%s %s %s\n", i.Name, i.MAC, i.Addr)
			}
			text = b.String()
		}
	case kind == infoTTYSize:
		if inv.isatty(0) {
			text = fmt.Sprintf("%d %d", inv.c.ttyRows.Load(), inv.c.ttyCols.Load())
		}
	case kind == infoTop:
		var b strings.Builder
		b.WriteString(hostLoad())
		inv.c.mu.Lock()
		for pid, t := range inv.c.tasks {
			fmt.Fprintf(&b, "\n%d %d", pid, t.mem.Load()/1024)
		}
		inv.c.mu.Unlock()
		text = b.String()
	case kind == infoDisk:
		text = inv.c.diskInfo()
	case kind == infoNoSpace:
		if inv.noSpace {
			text = "1"
		}
	}
	if uint32(len(text)) <= capacity && len(text) > 0 {
		mod.Memory().Write(out, []byte(text))
	}
	stack[0] = uint64(len(text))
}

// machine is uname -m's name for the host's architecture.
func machine() string {
	switch runtime.GOARCH {
	case "amd64":
		return "x86_64"
	case "arm64":
		return "aarch64"
	case "386":
		return "i686"
	case "arm":
		return "armv7l"
	}
	return runtime.GOARCH
}

// hashTable holds the message digests one applet instance computes
// through the host (md5sum, sha1sum, sha256sum, sha512sum): Go's hashes
// compiled to WebAssembly are 10-20x slower than on the host. Handles
// are 1-based indexes; the table lives as long as the instance's context.
type hashTable struct{ hs []hash.Hash }

type hashKey struct{}

func hashesFrom(ctx context.Context) *hashTable {
	t, _ := ctx.Value(hashKey{}).(*hashTable)
	return t
}

func (t *hashTable) get(h uint64) hash.Hash {
	if t == nil || h == 0 || h > uint64(len(t.hs)) {
		return nil
	}
	return t.hs[h-1]
}

func hostHashNew(ctx context.Context, _ api.Module, stack []uint64) {
	t := hashesFrom(ctx)
	var h hash.Hash
	switch uint32(stack[0]) {
	case 1:
		h = md5.New()
	case 2:
		h = sha1.New()
	case 3:
		h = sha256.New()
	case 4:
		h = sha512.New()
	}
	if t == nil || h == nil || len(t.hs) >= 1<<16 {
		stack[0] = 0
		return
	}
	t.hs = append(t.hs, h)
	stack[0] = uint64(len(t.hs))
}

func hostHashWrite(ctx context.Context, mod api.Module, stack []uint64) {
	h := hashesFrom(ctx).get(uint64(uint32(stack[0])))
	b, ok := mod.Memory().Read(uint32(stack[1]), uint32(stack[2]))
	if h == nil || !ok {
		stack[0] = uint64(experimentalsys.EFAULT)
		return
	}
	h.Write(b)
	stack[0] = 0
}

func hostHashSum(ctx context.Context, mod api.Module, stack []uint64) {
	h := hashesFrom(ctx).get(uint64(uint32(stack[0])))
	if h == nil {
		stack[0] = 0
		return
	}
	sum := h.Sum(nil)
	if !mod.Memory().Write(uint32(stack[1]), sum) {
		stack[0] = 0
		return
	}
	stack[0] = uint64(len(sum))
}

// hostIsatty answers 1 when file descriptor stack[0] of the calling
// applet is the container's terminal.
func hostIsatty(ctx context.Context, mod api.Module, stack []uint64) {
	inv := invFrom(ctx)
	fd := int(uint32(stack[0]))
	stack[0] = 0
	if inv != nil && inv.isatty(fd) {
		stack[0] = 1
	}
}

// Flags of spawn, mirrored in the applets.
const (
	spawnFlagNullStdin = 1
	spawnFlagEnv       = 2
)

// errTimeout is the cancel cause of the timeout applet's deadline.
var errTimeout = errors.New("sandbox: timeout")

func hostSpawn(ctx context.Context, mod api.Module, stack []uint64) {
	inv := invFrom(ctx)
	argvS, ok1 := readString(mod, stack[0], stack[1])
	envS, ok2 := readString(mod, stack[2], stack[3])
	dir, ok3 := readString(mod, stack[4], stack[5])
	flags, timeoutMs := uint32(stack[6]), int64(stack[7])
	if inv == nil || !ok1 || !ok2 || !ok3 || argvS == "" {
		stack[0] = 127
		return
	}
	child := inv.child()
	child.argv = strings.Split(argvS, "\x00")
	if flags&spawnFlagEnv != 0 {
		child.env = nil
		if envS != "" {
			child.env = strings.Split(envS, "\x00")
		}
	}
	if dir != "" {
		child.dir = path.Clean("/" + dir)
	}
	if flags&spawnFlagNullStdin != 0 {
		child.stdin = nil
	}
	if timeoutMs > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeoutCause(ctx, time.Duration(timeoutMs)*time.Millisecond, errTimeout)
		defer cancel()
	}
	code := inv.c.dispatch(ctx, child)
	if timeoutMs > 0 && context.Cause(ctx) == errTimeout {
		code = 124
	}
	stack[0] = uint64(uint32(int32(code)))
}

// unixMode converts Go mode bits to st_mode bits.
func unixMode(m fs.FileMode) uint32 {
	u := uint32(m.Perm())
	if m&fs.ModeSetuid != 0 {
		u |= 0o4000
	}
	if m&fs.ModeSetgid != 0 {
		u |= 0o2000
	}
	if m&fs.ModeSticky != 0 {
		u |= 0o1000
	}
	switch {
	case m.IsDir():
		u |= syscall.S_IFDIR
	case m&fs.ModeSymlink != 0:
		u |= syscall.S_IFLNK
	case m&fs.ModeNamedPipe != 0:
		u |= syscall.S_IFIFO
	case m&fs.ModeSocket != 0:
		u |= syscall.S_IFSOCK
	case m&fs.ModeCharDevice != 0:
		u |= syscall.S_IFCHR
	case m&fs.ModeDevice != 0:
		u |= syscall.S_IFBLK
	default:
		u |= syscall.S_IFREG
	}
	return u
}

// goMode converts permission bits (and setuid/setgid/sticky) to Go mode bits.
func goMode(u uint32) fs.FileMode {
	m := fs.FileMode(u & 0o777)
	if u&0o4000 != 0 {
		m |= fs.ModeSetuid
	}
	if u&0o2000 != 0 {
		m |= fs.ModeSetgid
	}
	if u&0o1000 != 0 {
		m |= fs.ModeSticky
	}
	return m
}

// hostLoad is what top's header shows: the host's memory, CPU times and
// load, as busybox top reads them from /proc (not namespaced in a Docker
// container either). Empty lines where the host has no /proc.
func hostLoad() string {
	var mem [5]string
	if data, err := os.ReadFile("/proc/meminfo"); err == nil {
		keys := map[string]int{"MemTotal:": 0, "MemFree:": 1, "Shmem:": 2, "Buffers:": 3, "Cached:": 4}
		for line := range strings.SplitSeq(string(data), "\n") {
			f := strings.Fields(line)
			if len(f) >= 2 {
				if i, ok := keys[f[0]]; ok {
					mem[i] = f[1]
				}
			}
		}
	}
	cpu := ""
	if data, err := os.ReadFile("/proc/stat"); err == nil {
		cpu, _, _ = strings.Cut(string(data), "\n")
	}
	load := ""
	if data, err := os.ReadFile("/proc/loadavg"); err == nil {
		load = strings.TrimSpace(string(data))
	}
	return strings.Join(mem[:], " ") + "\n" + cpu + "\n" + load
}
