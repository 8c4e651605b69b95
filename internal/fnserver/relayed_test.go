package fnserver

import (
	"context"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/sockerless/sockerless/providers"
	"github.com/sockerless/sockerless/providers/memory"
	"github.com/sockerless/sockerless/providers/memory/sandbox"
	"github.com/sockerless/sockerless/providers/synthetic"
	"github.com/sockerless/sockerless/relay"
)

// noReports is a Reporter for providers whose workloads never run here.
type noReports struct{}

func (noReports) Exited(context.Context, string, int, time.Time) error { return nil }
func (noReports) ExecExited(context.Context, string, int, time.Time) error {
	return nil
}
func (noReports) Health(context.Context, string, providers.HealthResult) error { return nil }

// plain is a provider with no optional ability at all.
type plain struct{}

func (plain) Name() string                                      { return "plain" }
func (plain) Create(context.Context, providers.Spec) error      { return nil }
func (plain) Start(context.Context, providers.Spec) error       { return nil }
func (plain) Stop(context.Context, string, time.Duration) error { return nil }
func (plain) Kill(context.Context, string, int) error           { return nil }
func (plain) Remove(context.Context, string) error              { return nil }
func (plain) Logs(context.Context, string, providers.LogOptions) (providers.LogPage, error) {
	return providers.LogPage{}, nil
}

// pidOnly is a provider whose only ability is PIDReporter, one the old
// wrapper hid.
type pidOnly struct{ plain }

func (pidOnly) Name() string                                        { return "pid-only" }
func (pidOnly) MainPID(context.Context, string) (int, bool)         { return 7, true }
func (pidOnly) ExecPID(context.Context, string, string) (int, bool) { return 8, true }

// ability looks up one optional interface: find through providers.As,
// has by asking the value itself.
type ability struct {
	name string
	find func(p providers.Provider) (any, bool)
	has  func(p providers.Provider) bool
	// ownedByWrapper: the wrapper implements it itself, whatever the
	// wrapped provider has (see Relayed).
	ownedByWrapper bool
}

func abilityOf[T any](name string, ownedByWrapper bool) ability {
	return ability{
		name: name,
		find: func(p providers.Provider) (any, bool) { return providers.As[T](p) },
		has: func(p providers.Provider) bool {
			_, ok := any(p).(T)
			return ok
		},
		ownedByWrapper: ownedByWrapper,
	}
}

// allAbilities is every optional provider interface.
var allAbilities = []ability{
	abilityOf[providers.Archiver]("Archiver", false),
	abilityOf[providers.Processes]("Processes", false),
	abilityOf[providers.PIDReporter]("PIDReporter", false),
	abilityOf[providers.Pauser]("Pauser", false),
	abilityOf[providers.EarlyAttacher]("EarlyAttacher", false),
	abilityOf[providers.LayerKeeper]("LayerKeeper", false),
	abilityOf[providers.RootRunner]("RootRunner", false),
	abilityOf[providers.Resizer]("Resizer", false),
	abilityOf[providers.Sizer]("Sizer", false),
	abilityOf[providers.FlagApplier]("FlagApplier", false),
	abilityOf[providers.UserChecker]("UserChecker", false),
	abilityOf[providers.VolumeRemover]("VolumeRemover", false),
	abilityOf[providers.BaseLayerer]("BaseLayerer", false),
	abilityOf[providers.DefaultRooter]("DefaultRooter", false),
	abilityOf[providers.Inspector]("Inspector", true),
	abilityOf[providers.ExitInspector]("ExitInspector", true),
}

// TestRelayedAbilities: through the split-mode wrapper, providers.As
// finds each optional ability exactly when the wrapped provider has it,
// on the wrapped provider, except the ones the wrapper answers itself
// (Inspector from the relay, ExitInspector that the relay keeps no
// exits), found on the wrapper whatever the wrapped provider has.
func TestRelayedAbilities(t *testing.T) {
	ctx := context.Background()
	hub := relay.NewHub([]byte("caps-secret"))
	sb, err := sandbox.New(ctx, sandbox.Options{CacheDir: filepath.Join(os.TempDir(), "sockerless-test-wazero")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sb.Close(context.Background()) })
	mem, err := memory.New(memory.Options{Hub: hub, Reporter: noReports{}, Sandbox: sb, StateDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	for _, inner := range []providers.Provider{
		mem,
		synthetic.New(synthetic.Options{Hub: hub, Reporter: noReports{}}),
		plain{},
		pidOnly{},
	} {
		wrapped := Relayed(inner, hub, []byte("caps-secret"), "ws://127.0.0.1:1", 0, log)
		for _, ab := range allAbilities {
			t.Run(inner.Name()+"/"+ab.name, func(t *testing.T) {
				got, ok := ab.find(wrapped)
				switch {
				case ab.ownedByWrapper:
					if !ok || got != any(wrapped) {
						t.Fatalf("As found %T (ok %v), want the wrapper's own", got, ok)
					}
				case ab.has(inner):
					if !ok || got != any(inner) {
						t.Fatalf("As found %T (ok %v), want the wrapped provider's", got, ok)
					}
				case ok:
					t.Fatalf("As found %T, but the wrapped provider has no %s", got, ab.name)
				}
			})
		}
	}
	// The table covers abilities that each side has and lacks.
	for _, ab := range allAbilities {
		if ab.ownedByWrapper {
			continue
		}
		if !ab.has(mem) {
			t.Errorf("the memory provider has no %s: the table does not show it passes through", ab.name)
		}
	}
}
