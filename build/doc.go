// Package build is Docker's classic builder (POST /build) for providers
// that run image filesystems themselves: it reads a build context tar,
// parses the Dockerfile with BuildKit's parser and instructions packages,
// and executes each stage in a directory of its own — base image layers
// unpacked, RUN steps run through a providers.RootRunner, COPY and ADD
// written through package rootfs so nothing lands outside the root. After
// every filesystem step the directory is compared with a snapshot taken
// before it; what changed becomes a layer (a tar with OCI whiteouts for
// what was removed) in the layer store, so a built image has a real
// config and real layers that docker run, history, inspect and a later
// FROM use like a loaded image's.
//
// A build is two calls: [Builder.Prepare] reads the context and checks
// the whole Dockerfile (errors here are ordinary HTTP errors), then
// [Plan.Run] executes it, writing Docker's classic progress lines.
package build
