package main

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"

	"go.podman.io/storage"
	"go.podman.io/storage/drivers/overlay"
	"go.podman.io/storage/types"
	"golang.org/x/sys/unix"
)

// Driver names as gtu-storage reports them. storage itself knows "overlay"
// (with or without a mount program) and "vfs"; fuse-overlayfs is storage's
// overlay driver with mount_program set.
const (
	driverAuto    = "auto"
	driverOverlay = "overlay"
	driverFuse    = "fuse-overlayfs"
	driverVFS     = "vfs"
)

// driverFile in the store root records the driver auto chose, so that
// the store keeps using the one its layers were made with.
const driverFile = "gtu-driver"

// identity is who runs gtu-storage, as far as the store's place goes.
type identity struct {
	rootless bool
	hostUID  int // the host uid this process's uid 0 (or own uid) is
}

// whoami reads uidMap (normally /proc/self/uid_map): a process is rootless
// when it is not root or when its user namespace is not the initial one,
// whose map is the identity over the whole 32-bit range.
func whoami(uidMap string, euid int) (identity, error) {
	data, err := os.ReadFile(uidMap)
	if err != nil {
		return identity{}, fmt.Errorf("read %s: %w", uidMap, err)
	}
	id := identity{hostUID: euid}
	initial := false
	sc := bufio.NewScanner(strings.NewReader(string(data)))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) != 3 {
			continue
		}
		inside, err1 := strconv.ParseUint(f[0], 10, 32)
		outside, err2 := strconv.ParseUint(f[1], 10, 32)
		count, err3 := strconv.ParseUint(f[2], 10, 64)
		if err := errors.Join(err1, err2, err3); err != nil {
			return identity{}, fmt.Errorf("%s: line %q: %w", uidMap, sc.Text(), err)
		}
		if inside == 0 && outside == 0 && count == 4294967295 {
			initial = true
		}
		if uint64(euid) >= inside && uint64(euid) < inside+count {
			id.hostUID = int(outside + uint64(euid) - inside)
		}
	}
	id.rootless = euid != 0 || !initial
	return id, nil
}

// locate returns the store's root and run root for who, from the
// environment (getenv) when flags do not give them.
func locate(who identity, getenv func(string) string) (root, runRoot string, err error) {
	if r := getenv("GOPHERTAINER_ROOT"); r != "" {
		return filepath.Join(r, "storage"), filepath.Join(r, "run", "storage"), nil
	}
	if !who.rootless {
		return "/var/lib/gtu/storage", "/run/gtu/storage", nil
	}
	data := getenv("XDG_DATA_HOME")
	if data == "" {
		// Inside a user namespace, HOME may be root's: the host user's
		// passwd entry says where its data belongs.
		home := ""
		if u, err := user.LookupId(strconv.Itoa(who.hostUID)); err == nil {
			home = u.HomeDir
		}
		if home == "" {
			home = getenv("HOME")
		}
		if home == "" {
			return "", "", fmt.Errorf("no XDG_DATA_HOME, no HOME and no passwd entry for uid %d: pass --root", who.hostUID)
		}
		data = filepath.Join(home, ".local", "share")
	}
	run := getenv("XDG_RUNTIME_DIR")
	if run == "" {
		run = filepath.Join("/run/user", strconv.Itoa(who.hostUID))
	}
	return filepath.Join(data, "gtu", "storage"), filepath.Join(run, "gtu", "storage"), nil
}

// chooseDriver resolves "auto" for a store at root: the driver recorded
// there, else native overlay if a test mount works, else fuse-overlayfs if
// it can run, else vfs.
func chooseDriver(want, root, runRoot string) (string, error) {
	recorded, err := os.ReadFile(filepath.Join(root, driverFile))
	switch {
	case err == nil:
		rec := strings.TrimSpace(string(recorded))
		if want == driverAuto || want == rec {
			return rec, nil
		}
		if hasLayers(root, rec) {
			return "", fmt.Errorf("--driver %s: store %s holds layers of driver %s (remove its images or use another --root)", want, root, rec)
		}
		// An empty store may switch drivers: forget the old choice.
		if err := os.Remove(filepath.Join(root, driverFile)); err != nil && !errors.Is(err, os.ErrNotExist) {
			return "", fmt.Errorf("--driver %s: %w", want, err)
		}
	case !errors.Is(err, os.ErrNotExist):
		return "", fmt.Errorf("read %s: %w", filepath.Join(root, driverFile), err)
	}
	chosen := want
	if want == driverAuto {
		chosen = probeDriver(root, runRoot)
	}
	if err := os.MkdirAll(root, 0o700); err != nil {
		return "", fmt.Errorf("create store %s: %w", root, err)
	}
	return recordDriver(root, chosen)
}

// recordDriver writes the choice so that concurrent first uses of a store
// agree: the file appears whole (written aside, then hard-linked into
// place) and only once; a process that loses the race takes the winner's.
func recordDriver(root, chosen string) (string, error) {
	path := filepath.Join(root, driverFile)
	tmp, err := os.CreateTemp(root, "."+driverFile+"-*")
	if err != nil {
		return "", fmt.Errorf("record driver in %s: %w", root, err)
	}
	defer os.Remove(tmp.Name())
	_, werr := tmp.WriteString(chosen + "\n")
	if err := errors.Join(werr, tmp.Close()); err != nil {
		return "", fmt.Errorf("record driver in %s: %w", root, err)
	}
	if err := os.Link(tmp.Name(), path); err != nil {
		if !errors.Is(err, os.ErrExist) {
			return "", fmt.Errorf("record driver in %s: %w", root, err)
		}
		rec, rerr := os.ReadFile(path)
		if rerr != nil {
			return "", fmt.Errorf("read %s: %w", path, rerr)
		}
		return strings.TrimSpace(string(rec)), nil
	}
	return chosen, nil
}

func hasLayers(root, driver string) bool {
	dir := driverOverlay
	if driver == driverVFS {
		dir = driverVFS
	}
	entries, err := os.ReadDir(filepath.Join(root, dir))
	if err != nil {
		return false
	}
	for _, e := range entries {
		if e.Name() != "l" && !strings.HasPrefix(e.Name(), ".") && e.Name() != "tempdirs" {
			return true
		}
	}
	return false
}

func probeDriver(root, runRoot string) string {
	home := filepath.Join(root, "overlay")
	run := filepath.Join(runRoot, "overlay")
	if err := errors.Join(os.MkdirAll(home, 0o700), os.MkdirAll(run, 0o700)); err == nil {
		if ok, err := overlay.SupportsNativeOverlay(home, run); err == nil && ok {
			return driverOverlay
		}
	}
	if fuseUsable() {
		return driverFuse
	}
	return driverVFS
}

func fuseUsable() bool {
	if _, err := exec.LookPath("fuse-overlayfs"); err != nil {
		return false
	}
	fd, err := unix.Open("/dev/fuse", unix.O_RDWR|unix.O_CLOEXEC, 0)
	if err != nil {
		return false
	}
	unix.Close(fd)
	return true
}

// openStore opens (creating) the store with driver.
func openStore(root, runRoot, driver string) (storage.Store, error) {
	opts := types.StoreOptions{
		GraphRoot: root,
		RunRoot:   runRoot,
	}
	switch driver {
	case driverOverlay, driverFuse:
		opts.GraphDriverName = "overlay"
		// skip_mount_home: storage would bind-mount its home onto itself
		// (private), a mount nobody unmounts while any layer is mounted;
		// gtu's init makes the container's mounts private itself.
		opts.GraphDriverOptions = []string{"overlay.skip_mount_home=true"}
		if driver == driverFuse {
			prog, err := exec.LookPath("fuse-overlayfs")
			if err != nil {
				return nil, fmt.Errorf("driver fuse-overlayfs: %w", err)
			}
			opts.GraphDriverOptions = append(opts.GraphDriverOptions, "overlay.mount_program="+prog)
		}
	case driverVFS:
		opts.GraphDriverName = "vfs"
	default:
		return nil, fmt.Errorf("driver %q: want auto, overlay, fuse-overlayfs or vfs", driver)
	}
	// GetStore parses the storage.conf files of podman's search path even
	// when every option is given (and fails on an unreadable
	// ~/.config/containers/storage.conf). gtu's store is configured by
	// gtu-storage's flags alone: point storage at an empty file.
	os.Setenv("CONTAINERS_STORAGE_CONF", os.DevNull)
	os.Unsetenv("CONTAINERS_STORAGE_CONF_OVERRIDE")
	s, err := storage.GetStore(opts)
	if err != nil {
		return nil, fmt.Errorf("open store %s (driver %s): %w", root, driver, err)
	}
	return s, nil
}
