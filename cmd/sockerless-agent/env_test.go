package main

import (
	"slices"
	"testing"
)

func TestMergeEnv(t *testing.T) {
	got := mergeEnv([]string{"PATH=/bin", "A=old", "HOME=/"}, []string{"A=1", "AWS_REGION=eu", "X="})
	want := []string{"PATH=/bin", "A=1", "HOME=/", "AWS_REGION=eu", "X="}
	if !slices.Equal(got, want) {
		t.Errorf("mergeEnv() = %q, want %q", got, want)
	}
}

func TestWorkloadEnvExpandsSockerlessEnv(t *testing.T) {
	t.Setenv("SOCKERLESS_ENV", `["A=1","AWS_LAMBDA_FUNCTION_NAME=mine"]`)
	t.Setenv("AWS_LAMBDA_FUNCTION_NAME", "platform")
	env := workloadEnv()
	if !slices.Contains(env, "A=1") || !slices.Contains(env, "AWS_LAMBDA_FUNCTION_NAME=mine") || slices.ContainsFunc(env, func(kv string) bool { return len(kv) > 11 && kv[:11] == "SOCKERLESS_" }) {
		t.Errorf("workloadEnv() = %q", env)
	}
}
