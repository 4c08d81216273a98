package main

import (
	"archive/tar"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"regexp"
	"runtime"
	"strings"

	digest "github.com/opencontainers/go-digest"
	specv1 "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/gophertainer/gtu/overlay"
)

// blobStore reads the members of an image archive or layout by name.
type blobStore interface {
	open(name string) (io.ReadCloser, int64, error)
}

// member is a regular file (or a symlink to one) inside a tar file.
type member struct {
	offset, size int64
	link         string // symlink target, for docker save's shared layers
}

// tarMembers indexes an uncompressed tar file: members are read in place.
type tarMembers struct {
	f       *os.File
	members map[string]member
}

// indexTar reads the headers of the tar file f (seeking over contents).
func indexTar(f *os.File) (*tarMembers, error) {
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return nil, err
	}
	t := &tarMembers{f: f, members: map[string]member{}}
	tr := tar.NewReader(f)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("read tar: %w", err)
		}
		name, ok := clean(h.Name)
		if !ok {
			continue // never looked up: only clean names are
		}
		switch h.Typeflag {
		case tar.TypeReg:
			// archive/tar reads exactly the header blocks, so the file's
			// position is where this member's contents start.
			off, err := f.Seek(0, io.SeekCurrent)
			if err != nil {
				return nil, err
			}
			t.members[name] = member{offset: off, size: h.Size}
		case tar.TypeSymlink:
			t.members[name] = member{link: h.Linkname}
		}
	}
	_, err := f.Seek(0, io.SeekStart)
	return t, err
}

func (t *tarMembers) has(name string) bool { _, ok := t.members[name]; return ok }

func (t *tarMembers) open(name string) (io.ReadCloser, int64, error) {
	orig := name
	for hops := 0; hops < 8; hops++ {
		clean, ok := clean(name)
		if !ok {
			break
		}
		m, ok := t.members[clean]
		if !ok {
			return nil, 0, fmt.Errorf("archive member %q: not found", orig)
		}
		if m.link == "" {
			return io.NopCloser(io.NewSectionReader(t.f, m.offset, m.size)), m.size, nil
		}
		if path.IsAbs(m.link) {
			break
		}
		name = path.Join(path.Dir(clean), m.link)
	}
	return nil, 0, fmt.Errorf("archive member %q: symlink leaves the archive or loops", orig)
}

// dirBlobs reads an OCI layout directory; os.Root keeps every name
// (taken from the untrusted index and manifests) inside it.
type dirBlobs struct{ root *os.Root }

func (d dirBlobs) open(name string) (io.ReadCloser, int64, error) {
	f, err := d.root.Open(name)
	if err != nil {
		return nil, 0, err
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, 0, err
	}
	return f, st.Size(), nil
}

var hexID = regexp.MustCompile(`^[0-9a-f]{64}(/.*)?$`)

// isImageArchiveEntry: the first entries docker save and OCI layouts write.
func isImageArchiveEntry(name string) bool {
	n, _ := clean(name)
	switch {
	case n == "manifest.json", n == "index.json", n == "oci-layout", n == "repositories",
		n == "blobs", strings.HasPrefix(n, "blobs/"), hexID.MatchString(n):
		return true
	}
	return false
}

// imageArchive reads an image archive's image, or returns nil, nil when
// the tar is not one (a rootfs tarball).
func imageArchive(t *tarMembers) (*imageSpec, error) {
	switch {
	case t.has("manifest.json"):
		return dockerImage(t)
	case t.has("index.json") && t.has("oci-layout"):
		return ociImage(t)
	}
	return nil, nil
}

const maxJSON = 16 << 20

func readJSON(b blobStore, name string, v any) ([]byte, error) {
	rc, _, err := b.open(name)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	data, err := io.ReadAll(io.LimitReader(rc, maxJSON))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	if err := json.Unmarshal(data, v); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return data, nil
}

// dockerManifest is one entry of docker save's manifest.json.
type dockerManifest struct {
	Config   string
	RepoTags []string
	Layers   []string
}

func dockerImage(b blobStore) (*imageSpec, error) {
	var ms []dockerManifest
	if _, err := readJSON(b, "manifest.json", &ms); err != nil {
		return nil, err
	}
	if len(ms) == 0 {
		return nil, errors.New("manifest.json: no image")
	}
	// docker save of several images lists them all; the first is taken.
	m := ms[0]
	var cfg specv1.Image
	raw, err := readJSON(b, m.Config, &cfg)
	if err != nil {
		return nil, err
	}
	spec, err := fromConfig(b, raw, &cfg, "docker-archive", m.Layers)
	if err != nil {
		return nil, err
	}
	spec.names = m.RepoTags
	return spec, nil
}

func blobPath(d digest.Digest) (string, error) {
	if err := d.Validate(); err != nil {
		return "", fmt.Errorf("digest %q: %w", d, err)
	}
	return path.Join("blobs", d.Algorithm().String(), d.Encoded()), nil
}

func ociImage(b blobStore) (*imageSpec, error) {
	var idx specv1.Index
	if _, err := readJSON(b, "index.json", &idx); err != nil {
		return nil, err
	}
	var names []string
	for depth := 0; ; depth++ {
		desc, err := pickManifest(idx.Manifests)
		if err != nil {
			return nil, fmt.Errorf("index.json: %w", err)
		}
		if n := desc.Annotations[specv1.AnnotationRefName]; n != "" {
			names = append(names, n)
		}
		p, err := blobPath(desc.Digest)
		if err != nil {
			return nil, err
		}
		if desc.MediaType == specv1.MediaTypeImageIndex && depth < 4 {
			idx = specv1.Index{}
			if _, err := readJSON(b, p, &idx); err != nil {
				return nil, err
			}
			continue
		}
		var m specv1.Manifest
		if _, err := readJSON(b, p, &m); err != nil {
			return nil, err
		}
		cp, err := blobPath(m.Config.Digest)
		if err != nil {
			return nil, err
		}
		var cfg specv1.Image
		raw, err := readJSON(b, cp, &cfg)
		if err != nil {
			return nil, err
		}
		if got := digest.FromBytes(raw); got != m.Config.Digest {
			return nil, fmt.Errorf("%s: content digest %s (corrupt archive)", cp, got)
		}
		var layers []string
		for _, l := range m.Layers {
			lp, err := blobPath(l.Digest)
			if err != nil {
				return nil, err
			}
			layers = append(layers, lp)
		}
		spec, err := fromConfig(b, raw, &cfg, "oci-archive", layers)
		if err != nil {
			return nil, err
		}
		spec.names = names
		return spec, nil
	}
}

// pickManifest chooses this machine's platform, or the only manifest.
func pickManifest(ds []specv1.Descriptor) (specv1.Descriptor, error) {
	if len(ds) == 1 {
		return ds[0], nil
	}
	for _, d := range ds {
		if d.Platform != nil && d.Platform.OS == runtime.GOOS && d.Platform.Architecture == runtime.GOARCH {
			return d, nil
		}
	}
	if len(ds) == 0 {
		return specv1.Descriptor{}, errors.New("no manifest")
	}
	return specv1.Descriptor{}, fmt.Errorf("%d manifests and none for %s/%s", len(ds), runtime.GOOS, runtime.GOARCH)
}

// fromConfig makes the image of a config and its layer members; the id is
// the config's digest, as docker reports it.
func fromConfig(b blobStore, raw []byte, cfg *specv1.Image, source string, layers []string) (*imageSpec, error) {
	if len(cfg.RootFS.DiffIDs) != len(layers) {
		return nil, fmt.Errorf("image config lists %d layers (rootfs.diff_ids), the manifest %d", len(cfg.RootFS.DiffIDs), len(layers))
	}
	id := digest.FromBytes(raw)
	spec := &imageSpec{
		id: id.Encoded(),
		meta: metadata{Source: source, Digest: id.String(), Config: overlay.Config{
			Env:        cfg.Config.Env,
			Cmd:        cfg.Config.Cmd,
			Entrypoint: cfg.Config.Entrypoint,
			WorkingDir: cfg.Config.WorkingDir,
			User:       cfg.Config.User,
		}},
	}
	for i, name := range layers {
		if err := cfg.RootFS.DiffIDs[i].Validate(); err != nil {
			return nil, fmt.Errorf("image config: rootfs.diff_ids[%d]: %w", i, err)
		}
		rc, size, err := b.open(name)
		if err != nil {
			return nil, fmt.Errorf("layer %d: %w", i+1, err)
		}
		rc.Close()
		spec.layers = append(spec.layers, layerSource{
			name:   name,
			size:   size,
			diffID: cfg.RootFS.DiffIDs[i],
			open: func() (io.ReadCloser, error) {
				rc, _, err := b.open(name)
				return rc, err
			},
		})
	}
	return spec, nil
}
