package container

import (
	"os"
	"path/filepath"
	"testing"
)

func writeConfig(t *testing.T, hostname string) string {
	t.Helper()
	dir := t.TempDir()
	data := `{"ociVersion":"1.2.0","hostname":"` + hostname + `","root":{"path":"rootfs"},"process":{"args":["true"],"cwd":"/"}}`
	if err := os.WriteFile(filepath.Join(dir, "config.json"), []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

// A preloaded config.json is used only for the bundle it was read from,
// and only once.
func TestPrepareSpecOnlyForItsBundle(t *testing.T) {
	a, b := writeConfig(t, "a"), writeConfig(t, "b")
	PrepareSpec(a)
	s, err := loadSpec(b)
	if err != nil || s.Hostname != "b" {
		t.Fatalf("loadSpec(%s) after PrepareSpec(%s) = %+v, %v; want hostname b", b, a, s, err)
	}
	s, err = loadSpec(a)
	if err != nil || s.Hostname != "a" {
		t.Fatalf("loadSpec(%s) = %+v, %v; want hostname a", a, s, err)
	}
	if preloaded.ch != nil {
		t.Error("the preloaded result was not taken")
	}
	if err := os.WriteFile(filepath.Join(a, "config.json"), []byte("{"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := loadSpec(a); err == nil {
		t.Error("a second loadSpec used the stale preloaded config")
	}
}
