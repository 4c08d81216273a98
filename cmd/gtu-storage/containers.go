package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"slices"
	"sort"
	"strings"

	"github.com/moby/sys/mountinfo"
	"go.podman.io/storage"

	"github.com/gophertainer/gtu/overlay"
)

// describe returns an image as the protocol shows it.
func (a *app) describe(id string) (overlay.Image, error) {
	im, err := a.store.Image(id)
	if err != nil {
		return overlay.Image{}, fmt.Errorf("image %s: %w", id, err)
	}
	var meta metadata
	if im.Metadata != "" {
		if err := json.Unmarshal([]byte(im.Metadata), &meta); err != nil {
			return overlay.Image{}, fmt.Errorf("image %s: metadata: %w", id, err)
		}
	}
	size, err := a.store.ImageSize(im.ID)
	if err != nil {
		size = -1
	}
	cfg := meta.Config
	cfg.Env, cfg.Cmd, cfg.Entrypoint = nonNil(cfg.Env), nonNil(cfg.Cmd), nonNil(cfg.Entrypoint)
	return overlay.Image{
		ID: im.ID, Names: nonNil(im.Names), Size: size, Created: im.Created,
		Source: meta.Source, Config: &cfg,
	}, nil
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

func (a *app) images() ([]overlay.Image, error) {
	ims, err := a.store.Images()
	if err != nil {
		return nil, fmt.Errorf("list images: %w", err)
	}
	out := []overlay.Image{}
	for _, im := range ims {
		d, err := a.describe(im.ID)
		if err != nil {
			return nil, err
		}
		out = append(out, d)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Created.Before(out[j].Created) })
	return out, nil
}

// minPrefix is the shortest id prefix taken for an image (docker's
// short ids). storage's own lookups take any prefix, so a name like "c2"
// or "bb" could find an object whose random id starts with those hex
// digits: every lookup by user-given name goes through these two.
const minPrefix = 12

// findImage is the image named ref, or with id ref or an unambiguous id
// prefix of ref of at least minPrefix characters.
func (a *app) findImage(ref string) (*storage.Image, error) {
	ims, err := a.store.Images()
	if err != nil {
		return nil, fmt.Errorf("list images: %w", err)
	}
	var byPrefix []*storage.Image
	for i := range ims {
		im := &ims[i]
		if im.ID == ref || slices.Contains(im.Names, ref) {
			return im, nil
		}
		if len(ref) >= minPrefix && strings.HasPrefix(im.ID, ref) {
			byPrefix = append(byPrefix, im)
		}
	}
	if len(byPrefix) == 1 {
		return byPrefix[0], nil
	}
	return nil, fmt.Errorf("image %s: %w", ref, storage.ErrImageUnknown)
}

// findContainer is the container named ref, or with id ref.
func (a *app) findContainer(ref string) (*storage.Container, error) {
	cs, err := a.store.Containers()
	if err != nil {
		return nil, fmt.Errorf("list containers: %w", err)
	}
	for i := range cs {
		if cs[i].ID == ref || slices.Contains(cs[i].Names, ref) {
			return &cs[i], nil
		}
	}
	return nil, fmt.Errorf("container %s: %w", ref, storage.ErrContainerUnknown)
}

// resolveImage is an existing path (imported, once) or an image name or id.
func (a *app) resolveImage(ref string) (overlay.Image, error) {
	if _, err := os.Stat(ref); err == nil {
		return a.importPath(ref, nil)
	}
	im, err := a.findImage(ref)
	if err != nil {
		return overlay.Image{}, fmt.Errorf("not a path, nor an image name or id in %s: %w", a.root, err)
	}
	return a.describe(im.ID)
}

func (a *app) rmi(ref string) (map[string]string, error) {
	im, err := a.findImage(ref)
	if err != nil {
		return nil, fmt.Errorf("rmi: %w", err)
	}
	if users := a.containersOf(im.ID); len(users) > 0 {
		return nil, fmt.Errorf("rmi %s: image is used by container(s) %s: %w", ref, strings.Join(users, ", "), storage.ErrImageUsedByContainer)
	}
	if _, err := a.store.DeleteImage(im.ID, true); err != nil {
		return nil, fmt.Errorf("rmi %s: %w", ref, err)
	}
	return map[string]string{"id": im.ID}, nil
}

func (a *app) containersOf(imageID string) []string {
	cs, err := a.store.Containers()
	if err != nil {
		return []string{"(unknown: " + err.Error() + ")"}
	}
	var names []string
	for _, c := range cs {
		if c.ImageID == imageID {
			n := c.ID
			if len(c.Names) > 0 {
				n = c.Names[0]
			}
			names = append(names, n)
		}
	}
	return names
}

// mount gives container a writable layer on image and mounts it; an
// existing container of the same image is mounted (once) and returned.
func (a *app) mount(image, container string) (overlay.Mount, error) {
	if container == "" {
		return overlay.Mount{}, errors.New("mount: --container is required")
	}
	im, err := a.resolveImage(image)
	if err != nil {
		return overlay.Mount{}, fmt.Errorf("mount %s: %w", container, err)
	}
	c, err := a.findContainer(container)
	switch {
	case errors.Is(err, storage.ErrContainerUnknown):
		c, err = a.store.CreateContainer("", []string{container}, im.ID, "", "", nil)
		if errors.Is(err, storage.ErrDuplicateName) {
			// A concurrent mount of the same container made it first.
			return a.mount(im.ID, container)
		}
		if err != nil {
			return overlay.Mount{}, fmt.Errorf("mount %s: create container layer: %w", container, err)
		}
	case err != nil:
		return overlay.Mount{}, fmt.Errorf("mount %s: %w", container, err)
	case c.ImageID != im.ID:
		return overlay.Mount{}, fmt.Errorf("mount %s: container exists with image %s, not %s", container, c.ImageID, im.ID)
	}
	rootfs, err := a.mountOnce(c)
	if err != nil {
		return overlay.Mount{}, fmt.Errorf("mount %s: %w", container, err)
	}
	return overlay.Mount{Container: container, Rootfs: rootfs, Layer: c.LayerID, Image: im.ID, Config: *im.Config}, nil
}

// mountOnce mounts c unless its layer is mounted already, so that mount
// is idempotent and one unmount undoes it.
func (a *app) mountOnce(c *storage.Container) (string, error) {
	if n, err := a.store.Mounted(c.ID); err == nil && n > 0 {
		if l, err := a.store.Layer(c.LayerID); err == nil && l.MountPoint != "" {
			if ok, err := mountinfo.Mounted(l.MountPoint); err == nil && ok {
				return l.MountPoint, nil
			}
		}
	}
	return a.store.Mount(c.ID, "")
}

func (a *app) unmount(container string) (overlay.ContainerResult, error) {
	c, err := a.findContainer(container)
	if err != nil {
		return overlay.ContainerResult{}, fmt.Errorf("unmount %s: %w", container, err)
	}
	if _, err := a.store.Unmount(c.ID, true); err != nil {
		return overlay.ContainerResult{}, fmt.Errorf("unmount %s: %w", container, err)
	}
	return overlay.ContainerResult{Container: container, Unmounted: true}, nil
}

func (a *app) remove(container string) (overlay.ContainerResult, error) {
	c, err := a.findContainer(container)
	if errors.Is(err, storage.ErrContainerUnknown) {
		return overlay.ContainerResult{Container: container}, nil
	}
	if err != nil {
		return overlay.ContainerResult{}, fmt.Errorf("remove %s: %w", container, err)
	}
	if _, err := a.store.Unmount(c.ID, true); err != nil && !errors.Is(err, storage.ErrLayerUnknown) {
		return overlay.ContainerResult{}, fmt.Errorf("remove %s: unmount: %w", container, err)
	}
	if err := a.store.DeleteContainer(c.ID); err != nil {
		return overlay.ContainerResult{}, fmt.Errorf("remove %s: %w", container, err)
	}
	return overlay.ContainerResult{Container: container, Unmounted: true, Removed: true}, nil
}
