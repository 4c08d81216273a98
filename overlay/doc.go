// Package overlay gives gtu container root filesystems from images: it is
// the client of the gtu-storage program (cmd/gtu-storage), which keeps the
// image and layer store on go.podman.io/storage.
//
// # Why a separate program
//
// go.podman.io/storage costs about 7 ms of package init() and several MiB at
// every process start (MACHINE.md), and gtu's start path is benchmarked
// against runc: every exec of gtu would pay for it. So the store is linked
// only into gtu-storage, installed next to gtu (like gtu-seccomp), and gtu
// runs it only when it needs an image or a container layer. This package
// imports nothing heavier than os/exec and encoding/json.
//
// # Protocol
//
// gtu-storage takes global flags, one verb, and writes exactly one JSON
// object (or array, for images) on stdout when it succeeds; on failure it
// exits 1 with one line "gtu-storage: <error>" on stderr and nothing on
// stdout. A progress bar goes to stderr, only on a terminal and only for
// imports of 32 MiB or more.
//
// Measured here (static build, 13 MiB): a gtu-storage start that answers
// info costs about 6 ms and 11 MiB peak RSS (storage's package init about
// 2 ms); importing a busybox rootfs tarball (1.9 MiB) about 32 ms as root,
// 45 ms rootless; re-importing it about 6-9 ms; a new container layer
// mounted about 9-13 ms; remove about 12 ms.
//
//	gtu-storage [--root DIR] [--runroot DIR] [--driver auto|overlay|fuse-overlayfs|vfs] [--debug] VERB
//
//	info                              -> Info
//	import PATH [--name NAME]...      -> Image (with Config)
//	images                            -> []Image
//	rmi NAME|ID                       -> {"id": ...}; refused while containers use it
//	mount --image REF --container N   -> Mount; REF is an existing path (imported
//	                                     first, once per content digest), else an
//	                                     image name or id; idempotent per container
//	unmount --container N             -> {"container": ..., "unmounted": bool}
//	remove --container N              -> {"container": ..., "removed": bool}; unmounts,
//	                                     deletes the writable layer; a missing
//	                                     container is not an error
//
// # Where the store is
//
//   - root on the host: /var/lib/gtu/storage, run root /run/gtu/storage;
//   - rootless (euid != 0, or uid 0 inside a user namespace whose uid_map is
//     not the identity): $XDG_DATA_HOME/gtu/storage (default
//     ~/.local/share/gtu/storage of the host user that maps to 0), run root
//     $XDG_RUNTIME_DIR/gtu/storage (default /run/user/HOSTUID/gtu/storage);
//   - GOPHERTAINER_ROOT set: $GOPHERTAINER_ROOT/storage and
//     $GOPHERTAINER_ROOT/run/storage;
//   - --root and --runroot override all of these.
//
// Rootless, gtu-storage must run as uid 0 of a user namespace with the
// caller's subordinate ids mapped (gtu's per-user namespace, or rootlesskit):
// the layers hold files of many owners, and mounts made there stay in that
// namespace's mount table.
//
// # Drivers
//
// "auto" picks, once per store (the choice is written to ROOT/gtu-driver and
// reused): native overlay when a test mount works (with userxattr inside a
// user namespace, as the kernel requires there), else fuse-overlayfs when
// the program is installed and /dev/fuse can be opened, else vfs (full
// copies, slow but works everywhere). --driver forces one; info reports it.
//
// # Images and ids
//
// An image id is a content digest, so importing the same content again
// returns the same id and unpacks nothing: a docker-save or OCI archive's
// image id is its config's digest (as docker reports it); a rootfs tarball's
// is the sha256 of the file; a rootfs directory's is the sha256 of a
// canonical tar stream of it. Layers of docker/OCI images are keyed by their
// chain id, so images that share base layers share them on disk. A file
// imported before and unchanged since (same device, inode, size, mtime and
// ctime, kept in ROOT/gtu-sources.json) is not even hashed again. Imports
// into one store take turns (flock on ROOT/gtu-import.lock): storage cannot
// create the same layer in two processes at once.
//
// Names are exact: a container or image is found by its name or full id
// (an image also by an unambiguous id prefix of 12 or more characters),
// never by the short prefixes storage itself accepts. An image name moves
// to the image imported last, as a docker tag does.
//
// Every archive entry is checked before it reaches the store: names that
// leave the root ("../x"), hard links out of it, symlinks whose relative
// target leaves the root, any entry written through a symlink of the same
// image (absolute or not), and device nodes when rootless are refused with
// an error naming the entry; the store then also unpacks in a chroot of the
// layer directory. A failed import leaves no image or layer behind.
package overlay
