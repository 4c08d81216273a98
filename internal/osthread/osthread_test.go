package osthread

import (
	"errors"
	"testing"

	"golang.org/x/sys/unix"
)

func TestDisposableNeverMainThread(t *testing.T) {
	for i := 0; i < 50; i++ {
		var tid int
		err := Disposable(func() error {
			tid = unix.Gettid()
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if tid == unix.Getpid() {
			t.Fatalf("run %d: fn ran on the main thread", i)
		}
	}
}

func TestDisposableError(t *testing.T) {
	want := errors.New("boom")
	if err := Disposable(func() error { return want }); !errors.Is(err, want) {
		t.Fatalf("got %v, want %v", err, want)
	}
}
