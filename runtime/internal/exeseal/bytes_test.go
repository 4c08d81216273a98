package exeseal

import (
	"os"
	"os/exec"
	"strconv"
	"testing"
)

func TestBytesRunsAndIsSealed(t *testing.T) {
	image, err := os.ReadFile("/bin/true")
	if err != nil {
		t.Skipf("needs /bin/true: %v", err)
	}
	f, err := Bytes("test-true", image)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	cmd := exec.Command("/proc/self/fd/" + strconv.Itoa(3))
	cmd.ExtraFiles = []*os.File{f}
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("exec the sealed copy: %v: %s", err, out)
	}
	// The seals refuse writes (an open for writing may succeed).
	if w, err := os.OpenFile("/proc/self/fd/"+strconv.Itoa(int(f.Fd())), os.O_WRONLY, 0); err == nil {
		_, werr := w.Write([]byte("x"))
		w.Close()
		if werr == nil {
			t.Fatal("wrote into the sealed copy")
		}
	}
}
