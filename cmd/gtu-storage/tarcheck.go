package main

import (
	"archive/tar"
	"errors"
	"fmt"
	"io"
	"path"
	"strings"
)

// errHostile marks an archive entry refused because it could write outside
// the layer or create what the caller may not.
var errHostile = errors.New("refused")

// checker validates the tar entries of one image's layers, in order. It
// tracks the symlinks the image's layers have made so far, so that an entry
// written through one (a classic escape: "evil -> /etc", then
// "evil/passwd") is refused by name, whatever the symlink points to.
//
// storage unpacks in a chroot of the layer directory, which already keeps
// such writes inside the layer; the checker makes them a clear error
// instead of a silently redirected file, and refuses what storage would
// silently skip (device nodes in a user namespace).
type checker struct {
	rootless bool
	layer    int
	symlinks map[string]int // cleaned path -> layer that made it a symlink
}

func newChecker(rootless bool) *checker {
	return &checker{rootless: rootless, symlinks: map[string]int{}}
}

// nextLayer starts the checks of the image's next layer.
func (c *checker) nextLayer() { c.layer++ }

// clean makes name relative to the root; ok is false when it leaves it.
func clean(name string) (string, bool) {
	p := path.Clean("/" + name)
	// Clean of "/"+name removes every "..", so compare with a clean that
	// keeps them: a name that needed the root to stop a ".." is hostile.
	rel := path.Clean(strings.TrimLeft(name, "/"))
	if rel == ".." || strings.HasPrefix(rel, "../") {
		return "", false
	}
	return strings.TrimPrefix(p, "/"), true
}

// check validates one header.
func (c *checker) check(h *tar.Header) error {
	name, ok := clean(h.Name)
	if !ok {
		return fmt.Errorf("entry %q %w: path leaves the root", h.Name, errHostile)
	}
	if name == "" || name == "." {
		return nil // the root itself
	}
	if through := c.throughSymlink(name); through != "" {
		return fmt.Errorf("entry %q %w: written through symlink %q", h.Name, errHostile, through)
	}
	dir, base := path.Split(name)
	switch {
	case base == ".wh..wh..opq":
		// An opaque directory hides what lower layers had under it.
		c.forget(strings.TrimSuffix(dir, "/"), true)
		return nil
	case strings.HasPrefix(base, ".wh."):
		c.forget(path.Join(dir, strings.TrimPrefix(base, ".wh.")), false)
		return nil
	}
	switch h.Typeflag {
	case tar.TypeSymlink:
		if !path.IsAbs(h.Linkname) {
			if _, ok := clean(path.Join(dir, h.Linkname)); !ok {
				return fmt.Errorf("entry %q %w: symlink to %q leaves the root", h.Name, errHostile, h.Linkname)
			}
		}
		c.forget(name, false)
		c.symlinks[name] = c.layer
		return nil
	case tar.TypeLink:
		target, ok := clean(h.Linkname)
		if !ok {
			return fmt.Errorf("entry %q %w: hard link to %q leaves the root", h.Name, errHostile, h.Linkname)
		}
		if through := c.throughSymlink(target); through != "" {
			return fmt.Errorf("entry %q %w: hard link to %q goes through symlink %q", h.Name, errHostile, h.Linkname, through)
		}
	case tar.TypeChar, tar.TypeBlock:
		if c.rootless {
			return fmt.Errorf("entry %q %w: device node %d:%d cannot be created rootless (in a user namespace)", h.Name, errHostile, h.Devmajor, h.Devminor)
		}
	case tar.TypeReg, tar.TypeDir, tar.TypeFifo, tar.TypeXGlobalHeader:
	default:
		return fmt.Errorf("entry %q %w: unsupported tar entry type %q", h.Name, errHostile, h.Typeflag)
	}
	c.forget(name, false)
	return nil
}

// throughSymlink returns the first proper prefix of name that is a symlink.
func (c *checker) throughSymlink(name string) string {
	for i := 0; i < len(name); i++ {
		if name[i] == '/' {
			if _, ok := c.symlinks[name[:i]]; ok {
				return name[:i]
			}
		}
	}
	return ""
}

// forget drops the symlinks at p and under it (only those of lower
// layers when lowerOnly: an opaque marker hides lower layers, not its own).
func (c *checker) forget(p string, lowerOnly bool) {
	for s, layer := range c.symlinks {
		if lowerOnly && layer == c.layer {
			continue
		}
		if (!lowerOnly && s == p) || strings.HasPrefix(s, p+"/") {
			delete(c.symlinks, s)
		}
	}
}

// filter copies the tar stream r to w, entry by entry, refusing the first
// hostile entry: nothing after it reaches w. It returns the error of the
// first entry refused or of the stream (a truncated or corrupt archive).
func (c *checker) filter(w io.Writer, r io.Reader) error {
	tr := tar.NewReader(r)
	tw := tar.NewWriter(w)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return fmt.Errorf("read tar: %w", readError(err))
		}
		if err := c.check(h); err != nil {
			return err
		}
		if err := tw.WriteHeader(h); err != nil {
			return fmt.Errorf("entry %q: %w", h.Name, err)
		}
		if h.Typeflag == tar.TypeReg {
			if _, err := io.Copy(tw, tr); err != nil {
				return fmt.Errorf("entry %q: %w", h.Name, readError(err))
			}
		}
	}
	return tw.Close()
}

// readError says what an error of reading an archive means to its owner.
func readError(err error) error {
	if errors.Is(err, io.ErrUnexpectedEOF) {
		return fmt.Errorf("archive truncated: %w", err)
	}
	return fmt.Errorf("archive corrupt: %w", err)
}
