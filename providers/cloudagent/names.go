package cloudagent

import (
	"fmt"
	"regexp"
)

// DefaultNamePrefix starts the names of the cloud resources the providers
// make for workloads (ECS task definition families, Lambda functions and
// their log groups) when no prefix is configured.
const DefaultNamePrefix = "sockerless"

// namePrefixPattern is the deployments' name_prefix rule (terraform/aws
// variables.tf, pulumi/aws config.go): the workloads' names must start
// with the same prefix the deployment's IAM statements are scoped to.
var namePrefixPattern = regexp.MustCompile(`^[a-z][a-z0-9-]{1,18}[a-z0-9]$`)

// CheckNamePrefix validates a configured name prefix; variable names the
// environment variable it came from, for the error. Empty is allowed and
// means DefaultNamePrefix.
func CheckNamePrefix(variable, prefix string) error {
	if prefix == "" || namePrefixPattern.MatchString(prefix) {
		return nil
	}
	return fmt.Errorf("%s=%q: want 3 to 20 lowercase letters, digits and hyphens, starting with a letter (the deployment's name prefix, which its IAM statements are scoped to)", variable, prefix)
}

// NamePrefixOr returns prefix, or DefaultNamePrefix when it is empty.
func NamePrefixOr(prefix string) string {
	if prefix == "" {
		return DefaultNamePrefix
	}
	return prefix
}
