package main

import (
	"archive/tar"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	digest "github.com/opencontainers/go-digest"
	"go.podman.io/storage"
	"go.podman.io/storage/pkg/archive"
	"golang.org/x/sys/unix"

	"github.com/gophertainer/gtu/overlay"
)

// metadata is what gtu-storage keeps in an image's metadata field.
type metadata struct {
	Source string         `json:"source"` // rootfs-dir, rootfs-tar, docker-archive, oci-archive
	Digest string         `json:"digest"` // what the id was computed from
	Config overlay.Config `json:"config"`
}

// imageSpec is an image ready to unpack: its id, names, config, and its
// layers, lowest first.
type imageSpec struct {
	id     string
	names  []string
	meta   metadata
	layers []layerSource
	closer func() error // releases what opening the source took (temp files)
	cached bool         // found by the file's identity, not read (sources.go)
}

// layerSource is one layer's tar stream (compressed or not).
type layerSource struct {
	name   string // for errors: the archive member, or the file
	open   func() (io.ReadCloser, error)
	size   int64         // of the stream, for the progress bar; 0 if unknown
	diffID digest.Digest // of the uncompressed stream, when the image says
}

// importPath imports path once per content digest.
func (a *app) importPath(path string, names []string) (_ overlay.Image, err error) {
	spec, err := a.inspect(path)
	if err != nil {
		return overlay.Image{}, fmt.Errorf("import %s: %w", path, err)
	}
	if spec.closer != nil {
		defer spec.closer()
	}
	// storage does not let two processes create the same layer id at once
	// (one's clean-up of "incomplete" layers removes the other's), so
	// imports into one store take turns; the second finds the image made.
	unlock, err := a.lockImports()
	if err != nil {
		return overlay.Image{}, err
	}
	defer unlock()
	archiveNames := spec.names
	spec.names = append(append([]string(nil), spec.names...), names...)
	defer func() {
		if err == nil && !spec.cached {
			a.rememberSource(path, spec, archiveNames)
		}
	}()
	if im, err := a.store.Image(spec.id); err == nil {
		if len(spec.names) > 0 {
			if err := a.claimNames(spec.names, im.ID); err != nil {
				return overlay.Image{}, fmt.Errorf("import %s: %w", path, err)
			}
			if err := a.store.AddNames(im.ID, spec.names); err != nil {
				return overlay.Image{}, fmt.Errorf("import %s: name image %s: %w", path, im.ID, err)
			}
		}
		out, err := a.describe(im.ID)
		out.Reused = true
		return out, err
	}
	if err := a.unpack(spec); err != nil {
		return overlay.Image{}, fmt.Errorf("import %s: %w", path, err)
	}
	return a.describe(spec.id)
}

// lockImports takes the store's import lock (flock, so a killed
// gtu-storage releases it).
func (a *app) lockImports() (func(), error) {
	p := filepath.Join(a.root, "gtu-import.lock")
	f, err := os.OpenFile(p, os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, fmt.Errorf("import lock %s: %w", p, err)
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX); err != nil {
		f.Close()
		return nil, fmt.Errorf("import lock %s: %w", p, err)
	}
	return func() { f.Close() }, nil
}

// claimNames takes names from the images other than id that have them.
func (a *app) claimNames(names []string, id string) error {
	for _, n := range names {
		im, err := a.findImage(n)
		if err != nil || im.ID == id {
			continue
		}
		if err := a.store.RemoveNames(im.ID, []string{n}); err != nil {
			return fmt.Errorf("take name %s from image %s: %w", n, im.ID, err)
		}
	}
	return nil
}

// inspect finds out what path holds and the id of its content, reading no
// more than it must.
func (a *app) inspect(path string) (*imageSpec, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if st.IsDir() {
		if _, err := os.Stat(filepath.Join(path, "oci-layout")); err == nil {
			root, err := os.OpenRoot(path)
			if err != nil {
				return nil, err
			}
			spec, err := ociImage(dirBlobs{root})
			if err != nil {
				root.Close()
				return nil, err
			}
			spec.closer = root.Close
			return spec, nil
		}
		return rootfsDir(path)
	}
	if !st.Mode().IsRegular() {
		return nil, errors.New("neither a directory nor a regular file")
	}
	if spec := a.knownSource(st); spec != nil {
		return spec, nil
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	spec, err := a.inspectFile(f, st.Size())
	if err != nil {
		f.Close()
		return nil, err
	}
	prev := spec.closer
	spec.closer = func() error {
		if prev != nil {
			prev()
		}
		return f.Close()
	}
	return spec, nil
}

func (a *app) inspectFile(f *os.File, size int64) (*imageSpec, error) {
	head := make([]byte, 10)
	n, _ := io.ReadFull(f, head)
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return nil, err
	}
	if archive.DetectCompression(head[:n]) == archive.Uncompressed {
		members, err := indexTar(f)
		if err != nil {
			return nil, err
		}
		if spec, err := imageArchive(members); spec != nil || err != nil {
			return spec, err
		}
		return rootfsTar(f, size)
	}
	// A compressed file is a rootfs tarball unless its first entry is
	// one of an image archive's; then it is unpacked to a temporary file
	// to read its members in any order.
	first, err := firstEntry(io.NewSectionReader(f, 0, size))
	if err != nil {
		return nil, err
	}
	if !isImageArchiveEntry(first) {
		return rootfsTar(f, size)
	}
	tmp, err := a.decompressToTemp(f)
	if err != nil {
		return nil, err
	}
	members, err := indexTar(tmp)
	if err == nil {
		var spec *imageSpec
		spec, err = imageArchive(members)
		if err == nil && spec == nil {
			err = errors.New("no manifest.json nor index.json in what looked like an image archive")
		}
		if err == nil {
			spec.closer = tmp.Close
			return spec, nil
		}
	}
	tmp.Close()
	return nil, err
}

// firstEntry reads from its own section of the file: a decompressor may be
// an external program (zstd, pigz) still reading after Close.
func firstEntry(r io.Reader) (string, error) {
	d, err := archive.DecompressStream(r)
	if err != nil {
		return "", fmt.Errorf("decompress: %w", err)
	}
	defer d.Close()
	h, err := tar.NewReader(d).Next()
	if err != nil {
		return "", fmt.Errorf("read tar: %w", err)
	}
	return h.Name, nil
}

// decompressToTemp unpacks a compressed image archive into an unlinked
// file in the store's own temporary directory.
func (a *app) decompressToTemp(f *os.File) (*os.File, error) {
	dir := filepath.Join(a.root, "gtu-tmp")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	tmp, err := os.CreateTemp(dir, "archive-*")
	if err != nil {
		return nil, err
	}
	os.Remove(tmp.Name())
	d, err := archive.DecompressStream(io.NewSectionReader(f, 0, 1<<62))
	if err == nil {
		_, err = io.Copy(tmp, d)
		d.Close()
	}
	if err == nil {
		_, err = tmp.Seek(0, io.SeekStart)
	}
	if err != nil {
		tmp.Close()
		return nil, fmt.Errorf("decompress: %w", err)
	}
	return tmp, nil
}

// rootfsTar is a root filesystem tarball: one layer, id the file's sha256.
func rootfsTar(f *os.File, size int64) (*imageSpec, error) {
	h := sha256.New()
	if _, err := io.Copy(h, io.NewSectionReader(f, 0, size)); err != nil {
		return nil, err
	}
	sum := hex.EncodeToString(h.Sum(nil))
	return &imageSpec{
		id:   sum,
		meta: metadata{Source: "rootfs-tar", Digest: "sha256:" + sum},
		layers: []layerSource{{
			name: f.Name(),
			size: size,
			open: func() (io.ReadCloser, error) {
				return io.NopCloser(io.NewSectionReader(f, 0, size)), nil
			},
		}},
	}, nil
}

// rootfsDir is a root filesystem directory: one layer, id the sha256 of
// storage's tar stream of it (a first, read-only pass).
func rootfsDir(dir string) (*imageSpec, error) {
	open := func() (io.ReadCloser, error) {
		return archive.TarWithOptions(dir, &archive.TarOptions{Compression: archive.Uncompressed})
	}
	r, err := open()
	if err != nil {
		return nil, err
	}
	h := sha256.New()
	_, err = io.Copy(h, r)
	r.Close()
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", dir, err)
	}
	sum := hex.EncodeToString(h.Sum(nil))
	return &imageSpec{
		id:     sum,
		meta:   metadata{Source: "rootfs-dir", Digest: "sha256:" + sum},
		layers: []layerSource{{name: dir, open: open}},
	}, nil
}

// unpack creates spec's layers (reusing those already there by chain id)
// and the image; on failure it deletes what it created.
func (a *app) unpack(spec *imageSpec) (err error) {
	var created []string
	defer func() {
		if err == nil {
			return
		}
		for i := len(created) - 1; i >= 0; i-- {
			if e := a.store.DeleteLayer(created[i]); e != nil {
				a.log.Warn("delete layer of failed import", "layer", created[i], "err", e)
			}
		}
	}()
	var total int64
	for _, l := range spec.layers {
		total += l.size
	}
	bar := newProgress(total, "importing")
	defer bar.finish()
	chk := newChecker(a.who.rootless)
	parent := ""
	chain := digest.Digest("")
	for i, l := range spec.layers {
		chk.nextLayer()
		id := ""
		if l.diffID != "" {
			chain = chainID(chain, l.diffID)
			id = chain.Encoded()
			if _, err := a.store.Layer(id); err == nil {
				// Shared with an image already there; its symlinks still
				// matter for the checks of the layers above.
				if err := a.replayLayer(chk, id); err != nil {
					return err
				}
				parent = id
				continue
			}
		}
		layer, err := a.putLayer(id, parent, l, chk, bar)
		if errors.Is(err, storage.ErrDuplicateID) && id != "" {
			// A concurrent import of an image with this layer made it
			// first: use it as above.
			if err := a.replayLayer(chk, id); err != nil {
				return err
			}
			parent = id
			continue
		}
		if err != nil && len(spec.layers) > 1 {
			return fmt.Errorf("layer %d (%s): %w", i+1, l.name, err)
		}
		if err != nil {
			return err
		}
		created = append(created, layer)
		parent = layer
	}
	meta, err := json.Marshal(spec.meta)
	if err != nil {
		return err
	}
	// A name goes to the image imported last, as a tag moves in docker
	// (taken only now: a failed import leaves names where they were).
	if err := a.claimNames(spec.names, spec.id); err != nil {
		return err
	}
	_, err = a.store.CreateImage(spec.id, spec.names, parent, string(meta), &storage.ImageOptions{CreationDate: time.Now().UTC()})
	if errors.Is(err, storage.ErrDuplicateID) {
		// Another import of the same content won the race: keep its image
		// and drop our layers (ours have random or the same chain ids; the
		// same would have failed above).
		for i := len(created) - 1; i >= 0; i-- {
			a.store.DeleteLayer(created[i])
		}
		created = nil
		if len(spec.names) > 0 {
			return a.store.AddNames(spec.id, spec.names)
		}
		return nil
	}
	if err != nil {
		return fmt.Errorf("create image %s: %w", spec.id, err)
	}
	return nil
}

// chainID is the OCI chain id of diffID on top of parent.
func chainID(parent, diffID digest.Digest) digest.Digest {
	if parent == "" {
		return diffID
	}
	return digest.FromString(parent.String() + " " + diffID.String())
}

// errStopped ends the checker's copy when the store stopped reading first;
// the store's error is then the one to report.
var errStopped = errors.New("layer store stopped reading")

// putLayer checks and applies one layer's stream and returns its id.
func (a *app) putLayer(id, parent string, l layerSource, chk *checker, bar *progress) (string, error) {
	rc, err := l.open()
	if err != nil {
		return "", err
	}
	defer rc.Close()
	d, err := archive.DecompressStream(bar.wrap(rc))
	if err != nil {
		return "", fmt.Errorf("decompress: %w", err)
	}
	defer d.Close()
	h := digest.SHA256.Digester()
	src := io.TeeReader(d, h.Hash())
	pr, pw := io.Pipe()
	filterErr := make(chan error, 1)
	go func() {
		err := chk.filter(pw, src)
		if err == nil {
			// The tar's end may be followed by padding: the diff id is
			// the digest of all of it.
			_, err = io.Copy(io.Discard, src)
			if err != nil {
				err = fmt.Errorf("read: %w", err)
			}
		}
		pw.CloseWithError(err)
		filterErr <- err
	}()
	layer, _, err := a.store.PutLayer(id, parent, nil, "", false, nil, pr)
	pr.CloseWithError(errStopped)
	if ferr := <-filterErr; ferr != nil && !errors.Is(ferr, errStopped) {
		if layer != nil {
			a.store.DeleteLayer(layer.ID)
		}
		return "", ferr
	}
	if err != nil {
		return "", fmt.Errorf("unpack: %w", err)
	}
	if l.diffID != "" && h.Digest() != l.diffID {
		a.store.DeleteLayer(layer.ID)
		return "", fmt.Errorf("content digest %s, the image config says %s (corrupt archive)", h.Digest(), l.diffID)
	}
	return layer.ID, nil
}

// replayLayer feeds the checker the entries of a layer already in the
// store, so that its symlinks are known to the layers above it.
func (a *app) replayLayer(chk *checker, id string) error {
	rc, err := a.store.Diff("", id, nil)
	if err != nil {
		return fmt.Errorf("read layer %s: %w", id, err)
	}
	defer rc.Close()
	return chk.filter(io.Discard, rc)
}
