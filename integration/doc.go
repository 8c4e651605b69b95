// Package integration holds end-to-end tests that drive Sockerless with
// real clients nobody here wrote: the docker CLI, the Docker Go SDK and
// python3-docker. The package itself has no code beyond this comment.
package integration
