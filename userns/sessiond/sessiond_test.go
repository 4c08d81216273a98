package sessiond

import (
	"testing"

	"github.com/rootless-containers/rootlesskit/v3/pkg/parent"

	"github.com/gophertainer/gtu/userns"
)

// userns reads RootlessKit's state files by name; they must agree.
func TestStateFileNames(t *testing.T) {
	if parent.StateFileLock != userns.FileLock || parent.StateFileChildPID != userns.FileChildPID {
		t.Fatalf("userns uses %q/%q, RootlessKit writes %q/%q", userns.FileLock, userns.FileChildPID, parent.StateFileLock, parent.StateFileChildPID)
	}
}
