package fnserver

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
	aztablessdk "github.com/Azure/azure-sdk-for-go/sdk/data/aztables"
	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	dynamodbsdk "github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"google.golang.org/api/option"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/sockerless/sockerless/statestore"
	"github.com/sockerless/sockerless/statestore/aztables"
	"github.com/sockerless/sockerless/statestore/bounded"
	"github.com/sockerless/sockerless/statestore/dynamodb"
	"github.com/sockerless/sockerless/statestore/firestore"
	"github.com/sockerless/sockerless/statestore/memory"
)

// StateEnv is the variable that selects the state store; errors name it.
const StateEnv = "SOCKERLESS_STATE"

// Azurite's well-known development account key (public, documented by
// Microsoft); used when an aztables:// URL names an endpoint.
const azuriteKey = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="

// StoreSpec is a parsed SOCKERLESS_STATE value.
//
//	memory
//	dynamodb://TABLE?region=R&endpoint=http://127.0.0.1:PORT
//	firestore://PROJECT[/DATABASE]?endpoint=127.0.0.1:PORT
//	aztables://ACCOUNT/TABLE?endpoint=http://127.0.0.1:PORT
//
// Without endpoint the store is the cloud service, with the platform's
// usual credentials.
type StoreSpec struct {
	// Scheme is "memory", "dynamodb", "firestore" or "aztables".
	Scheme string
	// Table is the DynamoDB or Azure table.
	Table string
	// Region is the AWS region (dynamodb).
	Region string
	// Project and Database name the Firestore database ("" is the default
	// database).
	Project, Database string
	// Account is the Azure storage account.
	Account string
	// Endpoint is an emulator (or compatible service): a URL for dynamodb
	// and aztables, host:port for firestore.
	Endpoint string
}

// ParseStoreSpec parses a SOCKERLESS_STATE value; "" is memory.
func ParseStoreSpec(s string) (StoreSpec, error) {
	bad := func(format string, a ...any) (StoreSpec, error) {
		return StoreSpec{}, fmt.Errorf("%s=%q: %s", StateEnv, s, fmt.Sprintf(format, a...))
	}
	if s == "" || s == "memory" {
		return StoreSpec{Scheme: "memory"}, nil
	}
	u, err := url.Parse(s)
	if err != nil {
		return bad("not a URL: %v", err)
	}
	if u.Scheme == "" {
		return bad("want memory, dynamodb://TABLE, firestore://PROJECT[/DATABASE] or aztables://ACCOUNT/TABLE")
	}
	if u.User != nil || u.Fragment != "" || u.Opaque != "" {
		return bad("unexpected user, fragment or opaque part")
	}
	q, err := url.ParseQuery(u.RawQuery)
	if err != nil {
		return bad("bad query: %v", err)
	}
	spec := StoreSpec{Scheme: u.Scheme}
	allowed := map[string]*string{"endpoint": &spec.Endpoint}
	path := strings.TrimPrefix(u.Path, "/")
	if u.Port() != "" {
		return bad("unexpected port in %q", u.Host)
	}
	switch u.Scheme {
	case "dynamodb":
		allowed["region"] = &spec.Region
		spec.Table = u.Host
		if spec.Table == "" {
			return bad("missing table: want dynamodb://TABLE")
		}
		if path != "" {
			return bad("unexpected path %q: want dynamodb://TABLE", u.Path)
		}
	case "firestore":
		spec.Project = u.Host
		if spec.Project == "" {
			return bad("missing project: want firestore://PROJECT[/DATABASE]")
		}
		if strings.Contains(path, "/") {
			return bad("unexpected path %q: want firestore://PROJECT[/DATABASE]", u.Path)
		}
		spec.Database = path
	case "aztables":
		spec.Account = u.Host
		spec.Table = path
		if spec.Account == "" || spec.Table == "" || strings.Contains(path, "/") {
			return bad("want aztables://ACCOUNT/TABLE")
		}
	default:
		return bad("unknown store %q: want memory, dynamodb, firestore or aztables", u.Scheme)
	}
	for k, v := range q {
		p, ok := allowed[k]
		if !ok {
			return bad("unknown parameter %q", k)
		}
		if len(v) != 1 || v[0] == "" {
			return bad("parameter %q needs exactly one non-empty value", k)
		}
		*p = v[0]
	}
	if spec.Endpoint != "" {
		switch spec.Scheme {
		case "dynamodb", "aztables":
			e, err := url.Parse(spec.Endpoint)
			if err != nil || (e.Scheme != "http" && e.Scheme != "https") || e.Host == "" {
				return bad("endpoint %q: want http://HOST:PORT", spec.Endpoint)
			}
		case "firestore":
			if strings.Contains(spec.Endpoint, "/") || !strings.Contains(spec.Endpoint, ":") {
				return bad("endpoint %q: want HOST:PORT", spec.Endpoint)
			}
		}
	}
	return spec, nil
}

// Auth names how a store authenticates to its service; StorePlan reports
// it so that tests and the start-up log can tell which path was chosen.
type Auth string

// The ways a store authenticates.
const (
	// AuthNone is the memory store's: nothing to authenticate to.
	AuthNone Auth = "none"
	// AuthEmulatorStatic is DynamoDB Local's: static dummy keys.
	AuthEmulatorStatic Auth = "static emulator keys"
	// AuthAWSDefaultChain is the AWS SDK's default credential chain
	// (environment, shared config and credentials files, SSO, web
	// identity, ECS container and EC2 instance roles).
	AuthAWSDefaultChain Auth = "AWS default credential chain"
	// AuthEmulatorOwner is the Firestore emulator's: "Bearer owner".
	AuthEmulatorOwner Auth = "Firestore emulator owner"
	// AuthGoogleADC is Google Application Default Credentials
	// (GOOGLE_APPLICATION_CREDENTIALS, gcloud's user credentials, the
	// metadata server of Cloud Run, GCE and GKE).
	AuthGoogleADC Auth = "Google Application Default Credentials"
	// AuthAzureSharedKey is an account key: AZURE_STORAGE_KEY, or for an
	// endpoint without it Azurite's well-known development key.
	AuthAzureSharedKey Auth = "Azure shared key"
	// AuthAzureConnectionString is AZURE_STORAGE_CONNECTION_STRING.
	AuthAzureConnectionString Auth = "AZURE_STORAGE_CONNECTION_STRING"
	// AuthAzureDefault is azidentity.DefaultAzureCredential (environment,
	// workload identity, managed identity, Azure CLI, azd, PowerShell).
	AuthAzureDefault Auth = "DefaultAzureCredential"
)

// StorePlan is what OpenStore will do for a StoreSpec: where it connects
// and how it authenticates. Working it out reads only the environment.
type StorePlan struct {
	Spec StoreSpec
	// Auth is how the store authenticates.
	Auth Auth
	// Region is the AWS region (dynamodb; from the URL, AWS_REGION,
	// AWS_DEFAULT_REGION or the shared config's profile), "" when the AWS
	// SDK resolves it itself from the shared config.
	Region string
	// ServiceURL is the Azure table service URL (aztables).
	ServiceURL string
}

// Getenv looks up an environment variable; os.Getenv in production,
// a map in tests.
type Getenv func(string) string

// Plan works out how spec's store is reached, reading credentials
// settings through getenv (nil means os.Getenv). It fails when the choice
// is already known to be unusable, such as DynamoDB without any region.
func (spec StoreSpec) Plan(getenv Getenv) (StorePlan, error) {
	if getenv == nil {
		getenv = os.Getenv
	}
	p := StorePlan{Spec: spec}
	switch spec.Scheme {
	case "memory":
		p.Auth = AuthNone
	case "dynamodb":
		p.Region = spec.Region
		if spec.Endpoint != "" {
			p.Auth = AuthEmulatorStatic
			if p.Region == "" {
				p.Region = "us-east-1"
			}
			break
		}
		p.Auth = AuthAWSDefaultChain
		if p.Region == "" {
			p.Region = getenv("AWS_REGION")
		}
		if p.Region == "" {
			p.Region = getenv("AWS_DEFAULT_REGION")
		}
		// Otherwise the shared config's profile may name one; the SDK
		// reads it and open checks that it did.
	case "firestore":
		p.Auth = AuthGoogleADC
		if spec.Endpoint != "" {
			p.Auth = AuthEmulatorOwner
		}
	case "aztables":
		switch {
		case spec.Endpoint != "":
			p.Auth = AuthAzureSharedKey
			ep := strings.TrimSuffix(spec.Endpoint, "/")
			if u, _ := url.Parse(ep); u != nil && u.Path == "" {
				ep += "/" + spec.Account // Azurite serves accounts under a path
			}
			p.ServiceURL = ep + "/"
		case getenv("AZURE_STORAGE_CONNECTION_STRING") != "":
			p.Auth = AuthAzureConnectionString
		case getenv("AZURE_STORAGE_KEY") != "":
			p.Auth = AuthAzureSharedKey
		default:
			p.Auth = AuthAzureDefault
		}
		if p.ServiceURL == "" && p.Auth != AuthAzureConnectionString {
			p.ServiceURL = "https://" + spec.Account + ".table.core.windows.net/"
		}
	default:
		return p, fmt.Errorf("unknown store %q", spec.Scheme)
	}
	return p, nil
}

// StoreOptions tune OpenStoreWith.
type StoreOptions struct {
	// CheckTimeout bounds the call that checks, at start, that the store
	// answers. Default DefaultStoreCheckTimeout.
	CheckTimeout time.Duration
	// CallTimeout bounds every later call of a store other than memory
	// (see package bounded); default bounded.DefaultTimeout.
	CallTimeout time.Duration
	// Getenv reads credentials settings; nil means os.Getenv. (The cloud
	// SDKs' own credential chains still read the process environment.)
	Getenv Getenv
}

// DefaultStoreCheckTimeout bounds the call that checks, at start, that the
// selected state store answers.
const DefaultStoreCheckTimeout = 30 * time.Second

// OpenStore opens the state store s names and checks that it answers (one
// List of at most one record, creating the table where the store does so
// on first use), so that a wrong URL, missing credentials or an
// unreachable store fail at start with an error naming SOCKERLESS_STATE.
func OpenStore(ctx context.Context, s string) (statestore.Store, error) {
	return OpenStoreWith(ctx, s, StoreOptions{})
}

// OpenStoreWith is OpenStore with options.
func OpenStoreWith(ctx context.Context, s string, o StoreOptions) (statestore.Store, error) {
	if o.CheckTimeout <= 0 {
		o.CheckTimeout = DefaultStoreCheckTimeout
	}
	spec, err := ParseStoreSpec(s)
	if err != nil {
		return nil, err
	}
	plan, err := spec.Plan(o.Getenv)
	if err != nil {
		return nil, fmt.Errorf("%s=%q: %w", StateEnv, s, err)
	}
	store, err := plan.open(ctx, o.Getenv)
	if err != nil {
		return nil, fmt.Errorf("%s=%q (%s): %w", StateEnv, s, plan.Auth, err)
	}
	cctx, cancel := context.WithTimeout(ctx, o.CheckTimeout)
	defer cancel()
	if _, err := store.List(cctx, "sockerless-check", statestore.ListOptions{Limit: 1}); err != nil {
		_ = store.Close()
		if cctx.Err() != nil {
			return nil, fmt.Errorf("%s=%q (%s): store did not answer within %v: %w", StateEnv, s, plan.Auth, o.CheckTimeout, err)
		}
		return nil, fmt.Errorf("%s=%q (%s): store unusable: %w", StateEnv, s, plan.Auth, err)
	}
	if spec.Scheme == "memory" {
		return store, nil // in-process: it cannot hang on a network
	}
	// A store that stops answering must not hang every request.
	return bounded.New(store, spec.Scheme, o.CallTimeout), nil
}

func (p StorePlan) open(ctx context.Context, getenv Getenv) (statestore.Store, error) {
	if getenv == nil {
		getenv = os.Getenv
	}
	spec := p.Spec
	switch spec.Scheme {
	case "memory":
		return memory.New(), nil
	case "dynamodb":
		opts := dynamodb.Options{Table: spec.Table, Region: p.Region, Endpoint: spec.Endpoint}
		if p.Auth == AuthAWSDefaultChain {
			cfg, err := awsConfig(ctx, p.Region)
			if err != nil {
				return nil, err
			}
			opts.Client = dynamodbsdk.NewFromConfig(cfg)
		}
		return dynamodb.New(opts)
	case "firestore":
		opts := firestore.Options{ProjectID: spec.Project, DatabaseID: spec.Database}
		var conn *grpc.ClientConn
		if p.Auth == AuthEmulatorOwner {
			var err error
			conn, err = grpc.NewClient(spec.Endpoint,
				grpc.WithTransportCredentials(insecure.NewCredentials()),
				grpc.WithPerRPCCredentials(emulatorCreds{}))
			if err != nil {
				return nil, fmt.Errorf("firestore emulator %s: %w", spec.Endpoint, err)
			}
			opts.ClientOptions = []option.ClientOption{option.WithGRPCConn(conn)}
		}
		// Otherwise the client finds Application Default Credentials
		// itself (or FIRESTORE_EMULATOR_HOST, if set).
		st, err := firestore.New(ctx, opts)
		if err != nil {
			if conn != nil {
				_ = conn.Close()
			}
			return nil, err
		}
		if conn != nil {
			return closeAlso{st, conn.Close}, nil
		}
		return st, nil
	case "aztables":
		svc, err := p.azureClient(getenv)
		if err != nil {
			return nil, err
		}
		return aztables.New(aztables.Options{Table: spec.Table, Client: svc})
	}
	return nil, fmt.Errorf("unknown store %q", spec.Scheme)
}

// azureClient builds the table service client the plan names.
func (p StorePlan) azureClient(getenv Getenv) (*aztablessdk.ServiceClient, error) {
	switch p.Auth {
	case AuthAzureConnectionString:
		svc, err := aztablessdk.NewServiceClientFromConnectionString(getenv("AZURE_STORAGE_CONNECTION_STRING"), nil)
		if err != nil {
			return nil, fmt.Errorf("AZURE_STORAGE_CONNECTION_STRING: %w", err)
		}
		return svc, nil
	case AuthAzureSharedKey:
		key := getenv("AZURE_STORAGE_KEY")
		if key == "" {
			key = azuriteKey
		}
		cred, err := aztablessdk.NewSharedKeyCredential(p.Spec.Account, key)
		if err != nil {
			return nil, fmt.Errorf("azure shared key: %w", err)
		}
		return aztablessdk.NewServiceClientWithSharedKey(p.ServiceURL, cred, nil)
	case AuthAzureDefault:
		cred, err := azidentity.NewDefaultAzureCredential(nil)
		if err != nil {
			return nil, fmt.Errorf("DefaultAzureCredential: %w", err)
		}
		return aztablessdk.NewServiceClient(p.ServiceURL, cred, nil)
	}
	return nil, fmt.Errorf("no Azure client for %s", p.Auth)
}

// awsConfig loads the AWS SDK's default configuration (credential chain,
// shared config files) for region, which may be "" to take the shared
// config's; it fails when no region is known at all.
func awsConfig(ctx context.Context, region string) (aws.Config, error) {
	var opts []func(*awsconfig.LoadOptions) error
	if region != "" {
		opts = append(opts, awsconfig.WithRegion(region))
	}
	cfg, err := awsconfig.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return aws.Config{}, fmt.Errorf("AWS configuration: %w", err)
	}
	if cfg.Region == "" {
		return aws.Config{}, errors.New("no AWS region: add ?region=R, set AWS_REGION or name one in the profile")
	}
	return cfg, nil
}

// emulatorCreds authenticates to the Firestore emulator as its owner, as
// the Firestore client does for FIRESTORE_EMULATOR_HOST.
type emulatorCreds struct{}

func (emulatorCreds) GetRequestMetadata(context.Context, ...string) (map[string]string, error) {
	return map[string]string{"authorization": "Bearer owner"}, nil
}

func (emulatorCreds) RequireTransportSecurity() bool { return false }

// closeAlso is a store that releases one more resource on Close.
type closeAlso struct {
	statestore.Store
	also func() error
}

func (c closeAlso) Close() error {
	return errors.Join(c.Store.Close(), c.also())
}
