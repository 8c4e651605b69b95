package ecsfake

import (
	"context"
	"errors"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	"github.com/aws/aws-sdk-go-v2/service/ecs/types"
	"github.com/aws/smithy-go"
)

func client(t *testing.T) *ecs.Client {
	t.Helper()
	f := New(Options{Clusters: []string{"c"}})
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	return ecs.NewFromConfig(aws.Config{Region: "us-east-1", Credentials: credentials.NewStaticCredentialsProvider("a", "b", ""),
		BaseEndpoint: aws.String(srv.URL), RetryMaxAttempts: 1})
}

func def(mod func(*ecs.RegisterTaskDefinitionInput)) *ecs.RegisterTaskDefinitionInput {
	in := &ecs.RegisterTaskDefinitionInput{
		Family: aws.String("fam"), NetworkMode: types.NetworkModeAwsvpc, Cpu: aws.String("256"), Memory: aws.String("512"),
		RequiresCompatibilities: []types.Compatibility{types.CompatibilityFargate}, ExecutionRoleArn: aws.String("arn:aws:iam::1:role/e"),
		ContainerDefinitions: []types.ContainerDefinition{{Name: aws.String("main"), Image: aws.String("busybox")}},
	}
	if mod != nil {
		mod(in)
	}
	return in
}

// The fake refuses what ECS refuses, with ECS's exception types, as the
// SDK decodes them.
func TestRefusals(t *testing.T) {
	ctx := context.Background()
	c := client(t)
	cases := []struct {
		name     string
		call     func() error
		typ, msg string
	}{
		{"invalid Fargate pair", func() error {
			_, err := c.RegisterTaskDefinition(ctx, def(func(in *ecs.RegisterTaskDefinitionInput) { in.Memory = aws.String("4096") }))
			return err
		}, "ClientException", "No Fargate configuration exists for given values: 256 CPU, 4096 memory"},
		{"family pattern", func() error {
			_, err := c.RegisterTaskDefinition(ctx, def(func(in *ecs.RegisterTaskDefinitionInput) { in.Family = aws.String("a b") }))
			return err
		}, "ClientException", "Family name"},
		{"no containers", func() error {
			_, err := c.RegisterTaskDefinition(ctx, def(func(in *ecs.RegisterTaskDefinitionInput) { in.ContainerDefinitions = []types.ContainerDefinition{} }))
			return err
		}, "ClientException", "Container list cannot be empty"},
		{"bridge on Fargate", func() error {
			_, err := c.RegisterTaskDefinition(ctx, def(func(in *ecs.RegisterTaskDefinitionInput) { in.NetworkMode = types.NetworkModeBridge }))
			return err
		}, "ClientException", "awsvpc"},
		{"no task memory", func() error {
			_, err := c.RegisterTaskDefinition(ctx, def(func(in *ecs.RegisterTaskDefinitionInput) { in.Memory = nil }))
			return err
		}, "ClientException", "'memory'"},
		{"unknown cluster", func() error {
			_, err := c.RunTask(ctx, &ecs.RunTaskInput{Cluster: aws.String("nope"), TaskDefinition: aws.String("fam")})
			return err
		}, "ClusterNotFoundException", "Cluster not found"},
		{"unknown definition", func() error {
			_, err := c.RunTask(ctx, &ecs.RunTaskInput{Cluster: aws.String("c"), TaskDefinition: aws.String("missing")})
			return err
		}, "InvalidParameterException", "TaskDefinition not found"},
		{"awsvpc without network configuration", func() error {
			if _, err := c.RegisterTaskDefinition(ctx, def(nil)); err != nil {
				return err
			}
			_, err := c.RunTask(ctx, &ecs.RunTaskInput{Cluster: aws.String("c"), TaskDefinition: aws.String("fam"), LaunchType: types.LaunchTypeFargate})
			return err
		}, "InvalidParameterException", "Network Configuration must be provided"},
		{"deregister without revision", func() error {
			_, err := c.DeregisterTaskDefinition(ctx, &ecs.DeregisterTaskDefinitionInput{TaskDefinition: aws.String("fam")})
			return err
		}, "ClientException", "revision"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.call()
			var ae smithy.APIError
			if !errors.As(err, &ae) || ae.ErrorCode() != tc.typ || !strings.Contains(ae.ErrorMessage(), tc.msg) {
				t.Fatalf("error = %v; want %s mentioning %q", err, tc.typ, tc.msg)
			}
		})
	}
}

// Describing an unknown task is a MISSING failure, not an error.
func TestDescribeMissingTask(t *testing.T) {
	out, err := client(t).DescribeTasks(context.Background(), &ecs.DescribeTasksInput{Cluster: aws.String("c"), Tasks: []string{"0123"}})
	if err != nil {
		t.Fatal(err)
	}
	if len(out.Tasks) != 0 || len(out.Failures) != 1 || aws.ToString(out.Failures[0].Reason) != "MISSING" {
		t.Fatalf("DescribeTasks(unknown) = %+v, %+v", out.Tasks, out.Failures)
	}
}

// TestListTaskDefinitionFamilies: families by prefix and status, sorted,
// a page at a time through the SDK's paginator, as ECS answers them.
func TestListTaskDefinitionFamilies(t *testing.T) {
	ctx := context.Background()
	c := client(t)
	for _, fam := range []string{"sl-b", "sl-a", "sl-c", "other-a"} {
		if _, err := c.RegisterTaskDefinition(ctx, def(func(in *ecs.RegisterTaskDefinitionInput) { in.Family = aws.String(fam) })); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := c.DeregisterTaskDefinition(ctx, &ecs.DeregisterTaskDefinitionInput{TaskDefinition: aws.String("sl-c:1")}); err != nil {
		t.Fatal(err)
	}
	list := func(status types.TaskDefinitionFamilyStatus) []string {
		var got []string
		pages := ecs.NewListTaskDefinitionFamiliesPaginator(c, &ecs.ListTaskDefinitionFamiliesInput{FamilyPrefix: aws.String("sl-"), Status: status, MaxResults: aws.Int32(1)})
		for pages.HasMorePages() {
			out, err := pages.NextPage(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if len(out.Families) > 1 {
				t.Fatalf("page of %d families, want at most maxResults 1", len(out.Families))
			}
			got = append(got, out.Families...)
		}
		return got
	}
	for _, tc := range []struct {
		status types.TaskDefinitionFamilyStatus
		want   string
	}{
		{types.TaskDefinitionFamilyStatusActive, "sl-a sl-b"},
		{types.TaskDefinitionFamilyStatusInactive, "sl-c"},
		{types.TaskDefinitionFamilyStatusAll, "sl-a sl-b sl-c"},
	} {
		if got := strings.Join(list(tc.status), " "); got != tc.want {
			t.Errorf("families %s = %q, want %q", tc.status, got, tc.want)
		}
	}
	_, err := c.ListTaskDefinitionFamilies(ctx, &ecs.ListTaskDefinitionFamiliesInput{MaxResults: aws.Int32(101)})
	var inv *types.InvalidParameterException
	if !errors.As(err, &inv) {
		t.Errorf("maxResults 101: %v, want InvalidParameterException", err)
	}
}
