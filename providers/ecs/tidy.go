package ecs

import (
	"context"
	"slices"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	"github.com/aws/aws-sdk-go-v2/service/ecs/types"
	"github.com/sockerless/sockerless/providers/cloudagent"
)

// Bounds of one Tidy call, so it fits in any sweep: definitions
// described, and deregistered.
const (
	maxTidyDescribes    = 32
	maxTidyDeregistered = 16
)

// Tidy implements providers.Tidier. Task definitions are kept after
// `docker rm` so that the next container of the same image and settings
// runs without registering one (RegisterTaskDefinition is rate-limited
// and costs two calls a run); Tidy deregisters those of this deployment
// (named NamePrefix-...) that no task listed by ECS uses — none running,
// none stopped recently enough for ECS to still list it (about an hour) —
// and that were registered longer than Config.DefinitionIdle ago. A start
// that finds its definition deregistered meanwhile registers it again.
//
// # Errors
//
// Docker-shaped (classify) errors of the ECS calls; what was deregistered
// before the failure is returned with it.
func (p *Provider) Tidy(ctx context.Context) ([]string, error) {
	used, err := p.familiesInUse(ctx)
	if err != nil {
		return nil, err
	}
	prefix := cloudagent.NamePrefixOr(p.opts.Config.NamePrefix) + "-"
	cutoff := time.Now().Add(-p.opts.Config.DefinitionIdle)
	var done []string
	described := 0
	var token *string
	for {
		out, err := p.ecs.ListTaskDefinitionFamilies(ctx, &ecs.ListTaskDefinitionFamiliesInput{
			FamilyPrefix: aws.String(prefix), Status: types.TaskDefinitionFamilyStatusActive, NextToken: token})
		if err != nil {
			return done, classify("list task definition families", err)
		}
		for _, f := range out.Families {
			if used[f] {
				continue
			}
			if described == maxTidyDescribes || len(done) == maxTidyDeregistered {
				return done, nil
			}
			described++
			d, err := p.ecs.DescribeTaskDefinition(ctx, &ecs.DescribeTaskDefinitionInput{TaskDefinition: aws.String(f)})
			if err != nil {
				return done, classify("describe task definition", err)
			}
			td := d.TaskDefinition
			if td == nil || td.Status != types.TaskDefinitionStatusActive || td.RegisteredAt == nil || td.RegisteredAt.After(cutoff) {
				continue
			}
			if _, err := p.ecs.DeregisterTaskDefinition(ctx, &ecs.DeregisterTaskDefinitionInput{TaskDefinition: td.TaskDefinitionArn}); err != nil {
				return done, classify("deregister task definition", err)
			}
			p.mu.Lock()
			delete(p.defs, f)
			p.mu.Unlock()
			done = append(done, aws.ToString(td.TaskDefinitionArn))
		}
		if out.NextToken == nil {
			return done, nil
		}
		token = out.NextToken
	}
}

// familiesInUse are the task definition families of every task ECS lists
// in the cluster: running or pending, and stopped but still listed.
func (p *Provider) familiesInUse(ctx context.Context) (map[string]bool, error) {
	used := map[string]bool{}
	for _, status := range []types.DesiredStatus{types.DesiredStatusRunning, types.DesiredStatusStopped} {
		var token *string
		for {
			out, err := p.ecs.ListTasks(ctx, &ecs.ListTasksInput{Cluster: aws.String(p.opts.Config.Cluster), DesiredStatus: status, NextToken: token})
			if err != nil {
				return nil, classify("list tasks", err)
			}
			for batch := range slices.Chunk(out.TaskArns, 100) {
				d, err := p.ecs.DescribeTasks(ctx, &ecs.DescribeTasksInput{Cluster: aws.String(p.opts.Config.Cluster), Tasks: batch})
				if err != nil {
					return nil, classify("describe tasks", err)
				}
				for _, t := range d.Tasks {
					if t.TaskDefinitionArn != nil {
						used[familyOf(*t.TaskDefinitionArn)] = true
					}
				}
			}
			if out.NextToken == nil {
				break
			}
			token = out.NextToken
		}
	}
	return used, nil
}
