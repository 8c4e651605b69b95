package fnserver

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"strings"
	"time"

	aztablessdk "github.com/Azure/azure-sdk-for-go/sdk/data/aztables"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	dynamodbsdk "github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"google.golang.org/api/option"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/sockerless/sockerless/statestore"
	"github.com/sockerless/sockerless/statestore/aztables"
	"github.com/sockerless/sockerless/statestore/dynamodb"
	"github.com/sockerless/sockerless/statestore/firestore"
	"github.com/sockerless/sockerless/statestore/memory"
)

// StateEnv is the variable that selects the state store; errors name it.
const StateEnv = "SOCKERLESS_STATE"

// StoreCheckTimeout bounds the call that checks, at start, that the
// selected state store answers.
var StoreCheckTimeout = 30 * time.Second

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

// OpenStore opens the state store s names and checks that it answers (one
// List of at most one record, creating the table where the store does so
// on first use), so that a wrong URL or an unreachable store fails at
// start.
func OpenStore(ctx context.Context, s string) (statestore.Store, error) {
	spec, err := ParseStoreSpec(s)
	if err != nil {
		return nil, err
	}
	store, err := spec.open(ctx)
	if err != nil {
		return nil, fmt.Errorf("%s=%q: %w", StateEnv, s, err)
	}
	cctx, cancel := context.WithTimeout(ctx, StoreCheckTimeout)
	defer cancel()
	if _, err := store.List(cctx, "sockerless-check", statestore.ListOptions{Limit: 1}); err != nil {
		_ = store.Close()
		if cctx.Err() != nil {
			return nil, fmt.Errorf("%s=%q: store did not answer within %v: %w", StateEnv, s, StoreCheckTimeout, err)
		}
		return nil, fmt.Errorf("%s=%q: store unusable: %w", StateEnv, s, err)
	}
	return store, nil
}

func (spec StoreSpec) open(ctx context.Context) (statestore.Store, error) {
	switch spec.Scheme {
	case "memory":
		return memory.New(), nil
	case "dynamodb":
		opts := dynamodb.Options{Table: spec.Table, Region: spec.Region, Endpoint: spec.Endpoint}
		if spec.Endpoint == "" {
			client, err := awsClient(spec.Region)
			if err != nil {
				return nil, err
			}
			opts.Client = client
		}
		return dynamodb.New(opts)
	case "firestore":
		opts := firestore.Options{ProjectID: spec.Project, DatabaseID: spec.Database}
		var conn *grpc.ClientConn
		if spec.Endpoint != "" {
			var err error
			conn, err = grpc.NewClient(spec.Endpoint,
				grpc.WithTransportCredentials(insecure.NewCredentials()),
				grpc.WithPerRPCCredentials(emulatorCreds{}))
			if err != nil {
				return nil, fmt.Errorf("firestore emulator %s: %w", spec.Endpoint, err)
			}
			opts.ClientOptions = []option.ClientOption{option.WithGRPCConn(conn)}
		}
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
		opts := aztables.Options{Table: spec.Table}
		if spec.Endpoint != "" {
			ep := strings.TrimSuffix(spec.Endpoint, "/")
			if u, _ := url.Parse(ep); u != nil && u.Path == "" {
				ep += "/" + spec.Account // Azurite serves accounts under a path
			}
			opts.ConnectionString = fmt.Sprintf("DefaultEndpointsProtocol=http;AccountName=%s;AccountKey=%s;TableEndpoint=%s;",
				spec.Account, azuriteKey, ep)
		} else {
			// TODO: azidentity.NewDefaultAzureCredential (Entra ID) once
			// github.com/Azure/azure-sdk-for-go/sdk/azidentity is a direct
			// dependency; until then the account key.
			key := os.Getenv("AZURE_STORAGE_KEY")
			if key == "" {
				return nil, errors.New("no Azure credentials: set AZURE_STORAGE_KEY")
			}
			cred, err := aztablessdk.NewSharedKeyCredential(spec.Account, key)
			if err != nil {
				return nil, fmt.Errorf("azure credentials: %w", err)
			}
			svc, err := aztablessdk.NewServiceClientWithSharedKey("https://"+spec.Account+".table.core.windows.net/", cred, nil)
			if err != nil {
				return nil, err
			}
			opts.Client = svc
		}
		return aztables.New(opts)
	}
	return nil, fmt.Errorf("unknown store %q", spec.Scheme)
}

// awsClient builds a DynamoDB client for the AWS service. The region comes
// from the URL, else AWS_REGION or AWS_DEFAULT_REGION; credentials from
// AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and AWS_SESSION_TOKEN.
//
// TODO: the full default chain (shared config, SSO, instance roles) needs
// github.com/aws/aws-sdk-go-v2/config, not yet a dependency.
func awsClient(region string) (*dynamodbsdk.Client, error) {
	if region == "" {
		region = os.Getenv("AWS_REGION")
	}
	if region == "" {
		region = os.Getenv("AWS_DEFAULT_REGION")
	}
	if region == "" {
		return nil, errors.New("no AWS region: add ?region=R or set AWS_REGION")
	}
	id, secret := os.Getenv("AWS_ACCESS_KEY_ID"), os.Getenv("AWS_SECRET_ACCESS_KEY")
	if id == "" || secret == "" {
		return nil, errors.New("no AWS credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY")
	}
	return dynamodbsdk.New(dynamodbsdk.Options{
		Region:      region,
		Credentials: aws.NewCredentialsCache(credentials.NewStaticCredentialsProvider(id, secret, os.Getenv("AWS_SESSION_TOKEN"))),
	}), nil
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
