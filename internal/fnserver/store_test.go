package fnserver

import (
	"context"
	"strings"
	"testing"
	"time"
)

func TestParseStoreSpec(t *testing.T) {
	tests := []struct {
		in      string
		want    StoreSpec
		wantErr string // substring of the error; "" means success
	}{
		{in: "", want: StoreSpec{Scheme: "memory"}},
		{in: "memory", want: StoreSpec{Scheme: "memory"}},
		{in: "dynamodb://tbl", want: StoreSpec{Scheme: "dynamodb", Table: "tbl"}},
		{in: "dynamodb://tbl?region=eu-west-1&endpoint=http://127.0.0.1:8000",
			want: StoreSpec{Scheme: "dynamodb", Table: "tbl", Region: "eu-west-1", Endpoint: "http://127.0.0.1:8000"}},
		{in: "firestore://proj", want: StoreSpec{Scheme: "firestore", Project: "proj"}},
		{in: "firestore://proj/db?endpoint=127.0.0.1:8080",
			want: StoreSpec{Scheme: "firestore", Project: "proj", Database: "db", Endpoint: "127.0.0.1:8080"}},
		{in: "aztables://acct/tbl", want: StoreSpec{Scheme: "aztables", Account: "acct", Table: "tbl"}},
		{in: "aztables://devstoreaccount1/tbl?endpoint=http://127.0.0.1:10002",
			want: StoreSpec{Scheme: "aztables", Account: "devstoreaccount1", Table: "tbl", Endpoint: "http://127.0.0.1:10002"}},

		{in: "memoryx", wantErr: "want memory"},
		{in: "redis://x", wantErr: `unknown store "redis"`},
		{in: "dynamodb://", wantErr: "missing table"},
		{in: "dynamodb:///tbl", wantErr: "missing table"},
		{in: "dynamodb://tbl/extra", wantErr: "unexpected path"},
		{in: "dynamodb://tbl:80", wantErr: "unexpected port"},
		{in: "dynamodb://tbl?regoin=x", wantErr: `unknown parameter "regoin"`},
		{in: "dynamodb://tbl?region=", wantErr: `parameter "region"`},
		{in: "dynamodb://tbl?region=a&region=b", wantErr: `parameter "region"`},
		{in: "dynamodb://tbl?region=%zz", wantErr: "bad query"},
		{in: "dynamodb://tbl?endpoint=127.0.0.1:8000", wantErr: "want http://HOST:PORT"},
		{in: "firestore://", wantErr: "missing project"},
		{in: "firestore://p/db/x", wantErr: "unexpected path"},
		{in: "firestore://p?endpoint=http://127.0.0.1:8080", wantErr: "want HOST:PORT"},
		{in: "firestore://p?region=x", wantErr: `unknown parameter "region"`},
		{in: "aztables://acct", wantErr: "want aztables://ACCOUNT/TABLE"},
		{in: "aztables:///tbl", wantErr: "want aztables://ACCOUNT/TABLE"},
		{in: "aztables://acct/a/b", wantErr: "want aztables://ACCOUNT/TABLE"},
		{in: "dynamodb://u@tbl", wantErr: "unexpected user"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseStoreSpec(tt.in)
			if tt.wantErr != "" {
				if err == nil {
					t.Fatalf("ParseStoreSpec(%q) = %+v, want error containing %q", tt.in, got, tt.wantErr)
				}
				if !strings.Contains(err.Error(), tt.wantErr) || !strings.Contains(err.Error(), StateEnv) {
					t.Fatalf("ParseStoreSpec(%q) error %q, want it to name %s and contain %q", tt.in, err, StateEnv, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseStoreSpec(%q): %v", tt.in, err)
			}
			if got != tt.want {
				t.Fatalf("ParseStoreSpec(%q) = %+v, want %+v", tt.in, got, tt.want)
			}
		})
	}
}

func TestOpenStoreMemory(t *testing.T) {
	s, err := OpenStore(context.Background(), "memory")
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
}

// An unreachable store fails at start, quickly, naming SOCKERLESS_STATE.
func TestOpenStoreUnreachable(t *testing.T) {
	old := StoreCheckTimeout
	StoreCheckTimeout = 3 * time.Second
	t.Cleanup(func() { StoreCheckTimeout = old })
	for _, in := range []string{
		"dynamodb://t?endpoint=http://127.0.0.1:1",
		"aztables://devstoreaccount1/t?endpoint=http://127.0.0.1:1",
		"firestore://p?endpoint=127.0.0.1:1",
	} {
		t.Run(in, func(t *testing.T) {
			start := time.Now()
			s, err := OpenStore(context.Background(), in)
			if err == nil {
				s.Close()
				t.Fatalf("OpenStore(%q) succeeded", in)
			}
			if !strings.Contains(err.Error(), StateEnv) {
				t.Fatalf("error %q does not name %s", err, StateEnv)
			}
			if d := time.Since(start); d > 10*time.Second {
				t.Fatalf("OpenStore took %v", d)
			}
			t.Log(err)
		})
	}
}

// Without an endpoint and without credentials the cloud stores fail with
// a message about credentials, not a hang.
func TestOpenStoreNoCredentials(t *testing.T) {
	t.Setenv("AWS_REGION", "")
	t.Setenv("AWS_DEFAULT_REGION", "")
	t.Setenv("AZURE_STORAGE_KEY", "")
	for in, want := range map[string]string{
		"dynamodb://t":   "region",
		"aztables://a/t": "credentials",
	} {
		_, err := OpenStore(context.Background(), in)
		if err == nil || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), StateEnv) {
			t.Fatalf("OpenStore(%q) = %v, want error naming %s about %s", in, err, StateEnv, want)
		}
	}
}
