package cloudagent

import (
	"context"
	"encoding/base64"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecr"
	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/sockerless/sockerless/internal/errdefs"
)

// ECRAuth returns an Authenticator that answers the token of ECR's
// GetAuthorizationToken for registryHost (the account's registry, where
// the repository is) and anonymous for every other registry. The token
// is reused until shortly before it expires.
func ECRAuth(client *ecr.Client, registryHost string) Authenticator {
	var mu sync.Mutex
	var cached authn.Authenticator
	var until time.Time
	return func(ctx context.Context, reg string) (authn.Authenticator, error) {
		if reg != registryHost {
			return authn.Anonymous, nil
		}
		mu.Lock()
		defer mu.Unlock()
		if cached != nil && time.Now().Before(until) {
			return cached, nil
		}
		out, err := client.GetAuthorizationToken(ctx, &ecr.GetAuthorizationTokenInput{})
		if err != nil {
			return nil, errdefs.Unavailable(fmt.Errorf("ecr: get authorization token: %w", err))
		}
		if len(out.AuthorizationData) == 0 {
			return nil, errdefs.Unavailablef("ecr: get authorization token: no authorization data")
		}
		d := out.AuthorizationData[0]
		raw, err := base64.StdEncoding.DecodeString(aws.ToString(d.AuthorizationToken))
		if err != nil {
			return nil, errdefs.Unavailable(fmt.Errorf("ecr: authorization token: %w", err))
		}
		user, pass, ok := strings.Cut(string(raw), ":")
		if !ok {
			return nil, errdefs.Unavailablef("ecr: authorization token is not USER:PASSWORD")
		}
		cached = authn.FromConfig(authn.AuthConfig{Username: user, Password: pass})
		until = time.Now().Add(time.Hour)
		if d.ExpiresAt != nil {
			until = d.ExpiresAt.Add(-5 * time.Minute)
		}
		return cached, nil
	}
}
