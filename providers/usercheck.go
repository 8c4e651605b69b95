package providers

import "context"

// UserChecker is an optional extension for a provider that can read a
// workload's /etc/passwd: exec create checks the exec's user with it, as
// Docker does (400 "unable to find user …" before any exec exists).
// Providers whose workloads' files are remote do not implement it; their
// exec then fails when it starts.
type UserChecker interface {
	// CheckUser reports, as an InvalidParameter error, that the user part
	// of user ("name", "uid", "name:group") names nobody in container
	// id's /etc/passwd. Numeric users always pass; the group is not
	// checked (Docker checks it when the process starts).
	CheckUser(ctx context.Context, id, user string) error
}
