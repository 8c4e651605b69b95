// Package cloudagent is what the cloud providers (ecs, lambda) share to
// put the sockerless agent into a workload and talk to it.
//
// Injection: the agent binary becomes one small image layer appended to
// the user's image (go-containerregistry's mutate), pushed to the
// account's registry (ECR). The user's layers are mounted across
// repositories, never uploaded again; the agent layer is byte-for-byte
// the same for every image, so after the first push it is mounted too.
// The result is tagged by the agent layer's and the user image's digests:
// a second injection of the same image finds the tag and uploads nothing.
//
// Link: a cloud workload's agent dials the relay itself. Start waits for
// it by opening a harmless session through the relay (a stat of "/"),
// which the relay holds until the agent is connected and the agent
// answers; signals reach the main process as Signal frames of an attach
// session, since neither ECS nor Lambda can signal a process.
package cloudagent
