package fnserver

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
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
	for _, in := range []string{
		"dynamodb://t?endpoint=http://127.0.0.1:1",
		"aztables://devstoreaccount1/t?endpoint=http://127.0.0.1:1",
		"firestore://p?endpoint=127.0.0.1:1",
	} {
		t.Run(in, func(t *testing.T) {
			start := time.Now()
			s, err := OpenStoreWith(context.Background(), in, StoreOptions{CheckTimeout: 3 * time.Second})
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

// envMap is a Getenv over a map.
func envMap(m map[string]string) Getenv { return func(k string) string { return m[k] } }

// TestStorePlan checks which credentials each SOCKERLESS_STATE value
// selects: emulator endpoints get the emulator's fixed credentials, cloud
// services their platform's default chain (or an explicit key).
func TestStorePlan(t *testing.T) {
	tests := []struct {
		in         string
		env        map[string]string
		auth       Auth
		region     string
		serviceURL string
	}{
		{in: "memory", auth: AuthNone},
		{in: "dynamodb://t?endpoint=http://127.0.0.1:8000", auth: AuthEmulatorStatic, region: "us-east-1"},
		{in: "dynamodb://t?region=eu-west-1&endpoint=http://127.0.0.1:8000", auth: AuthEmulatorStatic, region: "eu-west-1"},
		{in: "dynamodb://t?region=eu-west-1", auth: AuthAWSDefaultChain, region: "eu-west-1"},
		{in: "dynamodb://t?region=eu-west-1", env: map[string]string{"AWS_REGION": "us-west-2"}, auth: AuthAWSDefaultChain, region: "eu-west-1"},
		{in: "dynamodb://t", env: map[string]string{"AWS_REGION": "us-west-2"}, auth: AuthAWSDefaultChain, region: "us-west-2"},
		{in: "dynamodb://t", env: map[string]string{"AWS_DEFAULT_REGION": "ap-south-1"}, auth: AuthAWSDefaultChain, region: "ap-south-1"},
		{in: "dynamodb://t", auth: AuthAWSDefaultChain, region: ""},
		{in: "firestore://p", auth: AuthGoogleADC},
		{in: "firestore://p/db", env: map[string]string{"GOOGLE_APPLICATION_CREDENTIALS": "/x.json"}, auth: AuthGoogleADC},
		{in: "firestore://p?endpoint=127.0.0.1:8080", auth: AuthEmulatorOwner},
		{in: "aztables://acct/t", auth: AuthAzureDefault, serviceURL: "https://acct.table.core.windows.net/"},
		{in: "aztables://acct/t", env: map[string]string{"AZURE_STORAGE_KEY": "a2V5"}, auth: AuthAzureSharedKey, serviceURL: "https://acct.table.core.windows.net/"},
		{in: "aztables://acct/t", env: map[string]string{"AZURE_STORAGE_CONNECTION_STRING": "AccountName=x", "AZURE_STORAGE_KEY": "a2V5"}, auth: AuthAzureConnectionString},
		{in: "aztables://devstoreaccount1/t?endpoint=http://127.0.0.1:10002", auth: AuthAzureSharedKey, serviceURL: "http://127.0.0.1:10002/devstoreaccount1/"},
		{in: "aztables://devstoreaccount1/t?endpoint=http://127.0.0.1:10002/devstoreaccount1", auth: AuthAzureSharedKey, serviceURL: "http://127.0.0.1:10002/devstoreaccount1/"},
		{in: "aztables://devstoreaccount1/t?endpoint=http://127.0.0.1:10002", env: map[string]string{"AZURE_STORAGE_CONNECTION_STRING": "AccountName=x"}, auth: AuthAzureSharedKey, serviceURL: "http://127.0.0.1:10002/devstoreaccount1/"},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%s %v", tt.in, tt.env), func(t *testing.T) {
			spec, err := ParseStoreSpec(tt.in)
			if err != nil {
				t.Fatal(err)
			}
			p, err := spec.Plan(envMap(tt.env))
			if err != nil {
				t.Fatal(err)
			}
			if p.Auth != tt.auth || p.Region != tt.region || p.ServiceURL != tt.serviceURL {
				t.Fatalf("Plan = auth %q region %q url %q; want %q %q %q", p.Auth, p.Region, p.ServiceURL, tt.auth, tt.region, tt.serviceURL)
			}
		})
	}
}

// isolateCloudEnv points every cloud SDK's ambient configuration at
// nothing (no files, no metadata servers), so tests never reach a network.
func isolateCloudEnv(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	for k, v := range map[string]string{
		"HOME": dir, "AWS_CONFIG_FILE": filepath.Join(dir, "aws-config"), "AWS_SHARED_CREDENTIALS_FILE": filepath.Join(dir, "aws-credentials"),
		"AWS_EC2_METADATA_DISABLED": "true", "AWS_REGION": "", "AWS_DEFAULT_REGION": "", "AWS_PROFILE": "",
		"AWS_ACCESS_KEY_ID": "", "AWS_SECRET_ACCESS_KEY": "", "AWS_SESSION_TOKEN": "", "AWS_WEB_IDENTITY_TOKEN_FILE": "",
		"AWS_CONTAINER_CREDENTIALS_RELATIVE_URI": "", "AWS_CONTAINER_CREDENTIALS_FULL_URI": "",
		"AZURE_STORAGE_KEY": "", "AZURE_STORAGE_CONNECTION_STRING": "", "AZURE_TOKEN_CREDENTIALS": "EnvironmentCredential",
		"AZURE_CLIENT_ID": "", "AZURE_TENANT_ID": "", "AZURE_CLIENT_SECRET": "", "AZURE_CLIENT_CERTIFICATE_PATH": "", "AZURE_USERNAME": "",
		"GOOGLE_APPLICATION_CREDENTIALS": filepath.Join(dir, "no-such-adc.json"), "FIRESTORE_EMULATOR_HOST": "", "CLOUDSDK_CONFIG": dir,
	} {
		t.Setenv(k, v)
	}
	return dir
}

// The DynamoDB client comes from the AWS SDK's default configuration:
// the region and credentials of a shared-config profile are used.
func TestAWSDefaultChainUsesSharedConfig(t *testing.T) {
	dir := isolateCloudEnv(t)
	if err := os.WriteFile(filepath.Join(dir, "aws-config"), []byte("[profile ci]\nregion = eu-central-1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "aws-credentials"), []byte("[ci]\naws_access_key_id = AKIDSHARED\naws_secret_access_key = s3cret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("AWS_PROFILE", "ci")
	cfg, err := awsConfig(context.Background(), "")
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Region != "eu-central-1" {
		t.Errorf("region = %q, want the profile's eu-central-1", cfg.Region)
	}
	creds, err := cfg.Credentials.Retrieve(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if creds.AccessKeyID != "AKIDSHARED" || !strings.Contains(creds.Source, "SharedConfigCredentials") {
		t.Errorf("credentials = %q from %q, want AKIDSHARED from the shared credentials file", creds.AccessKeyID, creds.Source)
	}
	// The URL's region wins over the profile's.
	cfg, err = awsConfig(context.Background(), "us-west-2")
	if err != nil || cfg.Region != "us-west-2" {
		t.Errorf("awsConfig(us-west-2) = %q, %v", cfg.Region, err)
	}
	// Environment keys come first in the chain.
	t.Setenv("AWS_ACCESS_KEY_ID", "AKIDENV")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "s3cret")
	cfg, err = awsConfig(context.Background(), "")
	if err != nil {
		t.Fatal(err)
	}
	if creds, err := cfg.Credentials.Retrieve(context.Background()); err != nil || creds.AccessKeyID != "AKIDENV" {
		t.Errorf("credentials = %+v, %v; want AKIDENV from the environment", creds, err)
	}
}

// Without an endpoint and without credentials each cloud store fails at
// start, without a hang, with a message naming SOCKERLESS_STATE and the
// credential source it tried.
func TestOpenStoreNoCredentials(t *testing.T) {
	isolateCloudEnv(t)
	for in, want := range map[string][]string{
		"dynamodb://t":                  {"no AWS region", string(AuthAWSDefaultChain)},
		"dynamodb://t?region=eu-west-1": {"credentials", string(AuthAWSDefaultChain)},
		"aztables://acct/t":             {"EnvironmentCredential", string(AuthAzureDefault)},
		"firestore://p":                 {"no-such-adc.json", string(AuthGoogleADC)},
	} {
		t.Run(in, func(t *testing.T) {
			start := time.Now()
			s, err := OpenStoreWith(context.Background(), in, StoreOptions{CheckTimeout: 5 * time.Second})
			if err == nil {
				s.Close()
				t.Fatalf("OpenStore(%q) succeeded", in)
			}
			for _, w := range append(want, StateEnv) {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("OpenStore(%q) = %v; want it to mention %q", in, err, w)
				}
			}
			if d := time.Since(start); d > 5*time.Second {
				t.Errorf("OpenStore(%q) took %v", in, d)
			}
		})
	}
}

// A connection string or account key in the environment is used for the
// Azure service; a malformed one fails at start naming the variable.
func TestOpenStoreAzureExplicitCredentials(t *testing.T) {
	isolateCloudEnv(t)
	t.Setenv("AZURE_STORAGE_CONNECTION_STRING", "not a connection string")
	_, err := OpenStore(context.Background(), "aztables://acct/t")
	if err == nil || !strings.Contains(err.Error(), "AZURE_STORAGE_CONNECTION_STRING") || !strings.Contains(err.Error(), StateEnv) {
		t.Fatalf("bad connection string: %v", err)
	}
	t.Setenv("AZURE_STORAGE_CONNECTION_STRING", "")
	t.Setenv("AZURE_STORAGE_KEY", "%%% not base64")
	_, err = OpenStore(context.Background(), "aztables://acct/t")
	if err == nil || !strings.Contains(err.Error(), string(AuthAzureSharedKey)) || !strings.Contains(err.Error(), StateEnv) {
		t.Fatalf("bad key: %v", err)
	}
}
