package overlay_test

import (
	"archive/tar"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/moby/sys/mountinfo"
	"golang.org/x/sys/unix"

	"github.com/gophertainer/gtu/overlay"
)

// helper is the gtu-storage under test: GTU_STORAGE_HELPER, or built once
// by TestMain.
var helper string

func TestMain(m *testing.M) {
	helper = os.Getenv("GTU_STORAGE_HELPER")
	if helper == "" {
		dir, err := os.MkdirTemp("", "gtu-storage-test-")
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		os.Chmod(dir, 0o755) // the rootless test runs it as another user
		helper = filepath.Join(dir, "gtu-storage")
		build := exec.Command("go", "build", "-tags", "exclude_graphdriver_btrfs exclude_graphdriver_devicemapper",
			"-o", helper, "github.com/gophertainer/gtu/cmd/gtu-storage")
		build.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := build.CombinedOutput(); err != nil {
			fmt.Fprintf(os.Stderr, "build gtu-storage: %v\n%s", err, out)
			os.RemoveAll(dir)
			os.Exit(1)
		}
		code := m.Run()
		os.RemoveAll(dir)
		os.Exit(code)
	}
	os.Exit(m.Run())
}

// rootless says whether this test runs in a user namespace (the rootless
// suite runs these same tests as uid 0 of rootlesskit's namespace).
func rootless(t *testing.T) bool {
	data, err := os.ReadFile("/proc/self/uid_map")
	if err != nil {
		t.Fatal(err)
	}
	return strings.Join(strings.Fields(string(data)), " ") != "0 0 4294967295"
}

func needRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root, or uid 0 of a user namespace: the store mounts overlays")
	}
}

// newClient is a client of a fresh store in a temporary directory; its
// mounts are detached at the end, whatever the test did.
func newClient(t *testing.T, driver string) overlay.Client {
	t.Helper()
	needRoot(t)
	dir := t.TempDir()
	t.Cleanup(func() {
		mounts, _ := mountinfo.GetMounts(mountinfo.PrefixFilter(dir))
		for _, m := range mounts {
			unix.Unmount(m.Mountpoint, unix.MNT_DETACH)
		}
	})
	return overlay.Client{Helper: helper, Root: filepath.Join(dir, "root"), RunRoot: filepath.Join(dir, "run"), Driver: driver}
}

// fsType is the file system type mounted at p, "" if p is no mount point.
func fsType(t *testing.T, p string) string {
	t.Helper()
	mounts, err := mountinfo.GetMounts(mountinfo.SingleEntryFilter(p))
	if err != nil {
		t.Fatal(err)
	}
	if len(mounts) == 0 {
		return ""
	}
	return mounts[len(mounts)-1].FSType
}

func readString(t *testing.T, p string) string {
	t.Helper()
	data, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

func exists(p string) bool {
	_, err := os.Lstat(p)
	return err == nil
}

// layerCount is how many layers the store's metadata lists.
func layerCount(t *testing.T, c overlay.Client, driver string) int {
	t.Helper()
	if driver == "fuse-overlayfs" || driver == "auto" {
		driver = "overlay"
	}
	data, err := os.ReadFile(filepath.Join(c.Root, driver+"-layers", "layers.json"))
	if errors.Is(err, os.ErrNotExist) {
		return 0
	}
	if err != nil {
		t.Fatal(err)
	}
	var layers []json.RawMessage
	if err := json.Unmarshal(data, &layers); err != nil {
		t.Fatal(err)
	}
	return len(layers)
}

func TestImportFormats(t *testing.T) {
	c := newClient(t, "auto")
	dir := t.TempDir()
	for _, ext := range []string{".tar", ".tar.gz", ".tar.xz", ".tar.zst", "dir"} {
		t.Run(ext, func(t *testing.T) {
			entries := append(busyboxEntries(t), entry{name: "etc/format", body: ext})
			var path string
			if ext == "dir" {
				path = filepath.Join(dir, "rootfs")
				untar(t, tarBytes(t, entries), path)
			} else {
				path = writeFile(t, dir, "rootfs"+ext, compress(t, tarBytes(t, entries), ext))
			}
			start := time.Now()
			im, err := c.Import(path, "fmt"+ext)
			first := time.Since(start)
			if err != nil {
				t.Fatal(err)
			}
			wantSource := "rootfs-tar"
			if ext == "dir" {
				wantSource = "rootfs-dir"
			} else if want := hexOf([]byte(readString(t, path))); im.ID != want {
				t.Errorf("id %s, want the file's sha256 %s", im.ID, want)
			}
			if im.Source != wantSource || im.Reused || !reflect.DeepEqual(im.Names, []string{"fmt" + ext}) {
				t.Errorf("import: %+v", im)
			}
			start = time.Now()
			again, err := c.Import(path)
			second := time.Since(start)
			if err != nil {
				t.Fatal(err)
			}
			if again.ID != im.ID || !again.Reused {
				t.Errorf("re-import: id %s reused %v, want %s reused", again.ID, again.Reused, im.ID)
			}
			t.Logf("import %s: %v, re-import %v", ext, first, second)
			m, err := c.Mount("fmt"+ext, "c"+ext)
			if err != nil {
				t.Fatal(err)
			}
			if got := readString(t, filepath.Join(m.Rootfs, "etc/format")); got != ext {
				t.Errorf("etc/format: %q, want %q", got, ext)
			}
			if st, err := os.Stat(filepath.Join(m.Rootfs, "bin/sh")); err != nil || st.Mode()&0o111 == 0 {
				t.Errorf("bin/sh: %v %v", st, err)
			}
			if _, err := c.Remove("c" + ext); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// untar unpacks data into dir, for the rootfs directory fixture.
func untar(t *testing.T, data []byte, dir string) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("tar", "-x", "-C", dir)
	cmd.Stdin = strings.NewReader(string(data))
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("tar -x: %v: %s", err, out)
	}
}

func TestImageArchives(t *testing.T) {
	c := newClient(t, "auto")
	dir := t.TempDir()
	docker, dockerID := dockerArchive(t)
	oci, ociID := ociArchive(t)
	for _, tc := range []struct {
		name, file string
		data       []byte
		id         string
		names      []string
		source     string
	}{
		{"docker", "image.tar", docker, dockerID.Encoded(), []string{"fixture:latest"}, "docker-archive"},
		{"docker-gzipped", "image.tar.gz", compress(t, docker, ".tar.gz"), dockerID.Encoded(), []string{"fixture:latest"}, "docker-archive"},
		{"oci", "oci.tar", oci, ociID.Encoded(), []string{"oci-fixture"}, "oci-archive"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := writeFile(t, dir, tc.file, tc.data)
			im, err := c.Import(path)
			if err != nil {
				t.Fatal(err)
			}
			if im.ID != tc.id || im.Source != tc.source || !reflect.DeepEqual(im.Names, tc.names) {
				t.Errorf("import: %+v, want id %s names %v source %s", im, tc.id, tc.names, tc.source)
			}
			want := overlay.Config{Env: wantConfig.Env, Cmd: wantConfig.Cmd, Entrypoint: wantConfig.Entrypoint, WorkingDir: wantConfig.WorkingDir, User: wantConfig.User}
			if !reflect.DeepEqual(*im.Config, want) {
				t.Errorf("config %+v, want %+v", *im.Config, want)
			}
			m, err := c.Mount(path, "ctr-"+tc.name)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Remove("ctr-" + tc.name)
			if m.Image != tc.id || !reflect.DeepEqual(m.Config, want) {
				t.Errorf("mount: %+v", m)
			}
			for p, want := range map[string]bool{"bin/busybox": true, "etc/keep": true, "etc/gone": false, "opt/d/old": false, "opt/d/new": true} {
				if got := exists(filepath.Join(m.Rootfs, p)); got != want {
					t.Errorf("%s exists: %v, want %v (whiteouts of layer 2)", p, got, want)
				}
			}
		})
	}
	// The docker and OCI archives hold the same layers: stored once.
	if n := layerCount(t, c, "auto"); n != 2 {
		t.Errorf("%d layers stored, want 2 (shared by chain id)", n)
	}
}

func TestContainerLayers(t *testing.T) {
	for _, driver := range []string{"auto", "fuse-overlayfs", "vfs"} {
		t.Run(driver, func(t *testing.T) { testContainerLayers(t, driver) })
	}
}

func testContainerLayers(t *testing.T, driver string) {
	if driver == "fuse-overlayfs" {
		if _, err := exec.LookPath("fuse-overlayfs"); err != nil {
			t.Skip("fuse-overlayfs is not installed")
		}
		if f, err := os.OpenFile("/dev/fuse", os.O_RDWR, 0); err != nil {
			t.Skipf("fuse-overlayfs cannot run: %v (setup-test-host.sh makes /dev/fuse 0666)", err)
		} else {
			f.Close()
		}
	}
	c := newClient(t, driver)
	info, err := c.Info()
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("driver %s (rootless %v, host uid %d)", info.Driver, info.Rootless, info.HostUID)
	if driver != "auto" && info.Driver != driver {
		t.Fatalf("info: driver %s, want %s", info.Driver, driver)
	}
	if info.Rootless != rootless(t) {
		t.Errorf("info: rootless %v, want %v", info.Rootless, rootless(t))
	}
	wantFS := map[string]string{"overlay": "overlay", "fuse-overlayfs": "fuse.fuse-overlayfs", "vfs": ""}[info.Driver]
	path := writeFile(t, t.TempDir(), "rootfs.tar", tarBytes(t, busyboxEntries(t)))
	im, err := c.Import(path, "bb")
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	m1, err := c.Mount("bb", "c1")
	t.Logf("mount (new layer): %v", time.Since(start))
	if err != nil {
		t.Fatal(err)
	}
	m2, err := c.Mount(path, "c2")
	if err != nil {
		t.Fatal(err)
	}
	if m1.Rootfs == m2.Rootfs || m1.Layer == m2.Layer || m1.Image != im.ID || m2.Image != im.ID {
		t.Fatalf("two containers, one image: %+v %+v", m1, m2)
	}
	for _, m := range []overlay.Mount{m1, m2} {
		if got := fsType(t, m.Rootfs); got != wantFS {
			t.Errorf("%s: mounted as %q, want %q", m.Rootfs, got, wantFS)
		}
	}
	if err := os.WriteFile(filepath.Join(m1.Rootfs, "etc/hostname"), []byte("c1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(m1.Rootfs, "new"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(filepath.Join(m1.Rootfs, "bin/sh")); err != nil {
		t.Fatal(err)
	}
	if got := readString(t, filepath.Join(m2.Rootfs, "etc/hostname")); got != "image\n" || exists(filepath.Join(m2.Rootfs, "new")) || !exists(filepath.Join(m2.Rootfs, "bin/sh")) {
		t.Errorf("c2 sees c1's writes: hostname %q", got)
	}
	again, err := c.Mount("bb", "c1")
	if err != nil || again.Rootfs != m1.Rootfs || readString(t, filepath.Join(again.Rootfs, "etc/hostname")) != "c1\n" {
		t.Errorf("mount again: %+v, %v", again, err)
	}
	if _, err := c.Mount(path+"x", "c1"); err == nil {
		t.Error("mount of c1 with another image: no error")
	}
	if err := c.RemoveImage("bb"); err == nil || !strings.Contains(err.Error(), "c1") || !strings.Contains(err.Error(), "c2") {
		t.Errorf("rmi while in use: %v, want an error naming c1 and c2", err)
	}
	start = time.Now()
	r, err := c.Remove("c1")
	t.Logf("remove: %v", time.Since(start))
	if err != nil || !r.Removed {
		t.Fatalf("remove c1: %+v %v", r, err)
	}
	if exists(m1.Rootfs) || fsType(t, m1.Rootfs) != "" {
		t.Errorf("%s still there after remove", m1.Rootfs)
	}
	layerDir := filepath.Join(c.Root, "overlay", m1.Layer)
	if info.Driver == "vfs" {
		layerDir = filepath.Join(c.Root, "vfs", "dir", m1.Layer)
	}
	if exists(layerDir) {
		t.Errorf("layer %s still there after remove", layerDir)
	}
	if r, err := c.Remove("c1"); err != nil || r.Removed {
		t.Errorf("remove of a removed container: %+v %v", r, err)
	}
	m3, err := c.Mount("bb", "c3")
	if err != nil {
		t.Fatal(err)
	}
	if got := readString(t, filepath.Join(m3.Rootfs, "etc/hostname")); got != "image\n" || !exists(filepath.Join(m3.Rootfs, "bin/sh")) {
		t.Errorf("the image changed: a new container sees hostname %q", got)
	}
	if _, err := c.Unmount("c2"); err != nil {
		t.Fatal(err)
	}
	if wantFS != "" && fsType(t, m2.Rootfs) != "" {
		t.Errorf("%s still mounted after unmount", m2.Rootfs)
	}
	for _, n := range []string{"c2", "c3"} {
		if _, err := c.Remove(n); err != nil {
			t.Fatal(err)
		}
	}
	if err := c.RemoveImage("bb"); err != nil {
		t.Fatal(err)
	}
	if ims, err := c.Images(); err != nil || len(ims) != 0 {
		t.Errorf("images after rmi: %+v %v", ims, err)
	}
	if n := layerCount(t, c, info.Driver); n != 0 {
		t.Errorf("%d layers left after rmi", n)
	}
}

func TestHostileArchives(t *testing.T) {
	c := newClient(t, "auto")
	dir := t.TempDir()
	outside := t.TempDir() // must stay empty
	cases := []struct {
		name    string
		entries []entry
		entry   string // the entry the error must name
	}{
		{"dot-dot", []entry{{name: "../escape", body: "x"}}, "../escape"},
		{"dot-dot-inside", []entry{{name: "bin/", typ: tar.TypeDir}, {name: "bin/../../escape", body: "x"}}, "bin/../../escape"},
		{"absolute-symlink-then-write", []entry{{name: "evil", typ: tar.TypeSymlink, link: outside}, {name: "evil/pwned", body: "x"}}, "evil/pwned"},
		{"relative-symlink-outside", []entry{{name: "evil", typ: tar.TypeSymlink, link: "../../../../../../../.." + outside}, {name: "evil/pwned", body: "x"}}, "evil"},
		{"nested-symlink-then-write", []entry{{name: "a/", typ: tar.TypeDir}, {name: "a/b", typ: tar.TypeSymlink, link: "/"}, {name: "a/b" + outside + "/pwned", body: "x"}}, "a/b" + outside + "/pwned"},
		{"hard-link-outside", []entry{{name: "hl", typ: tar.TypeLink, link: "../../../../etc/passwd"}}, "hl"},
	}
	if rootless(t) {
		cases = append(cases, struct {
			name    string
			entries []entry
			entry   string
		}{"device-node-rootless", []entry{{name: "dev/", typ: tar.TypeDir}, {name: "dev/null", typ: tar.TypeChar}}, "dev/null"})
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			entries := append(busyboxEntries(t)[:3], tc.entries...)
			path := writeFile(t, dir, tc.name+".tar", tarBytes(t, entries))
			_, err := c.Import(path)
			if err == nil || !strings.Contains(err.Error(), fmt.Sprintf("%q", tc.entry)) {
				t.Errorf("import: %v, want an error naming entry %q", err, tc.entry)
			}
			t.Log(err)
			assertNothingLeft(t, c, outside)
		})
	}
	t.Run("symlink-of-lower-layer", func(t *testing.T) {
		l1 := tarBytes(t, []entry{{name: "evil", typ: tar.TypeSymlink, link: outside}})
		l2 := tarBytes(t, []entry{{name: "evil/pwned", body: "x"}})
		path := writeFile(t, dir, "layered.tar", dockerArchiveOf(t, l1, l2))
		if _, err := c.Import(path); err == nil || !strings.Contains(err.Error(), `"evil/pwned"`) {
			t.Errorf("import: %v, want an error naming entry evil/pwned", err)
		}
		assertNothingLeft(t, c, outside)
	})
	t.Run("truncated-gzip", func(t *testing.T) {
		gz := compress(t, tarBytes(t, busyboxEntries(t)), ".tar.gz")
		path := writeFile(t, dir, "truncated.tar.gz", gz[:len(gz)/2])
		_, err := c.Import(path)
		if err == nil || !strings.Contains(err.Error(), "EOF") {
			t.Errorf("import: %v, want an unexpected EOF", err)
		}
		t.Log(err)
		assertNothingLeft(t, c, outside)
	})
	t.Run("corrupt-gzip", func(t *testing.T) {
		gz := compress(t, tarBytes(t, busyboxEntries(t)), ".tar.gz")
		for i := len(gz) / 2; i < len(gz)/2+64; i++ {
			gz[i] ^= 0x5a
		}
		path := writeFile(t, dir, "corrupt.tar.gz", gz)
		_, err := c.Import(path)
		if err == nil || !strings.Contains(err.Error(), "archive corrupt") {
			t.Errorf("import: %v, want archive corrupt", err)
		}
		t.Log(err)
		assertNothingLeft(t, c, outside)
	})
	if !rootless(t) {
		t.Run("device-node-root", func(t *testing.T) {
			path := writeFile(t, dir, "dev.tar", tarBytes(t, append(busyboxEntries(t), entry{name: "dev/", typ: tar.TypeDir}, entry{name: "dev/null", typ: tar.TypeChar})))
			if _, err := c.Import(path); err != nil {
				t.Errorf("a device node as root: %v", err)
			}
		})
	}
}

func assertNothingLeft(t *testing.T, c overlay.Client, outside string) {
	t.Helper()
	if names, _ := os.ReadDir(outside); len(names) > 0 {
		t.Errorf("written outside the store: %s/%s", outside, names[0].Name())
	}
	if ims, err := c.Images(); err != nil || len(ims) != 0 {
		t.Errorf("images after a failed import: %+v %v", ims, err)
	}
	if n := layerCount(t, c, "auto"); n != 0 {
		t.Errorf("%d layers left after a failed import", n)
	}
}

// TestReimportChangedFile: the import cache keys files by identity, so a
// file rewritten in place is hashed and imported again.
func TestReimportChangedFile(t *testing.T) {
	c := newClient(t, "auto")
	dir := t.TempDir()
	path := writeFile(t, dir, "rootfs.tar", tarBytes(t, busyboxEntries(t)))
	first, err := c.Import(path)
	if err != nil {
		t.Fatal(err)
	}
	if again, err := c.Import(path); err != nil || again.ID != first.ID || !again.Reused {
		t.Fatalf("re-import: %+v %v", again, err)
	}
	writeFile(t, dir, "rootfs.tar", tarBytes(t, append(busyboxEntries(t), entry{name: "etc/changed", body: "y"})))
	changed, err := c.Import(path)
	if err != nil {
		t.Fatal(err)
	}
	if changed.ID == first.ID || changed.Reused {
		t.Errorf("import of the rewritten file: %+v, want a new image", changed)
	}
	// Same content, new file: same image, found by hashing.
	copyPath := writeFile(t, dir, "copy.tar", []byte(readString(t, path)))
	if again, err := c.Import(copyPath); err != nil || again.ID != changed.ID || !again.Reused {
		t.Errorf("import of a copy: %+v %v, want image %s reused", again, err, changed.ID)
	}
}

// TestProgressOnTerminal imports a large tarball with stderr on a
// terminal (script(1) gives it one): a progress bar is drawn there, and
// stdout still carries only the JSON answer.
func TestProgressOnTerminal(t *testing.T) {
	needRoot(t)
	if _, err := exec.LookPath("script"); err != nil {
		t.Skip("script(1) (util-linux) is not installed")
	}
	c := newClient(t, "auto")
	dir := t.TempDir()
	big := make([]byte, 40<<20) // above the 32 MiB threshold
	for i := range big {
		big[i] = byte(i * 7919 >> 3)
	}
	path := writeFile(t, dir, "big.tar", tarBytes(t, []entry{{name: "big", body: string(big)}}))
	stdout := filepath.Join(dir, "stdout")
	cmdline := fmt.Sprintf("%s --root %s --runroot %s import %s >%s", helper, c.Root, c.RunRoot, path, stdout)
	out, err := exec.Command("script", "-qec", cmdline, "/dev/null").CombinedOutput()
	if err != nil {
		t.Fatalf("import on a terminal: %v: %s", err, out)
	}
	if !strings.Contains(string(out), "importing") || !strings.Contains(string(out), "MB") {
		t.Errorf("no progress bar on the terminal: %q", out)
	}
	var im overlay.Image
	if err := json.Unmarshal([]byte(readString(t, stdout)), &im); err != nil || im.ID == "" {
		t.Errorf("stdout is not the JSON answer: %v: %q", err, readString(t, stdout))
	}
}

// TestConcurrent: imports of the same archive and mounts of the same
// container, at once, end with one image and one container layer.
func TestConcurrent(t *testing.T) {
	c := newClient(t, "auto")
	docker, id := dockerArchive(t)
	path := writeFile(t, t.TempDir(), "image.tar", docker)
	const n = 4
	errs := make(chan error, 2*n)
	mounts := make(chan overlay.Mount, n)
	for i := 0; i < n; i++ {
		go func() {
			im, err := c.Import(path)
			if err == nil && im.ID != id.Encoded() {
				err = fmt.Errorf("import: id %s, want %s", im.ID, id.Encoded())
			}
			errs <- err
		}()
		go func() {
			m, err := c.Mount(path, "shared")
			mounts <- m
			errs <- err
		}()
	}
	for i := 0; i < 2*n; i++ {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
	first := <-mounts
	for i := 1; i < n; i++ {
		if m := <-mounts; m.Rootfs != first.Rootfs || m.Layer != first.Layer {
			t.Errorf("concurrent mounts of one container: %+v and %+v", first, m)
		}
	}
	if ims, err := c.Images(); err != nil || len(ims) != 1 {
		t.Errorf("images: %+v %v, want one", ims, err)
	}
	if n := layerCount(t, c, "auto"); n != 3 {
		t.Errorf("%d layers, want 3 (two image layers, one container layer)", n)
	}
	if _, err := c.Remove("shared"); err != nil {
		t.Fatal(err)
	}
}

// TestOCILayoutDir imports an OCI image layout directory (the archive,
// unpacked), the same image as the archive.
func TestOCILayoutDir(t *testing.T) {
	c := newClient(t, "auto")
	oci, id := ociArchive(t)
	dir := filepath.Join(t.TempDir(), "layout")
	untar(t, oci, dir)
	im, err := c.Import(dir)
	if err != nil {
		t.Fatal(err)
	}
	if im.ID != id.Encoded() || im.Source != "oci-archive" || im.Config.WorkingDir != wantConfig.WorkingDir {
		t.Errorf("import of the layout directory: %+v", im)
	}
}

// TestUnprivilegedCaller: outside a user namespace, a user that is not
// root gets one clear line, not a half-made store.
func TestUnprivilegedCaller(t *testing.T) {
	needRoot(t)
	if rootless(t) {
		t.Skip("runs setpriv from the host's root")
	}
	if _, err := exec.LookPath("setpriv"); err != nil {
		t.Skip("setpriv (util-linux) is not installed")
	}
	dir := t.TempDir()
	os.Chmod(dir, 0o777)
	cmd := exec.Command("setpriv", "--reuid=1001", "--regid=1001", "--clear-groups", helper, "--root", filepath.Join(dir, "root"), "info")
	out, err := cmd.CombinedOutput()
	if err == nil || !strings.Contains(string(out), "gtu-storage: uid 1001: gtu-storage runs as root, or as uid 0 of a user namespace") {
		t.Errorf("info as uid 1001: %v: %s", err, out)
	}
	if exists(filepath.Join(dir, "root")) {
		t.Error("the store was created")
	}
}

// TestNames: a name moves to the image imported last, and stays where it
// was when an import fails.
func TestNames(t *testing.T) {
	c := newClient(t, "auto")
	dir := t.TempDir()
	a := writeFile(t, dir, "a.tar", tarBytes(t, busyboxEntries(t)))
	b := writeFile(t, dir, "b.tar", tarBytes(t, append(busyboxEntries(t), entry{name: "etc/b", body: "b"})))
	bad := writeFile(t, dir, "bad.tar", tarBytes(t, []entry{{name: "../x", body: "x"}}))
	imA, err := c.Import(a, "app")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Import(bad, "app"); err == nil {
		t.Fatal("import of a hostile archive: no error")
	}
	if m, err := c.Mount("app", "x"); err != nil || m.Image != imA.ID {
		t.Errorf("after a failed import, app is %+v %v, want image %s", m, err, imA.ID)
	}
	imB, err := c.Import(b, "app")
	if err != nil {
		t.Fatal(err)
	}
	ims, err := c.Images()
	if err != nil {
		t.Fatal(err)
	}
	for _, im := range ims {
		want := []string{}
		if im.ID == imB.ID {
			want = []string{"app"}
		}
		if !reflect.DeepEqual(im.Names, want) {
			t.Errorf("image %s: names %v, want %v", im.ID, im.Names, want)
		}
	}
	if _, err := c.Remove("x"); err != nil {
		t.Fatal(err)
	}
}
