package localshim

import (
	"context"
	"encoding/json"
	"net/url"
	"regexp"
)

// imageIDRef matches a create's image given by ID (full or short), as
// GitLab Runner gives it (the ID of the image it inspected or loaded).
var imageIDRef = regexp.MustCompile(`^(sha256:)?[0-9a-f]{12,64}$`)

// runnableImage rewrites a create body whose Config.Image is an image ID
// into a reference a cloud workload can pull: the image's first digest
// reference, else its first tag. A workload of a cloud provider pulls
// its image from a registry, which knows images by name, not by the ID of
// a config; an ID with no name is left as it is (the provider answers).
// Only for providers whose workloads do not run on this host
// (carriesVolumes tells them apart).
func (s *Shim) runnableImage(ctx context.Context, body []byte) []byte {
	var top map[string]json.RawMessage
	if json.Unmarshal(body, &top) != nil {
		return body
	}
	var img string
	if json.Unmarshal(top["Image"], &img) != nil || !imageIDRef.MatchString(img) {
		return body
	}
	var info struct{ RepoTags, RepoDigests []string }
	if err := s.getJSON(ctx, "/images/"+url.PathEscape(img)+"/json", &info); err != nil {
		return body
	}
	ref := ""
	switch {
	case len(info.RepoDigests) > 0:
		ref = info.RepoDigests[0]
	case len(info.RepoTags) > 0:
		ref = info.RepoTags[0]
	default:
		return body
	}
	raw, err := json.Marshal(ref)
	if err != nil {
		return body
	}
	top["Image"] = raw
	out, err := json.Marshal(top)
	if err != nil {
		return body
	}
	return out
}
