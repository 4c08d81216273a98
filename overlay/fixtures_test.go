package overlay_test

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/klauspost/compress/zstd"
	digest "github.com/opencontainers/go-digest"
	specs "github.com/opencontainers/image-spec/specs-go"
	specv1 "github.com/opencontainers/image-spec/specs-go/v1"
	"github.com/ulikunitz/xz"
)

// entry is one tar entry of a fixture.
type entry struct {
	name string
	typ  byte   // tar.TypeReg if 0
	body string // regular files
	link string // symlinks and hard links
	mode int64
}

func busyboxEntries(t *testing.T) []entry {
	t.Helper()
	bb, err := os.ReadFile("/bin/busybox")
	if err != nil {
		t.Skipf("busybox-static is not installed (/bin/busybox): %v", err)
	}
	return []entry{
		{name: "bin/", typ: tar.TypeDir},
		{name: "bin/busybox", body: string(bb), mode: 0o755},
		{name: "bin/sh", typ: tar.TypeSymlink, link: "busybox"},
		{name: "etc/", typ: tar.TypeDir},
		{name: "etc/hostname", body: "image\n"},
	}
}

func tarBytes(t *testing.T, entries []entry) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range entries {
		h := &tar.Header{Name: e.name, Typeflag: e.typ, Linkname: e.link, Mode: e.mode, Size: int64(len(e.body))}
		if h.Typeflag == 0 {
			h.Typeflag = tar.TypeReg
		}
		if h.Mode == 0 {
			h.Mode = 0o644
			if h.Typeflag == tar.TypeDir {
				h.Mode = 0o755
			}
		}
		if h.Typeflag != tar.TypeReg {
			h.Size = 0
		}
		if h.Typeflag == tar.TypeChar {
			h.Devmajor, h.Devminor = 1, 3
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if h.Typeflag == tar.TypeReg {
			if _, err := tw.Write([]byte(e.body)); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// compress compresses data as the file extension says.
func compress(t *testing.T, data []byte, ext string) []byte {
	t.Helper()
	var buf bytes.Buffer
	var w interface {
		Write([]byte) (int, error)
		Close() error
	}
	var err error
	switch ext {
	case ".tar":
		return data
	case ".tar.gz":
		w = gzip.NewWriter(&buf)
	case ".tar.xz":
		w, err = xz.NewWriter(&buf)
	case ".tar.zst":
		w, err = zstd.NewWriter(&buf)
	default:
		t.Fatalf("extension %s", ext)
	}
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write(data); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func writeFile(t *testing.T, dir, name string, data []byte) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// twoLayers are an image's layers: the second deletes etc/gone with a
// whiteout and makes opt/d opaque (hiding opt/d/old).
func twoLayers(t *testing.T) [2][]byte {
	base := append(busyboxEntries(t),
		entry{name: "etc/gone", body: "deleted by layer 2\n"},
		entry{name: "etc/keep", body: "kept\n"},
		entry{name: "opt/", typ: tar.TypeDir},
		entry{name: "opt/d/", typ: tar.TypeDir},
		entry{name: "opt/d/old", body: "hidden by the opaque dir\n"},
	)
	top := []entry{
		{name: "etc/", typ: tar.TypeDir},
		{name: "etc/.wh.gone"},
		{name: "opt/", typ: tar.TypeDir},
		{name: "opt/d/", typ: tar.TypeDir},
		{name: "opt/d/.wh..wh..opq"},
		{name: "opt/d/new", body: "layer 2\n"},
	}
	return [2][]byte{tarBytes(t, base), tarBytes(t, top)}
}

var wantConfig = specv1.ImageConfig{
	Env:        []string{"PATH=/bin", "GREETING=hello"},
	Entrypoint: []string{"/bin/sh", "-c"},
	Cmd:        []string{"echo $GREETING"},
	WorkingDir: "/opt",
	User:       "1000:1000",
}

func imageConfig(t *testing.T, layers [2][]byte, author string) []byte {
	cfg := specv1.Image{
		Author:   author,
		Platform: specv1.Platform{OS: "linux", Architecture: "amd64"},
		Config:   wantConfig,
		RootFS:   specv1.RootFS{Type: "layers", DiffIDs: []digest.Digest{digest.FromBytes(layers[0]), digest.FromBytes(layers[1])}},
	}
	data, err := json.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// dockerArchive is what `docker save` writes (the classic layout) for
// the two-layer fixture, and its config digest (the image id).
func dockerArchive(t *testing.T) (archive []byte, configDigest digest.Digest) {
	layers := twoLayers(t)
	return dockerArchiveOf(t, layers[0], layers[1]), digest.FromBytes(imageConfig(t, layers, "docker"))
}

func dockerArchiveOf(t *testing.T, l1, l2 []byte) []byte {
	cfg := imageConfig(t, [2][]byte{l1, l2}, "docker")
	cd := digest.FromBytes(cfg)
	h1, h2 := hexOf(l1), hexOf(l2)
	manifest, _ := json.Marshal([]map[string]any{{
		"Config":   cd.Encoded() + ".json",
		"RepoTags": []string{"fixture:latest"},
		"Layers":   []string{h1 + "/layer.tar", h2 + "/layer.tar"},
	}})
	return tarBytes(t, []entry{
		{name: h1 + "/", typ: tar.TypeDir},
		{name: h1 + "/layer.tar", body: string(l1)},
		{name: h2 + "/", typ: tar.TypeDir},
		{name: h2 + "/layer.tar", body: string(l2)},
		{name: cd.Encoded() + ".json", body: string(cfg)},
		{name: "manifest.json", body: string(manifest)},
	})
}

func hexOf(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// ociArchive is an OCI image layout in a tar, its second layer gzipped.
func ociArchive(t *testing.T) (archive []byte, configDigest digest.Digest) {
	layers := twoLayers(t)
	cfg := imageConfig(t, layers, "oci") // another image id than the docker one's
	gz := compress(t, layers[1], ".tar.gz")
	manifest, _ := json.Marshal(specv1.Manifest{
		Versioned: specs.Versioned{SchemaVersion: 2},
		MediaType: specv1.MediaTypeImageManifest,
		Config:    specv1.Descriptor{MediaType: specv1.MediaTypeImageConfig, Digest: digest.FromBytes(cfg), Size: int64(len(cfg))},
		Layers: []specv1.Descriptor{
			{MediaType: specv1.MediaTypeImageLayer, Digest: digest.FromBytes(layers[0]), Size: int64(len(layers[0]))},
			{MediaType: specv1.MediaTypeImageLayerGzip, Digest: digest.FromBytes(gz), Size: int64(len(gz))},
		},
	})
	index, _ := json.Marshal(specv1.Index{
		Versioned: specs.Versioned{SchemaVersion: 2},
		MediaType: specv1.MediaTypeImageIndex,
		Manifests: []specv1.Descriptor{{
			MediaType:   specv1.MediaTypeImageManifest,
			Digest:      digest.FromBytes(manifest),
			Size:        int64(len(manifest)),
			Annotations: map[string]string{specv1.AnnotationRefName: "oci-fixture"},
		}},
	})
	blob := func(b []byte) entry { return entry{name: "blobs/sha256/" + hexOf(b), body: string(b)} }
	return tarBytes(t, []entry{
		{name: "oci-layout", body: `{"imageLayoutVersion":"1.0.0"}`},
		{name: "index.json", body: string(index)},
		{name: "blobs/", typ: tar.TypeDir},
		{name: "blobs/sha256/", typ: tar.TypeDir},
		blob(manifest), blob(cfg), blob(layers[0]), blob(gz),
	}), digest.FromBytes(cfg)
}
