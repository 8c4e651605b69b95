package providers_test

import (
	"context"
	"testing"
	"time"

	"github.com/sockerless/sockerless/providers"
)

// bare is a provider with no optional ability.
type bare struct{ name string }

func (b bare) Name() string                                    { return b.name }
func (bare) Create(context.Context, providers.Spec) error      { return nil }
func (bare) Start(context.Context, providers.Spec) error       { return nil }
func (bare) Stop(context.Context, string, time.Duration) error { return nil }
func (bare) Kill(context.Context, string, int) error           { return nil }
func (bare) Remove(context.Context, string) error              { return nil }
func (bare) Logs(context.Context, string, providers.LogOptions) (providers.LogPage, error) {
	return providers.LogPage{}, nil
}

// pausing is a provider that pauses.
type pausing struct{ bare }

func (pausing) Pause(context.Context, string) error   { return nil }
func (pausing) Unpause(context.Context, string) error { return nil }

// wrap wraps a provider and changes nothing.
type wrap struct{ providers.Provider }

func (w wrap) Unwrap() providers.Provider { return w.Provider }

// inspecting wraps a provider and answers Exists itself.
type inspecting struct{ wrap }

func (inspecting) Exists(context.Context, string) (bool, error) { return true, nil }

// opaque embeds a provider without saying it wraps one.
type opaque struct{ providers.Provider }

func TestAs(t *testing.T) {
	for _, tc := range []struct {
		name       string
		p          any
		wantPauser string // the Name of the provider As finds a Pauser on; "" for none
		wantInsp   bool
	}{
		{"nil", nil, "", false},
		{"bare", bare{"b"}, "", false},
		{"has it", pausing{bare{"p"}}, "p", false},
		{"wrapped", wrap{pausing{bare{"p"}}}, "p", false},
		{"wrapped twice", wrap{wrap{pausing{bare{"p"}}}}, "p", false},
		{"wrapper lacks nothing it is given", wrap{bare{"b"}}, "", false},
		{"wrapper's own", inspecting{wrap{pausing{bare{"p"}}}}, "p", true},
		{"wrapper of nothing", wrap{}, "", false},
		{"not an unwrapper", opaque{pausing{bare{"p"}}}, "", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pa, ok := providers.As[providers.Pauser](tc.p)
			got := ""
			if ok {
				got = pa.(providers.Provider).Name()
			}
			if got != tc.wantPauser {
				t.Errorf("As[Pauser] found it on %q, want %q", got, tc.wantPauser)
			}
			if _, ok := providers.As[providers.Inspector](tc.p); ok != tc.wantInsp {
				t.Errorf("As[Inspector] ok = %v, want %v", ok, tc.wantInsp)
			}
		})
	}
}
