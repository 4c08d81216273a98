// Package overlay will hold rootfs storage (overlay, fuse-overlayfs, vfs
// through go.podman.io/storage) and image import. Nothing is implemented yet:
// it is the subject of the storage issue.
package overlay
