package mounts

import (
	"reflect"
	"strings"
	"testing"
)

func TestUnderReader(t *testing.T) {
	mi := strings.Join([]string{
		"27 1 254:0 / / rw - ext4 /dev/vda rw",
		`54 27 254:0 /b /tmp/bundles/ocitest1 rw - ext4 /dev/vda rw`,
		`55 54 0:43 / /tmp/bundles/ocitest1/proc rw - proc proc rw`,
		`56 27 0:44 / /tmp/bundles\040x rw - tmpfs tmpfs rw`,
		`57 27 0:45 / /tmp/bundles2 rw - tmpfs tmpfs rw`,
	}, "\n")
	got := UnderReader(strings.NewReader(mi), "/tmp/bundles")
	want := []string{"/tmp/bundles/ocitest1/proc", "/tmp/bundles/ocitest1"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %q, want %q", got, want)
	}
	if got := UnderReader(strings.NewReader(mi), "/tmp/bundles x"); len(got) != 1 {
		t.Errorf("escaped mount point: got %q", got)
	}
	if got := Under("/nonexistent-gtu-test-dir"); len(got) != 0 {
		t.Errorf("Under(missing) = %q", got)
	}
}
