package ecs

import (
	"context"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsecs "github.com/aws/aws-sdk-go-v2/service/ecs"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// Start runs the definition its instance's Create resolved, without
// resolving the image again (Docker runs the image resolved at create,
// even when its tag has moved since), also when functions created the
// workload again in between; a Start on another instance, or after
// docker update changed the limits, resolves it again.
func TestStartRunsTheCreatedDefinition(t *testing.T) {
	e := setup(t, nil)
	opts := e.p.opts
	opts.Link.Dialer = agentUp{}
	ctx := context.Background()
	base := spec(e.image)
	base.Cmd = []string{"sleep", "infinity"}

	cases := []struct {
		name string
		// fresh starts on an instance that did not have the create.
		fresh bool
		// memory is the limit at start (docker update after create).
		memory int64
		// recreate: functions creates the workload again before the
		// start (reconcileWorkload, for a container with no task).
		recreate bool
		// imageID is filled in before the repeated create (functions
		// does so after the first; not part of the definition).
		imageID string
		// moved is whether the task must run the image the tag has
		// moved to.
		moved bool
	}{
		{"same instance", false, 0, false, "", false},
		{"same instance, created again", false, 0, true, "", false},
		{"same instance, created again with its image id filled in", false, 0, true, "sha256:" + strings.Repeat("0", 64), false},
		{"another instance", true, 0, false, "", true},
		{"limits updated", false, 2 << 30, false, "", true},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p, err := New(opts)
			if err != nil {
				t.Fatal(err)
			}
			s := base
			s.ID = string(rune('a'+i)) + s.ID[1:]
			if err := p.Create(ctx, s); err != nil {
				t.Fatal(err)
			}
			// The tag moves after the create.
			img, err := random.Image(512, 1)
			if err != nil {
				t.Fatal(err)
			}
			ref, _ := name.ParseReference(e.image)
			if err := remote.Write(ref, img); err != nil {
				t.Fatal(err)
			}
			if tc.fresh {
				if p, err = New(opts); err != nil {
					t.Fatal(err)
				}
			}
			s.ImageID = tc.imageID
			if tc.recreate {
				if err := p.Create(ctx, s); err != nil {
					t.Fatal(err)
				}
			}
			s.Memory = tc.memory
			if err := p.Start(ctx, s); err != nil {
				t.Fatal(err)
			}
			task, err := p.latestTask(ctx, s.ID)
			if err != nil {
				t.Fatal(err)
			}
			def, err := p.ecs.DescribeTaskDefinition(ctx, &awsecs.DescribeTaskDefinitionInput{TaskDefinition: task.TaskDefinitionArn})
			if err != nil {
				t.Fatal(err)
			}
			image := aws.ToString(def.TaskDefinition.ContainerDefinitions[0].Image)
			inj, err := p.opts.Injector.Inject(ctx, e.image)
			if err != nil {
				t.Fatal(err)
			}
			if got := image == inj.Ref; got != tc.moved {
				t.Fatalf("task image %s, the moved tag's injection %s: same = %v, want %v", image, inj.Ref, got, tc.moved)
			}
			if err := p.Remove(ctx, s.ID); err != nil {
				t.Fatal(err)
			}
		})
	}
}
