package integration

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

// blobSize is above Lambda's 6 MB request limit.
const blobSize = 8 << 20

// randomFile is n uncompressible bytes and their sha256.
func randomFile(t *testing.T, n int) ([]byte, string) {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(b)
	return b, hex.EncodeToString(sum[:])
}

// bigImageArchive writes a docker-save archive of image tag whose one
// layer holds /data/blob.bin (data), and returns its path.
func bigImageArchive(t *testing.T, tag string, data []byte) string {
	t.Helper()
	var layerTar bytes.Buffer
	tw := tar.NewWriter(&layerTar)
	for _, h := range []*tar.Header{
		{Name: "data/", Typeflag: tar.TypeDir, Mode: 0o755},
		{Name: "data/blob.bin", Typeflag: tar.TypeReg, Mode: 0o644, Size: int64(len(data))},
	} {
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := tw.Write(data); err != nil {
		t.Fatal(err)
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	layerBytes := layerTar.Bytes()
	layer, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(layerBytes)), nil })
	if err != nil {
		t.Fatal(err)
	}
	img, err := mutate.AppendLayers(empty.Image, layer)
	if err != nil {
		t.Fatal(err)
	}
	img, err = mutate.Config(img, v1.Config{Env: []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"}, Cmd: []string{"sha256sum", "/data/blob.bin"}})
	if err != nil {
		t.Fatal(err)
	}
	img = mutate.ConfigMediaType(img, "application/vnd.docker.container.image.v1+json")
	ref, err := name.NewTag(tag)
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "image.tar")
	if err := tarball.WriteToFile(p, ref, img); err != nil {
		t.Fatal(err)
	}
	return p
}

// relayMetric reads one counter from the relay's /metrics.
func relayMetric(t *testing.T, relayURL, series string) int64 {
	t.Helper()
	resp, err := http.Get("http" + strings.TrimPrefix(relayURL, "ws") + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	m := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(series) + ` (\d+)$`).FindSubmatch(b)
	if m == nil {
		t.Fatalf("relay metrics lack %s:\n%s", series, b)
	}
	n, _ := strconv.ParseInt(string(m[1]), 10, 64)
	return n
}

// TestServerlessBlobBodies: in Lambda mode, behind a Function URL front
// that refuses request bodies over 6 MB, docker load of an 8 MiB+
// archive and docker build with an 8 MiB file in its context succeed:
// the bodies go shim → relay → functions, never through the front.
func TestServerlessBlobBodies(t *testing.T) {
	t.Setenv("DOCKER_BUILDKIT", "0")
	e := slSetup(t)
	front, url := e.lambda(t, false)
	r := e.shim(t, url, awsShimEnv()...)

	data, sum := randomFile(t, blobSize)
	archive := bigImageArchive(t, "big.example/blob:1", data)
	st, err := os.Stat(archive)
	if err != nil {
		t.Fatal(err)
	}
	if st.Size() <= 6<<20 {
		t.Fatalf("the archive is %d bytes; the test needs more than Lambda's 6 MB", st.Size())
	}
	// The front refuses such a body sent as it is, correctly signed.
	body, err := os.ReadFile(archive)
	if err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest("POST", url+"/v1.47/images/load", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/x-tar")
	hash := sha256.Sum256(body)
	req.Header.Set("X-Amz-Content-Sha256", hex.EncodeToString(hash[:]))
	if err := v4.NewSigner().SignHTTP(context.Background(), aws.Credentials{AccessKeyID: slAccessKey, SecretAccessKey: slSecretKey},
		req, hex.EncodeToString(hash[:]), "lambda", "us-east-1", time.Now()); err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	msg, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	// (The test front reads the body to check the signature's payload
	// hash first, and so refuses it with 403; Lambda answers 413.)
	if (resp.StatusCode != http.StatusRequestEntityTooLarge && resp.StatusCode != http.StatusForbidden) ||
		!regexp.MustCompile(`too large|above 6291456 bytes`).Match(msg) {
		t.Fatalf("an %d-byte body straight to the front: status %d, %s; want it refused for its size", st.Size(), resp.StatusCode, msg)
	}

	if out := r.mustDocker(t, "load", "-i", archive); !strings.Contains(out, "Loaded image: big.example/blob:1") {
		t.Fatalf("docker load: %s", out)
	}
	if out := r.mustDocker(t, "run", "--rm", "big.example/blob:1"); !strings.HasPrefix(out, sum+"  /data/blob.bin") {
		t.Fatalf("sha256sum of the loaded file = %q, want %s", out, sum)
	}

	ctxData, ctxSum := randomFile(t, blobSize)
	dir := writeContext(t, map[string]string{
		"Dockerfile": "FROM big.example/blob:1\nCOPY big.bin /ctx/big.bin\nCMD [\"sha256sum\", \"/ctx/big.bin\"]\n",
	})
	if err := os.WriteFile(filepath.Join(dir, "big.bin"), ctxData, 0o644); err != nil {
		t.Fatal(err)
	}
	if out := r.mustDocker(t, "build", "-t", "big.example/built:1", dir); !strings.Contains(out, "Successfully tagged big.example/built:1") {
		t.Fatalf("docker build: %s", out)
	}
	if out := r.mustDocker(t, "run", "--rm", "big.example/built:1"); !strings.HasPrefix(out, ctxSum+"  /ctx/big.bin") {
		t.Fatalf("sha256sum of the copied file = %q, want %s", out, ctxSum)
	}

	// Both bodies went through the relay's blob store, whole, and none
	// is left there; functions was asked twice for each (ticket, then
	// the request naming the blob).
	if n := relayMetric(t, e.relay, `sockerless_relay_blobs_total{outcome="fetched"}`); n != 2 {
		t.Fatalf("the relay served %d blobs, want 2", n)
	}
	if n := relayMetric(t, e.relay, `sockerless_relay_blob_bytes_total{direction="out"}`); n < st.Size()+blobSize {
		t.Fatalf("the relay served %d blob bytes, want at least %d", n, st.Size()+blobSize)
	}
	if n := relayMetric(t, e.relay, "sockerless_relay_blobs_stored"); n != 0 {
		t.Fatalf("the relay still holds %d blobs", n)
	}
	calls := map[string]int{}
	for _, inv := range front.Invocations() {
		if inv.Method == "POST" && (strings.HasSuffix(inv.Path, "/images/load") || strings.HasSuffix(inv.Path, "/build")) {
			calls[inv.Path[strings.LastIndex(inv.Path, "/"):]+" "+strconv.Itoa(inv.Status)]++
		}
	}
	if calls["/load 200"] != 2 || calls["/build 200"] != 2 {
		t.Fatalf("load and build invocations: %v; want two 200s each", calls)
	}
}
