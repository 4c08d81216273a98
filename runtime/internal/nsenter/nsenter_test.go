package nsenter

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"runtime"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

func TestArgs(t *testing.T) {
	got, err := Args(3, 4, []Join{{unix.CLONE_NEWNS, 5}, {unix.CLONE_NEWPID, 6}}, []int{7, 8}, 9, unix.CLONE_NEWUTS, []string{"gtu", "init"})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"gtu-nsenter", "3", "4", "131072:5,536870912:6", "7,8", "9", "67108864", "--", "gtu", "init"}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("Args = %q, want %q", got, want)
	}
	got, err = Args(3, 4, nil, nil, -1, 0, []string{"gtu"})
	if err != nil || strings.Join(got, " ") != "gtu-nsenter 3 4   -1 0 -- gtu" {
		t.Fatalf("Args without namespaces = %q, %v", got, err)
	}
	if _, err := Args(3, 4, nil, nil, -1, 0, nil); err == nil {
		t.Fatal("empty argv accepted")
	}
	if _, err := Args(3, 4, []Join{{0, 5}}, nil, -1, 0, []string{"gtu"}); err == nil {
		t.Fatal("flag 0 accepted")
	}
	if _, err := Args(3, 4, []Join{{unix.CLONE_NEWNS, -1}}, nil, -1, 0, []string{"gtu"}); err == nil {
		t.Fatal("fd -1 accepted")
	}
}

func TestOrder(t *testing.T) {
	ns := []Join{{unix.CLONE_NEWNS, 1}, {unix.CLONE_NEWUSER, 2}, {unix.CLONE_NEWNET, 3}}
	want := []Join{{unix.CLONE_NEWNS, 1}, {unix.CLONE_NEWNET, 3}, {unix.CLONE_NEWUSER, 2}}
	if got := Order(ns); !reflect.DeepEqual(got, want) {
		t.Fatalf("Order = %v, want %v", got, want)
	}
}

// TestImageUpToDate rebuilds the helper and compares it with the embedded
// image, so the committed binary is always what c/nsenter.c says.
func TestImageUpToDate(t *testing.T) {
	if runtime.GOARCH != "amd64" {
		t.Skip("the helper exists for amd64 only")
	}
	if _, err := exec.LookPath("gcc"); err != nil {
		t.Skip("needs gcc to rebuild the helper")
	}
	out := filepath.Join(t.TempDir(), "nsenter.bin")
	if b, err := exec.Command("sh", "build.sh", out).CombinedOutput(); err != nil {
		t.Fatalf("build.sh: %v: %s", err, b)
	}
	built, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(built, image) {
		t.Fatal("nsenter_amd64.bin is stale: run `sh runtime/internal/nsenter/build.sh` and commit it")
	}
}

// TestJoin enters the mount, uts and pid namespaces of a process made by
// unshare(1) and checks what busybox sees there.
func TestJoin(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to join namespaces")
	}
	busybox, err := exec.LookPath("busybox")
	if err != nil {
		t.Skip("needs busybox (package busybox-static)")
	}
	if runtime.GOARCH != "amd64" {
		t.Skip("the helper exists for amd64 only")
	}
	// The target: new uts, pid and mount namespaces, hostname "inside".
	target := exec.Command("unshare", "--fork", "--pid", "--mount", "--uts", "--mount-proc",
		busybox, "sh", "-c", "hostname inside; echo ready; exec sleep 100")
	stdout, err := target.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := target.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = target.Process.Kill(); _ = target.Wait() })
	buf := make([]byte, 6)
	if _, err := stdout.Read(buf); err != nil || string(buf) != "ready\n" {
		t.Fatalf("target did not start: %q %v", buf, err)
	}
	// unshare --fork: the namespaces belong to its child.
	kids, err := os.ReadFile("/proc/" + itoa(target.Process.Pid) + "/task/" + itoa(target.Process.Pid) + "/children")
	if err != nil || len(strings.Fields(string(kids))) != 1 {
		t.Fatalf("children of unshare: %q %v", kids, err)
	}
	pid := strings.Fields(string(kids))[0]

	helper, err := Open()
	if err != nil {
		t.Fatal(err)
	}
	defer helper.Close()
	exe, err := os.Open(busybox)
	if err != nil {
		t.Fatal(err)
	}
	defer exe.Close()
	var files []*os.File
	add := func(f *os.File) int { files = append(files, f); return 2 + len(files) }
	errR, errW, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer errR.Close()
	errFD := add(errW)
	exeFD := add(exe)
	var joins []Join
	for _, ns := range []struct {
		name string
		flag uintptr
	}{{"uts", unix.CLONE_NEWUTS}, {"pid", unix.CLONE_NEWPID}, {"mnt", unix.CLONE_NEWNS}} {
		f, err := os.Open("/proc/" + pid + "/ns/" + ns.name)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		joins = append(joins, Join{ns.flag, add(f)})
	}
	// A new network namespace for the child on top of the joined ones.
	args, err := Args(errFD, exeFD, joins, nil, -1, unix.CLONE_NEWNET, []string{"sh", "-c", "echo $(hostname) $$; grep -c : /proc/self/net/dev"})
	if err != nil {
		t.Fatal(err)
	}
	helperFD := add(helper)
	cmd := exec.Command("/proc/self/fd/"+itoa(helperFD), args[1:]...)
	cmd.Args = args
	cmd.ExtraFiles = files
	var out bytes.Buffer
	cmd.Stdout = &out
	if err := cmd.Run(); err != nil {
		errW.Close()
		msg := make([]byte, 200)
		n, _ := errR.Read(msg)
		t.Fatalf("helper: %v: %s", err, msg[:n])
	}
	errW.Close()
	msg := make([]byte, 64)
	n, _ := errR.Read(msg)
	child, err := ParsePID(string(msg[:n]))
	if err != nil {
		t.Fatal(err)
	}
	// The exec'd child is ours (CLONE_PARENT): reap it.
	var ws unix.WaitStatus
	if _, err := unix.Wait4(child, &ws, 0, nil); err != nil {
		t.Fatalf("wait for the joined child: %v", err)
	}
	if !ws.Exited() || ws.ExitStatus() != 0 {
		t.Fatalf("joined child: %v", ws)
	}
	// Its stdout was our buffer's pipe; wait until the copy has finished.
	got := strings.Fields(out.String())
	// In a new network namespace only lo is there.
	if len(got) != 3 || got[0] != "inside" || got[1] == pid || got[2] != "1" {
		t.Fatalf("inside the namespaces the child saw %q (host pid of the target: %s)", out.String(), pid)
	}
}

func itoa(n int) string { return strconv.Itoa(n) }

func TestParsePID(t *testing.T) {
	if pid, err := ParsePID("1234\n"); err != nil || pid != 1234 {
		t.Fatalf("ParsePID(1234) = %d, %v", pid, err)
	}
	if _, err := ParsePID("nsenter: setns flag 131072 : errno 1\n"); err == nil || !strings.HasPrefix(err.Error(), "nsenter: setns") {
		t.Fatalf("ParsePID(error line) = %v", err)
	}
	if _, err := ParsePID(""); err == nil {
		t.Fatal("ParsePID(\"\") accepted")
	}
	if _, err := ParsePID("0"); err == nil {
		t.Fatal("ParsePID(0) accepted")
	}
}
