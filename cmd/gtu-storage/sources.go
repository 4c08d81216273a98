package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
)

// sourcesFile in the store root maps files already imported, by identity
// (device, inode, size, mtime, ctime), to their image: a re-import of an
// unchanged file (gtu --rootfs FILE at every container start) skips
// hashing it. Any change to the file changes its ctime, which no one can
// set, so a stale entry cannot match; entries whose image is gone are
// ignored.
const sourcesFile = "gtu-sources.json"

type sourceEntry struct {
	ID    string   `json:"id"`
	Names []string `json:"names,omitempty"` // the archive's own (RepoTags)
}

func fileKey(st os.FileInfo) string {
	s, ok := st.Sys().(*syscall.Stat_t)
	if !ok {
		return ""
	}
	return fmt.Sprintf("%d:%d:%d:%d.%d:%d.%d", s.Dev, s.Ino, s.Size, s.Mtim.Sec, s.Mtim.Nsec, s.Ctim.Sec, s.Ctim.Nsec)
}

func (a *app) loadSources() map[string]sourceEntry {
	m := map[string]sourceEntry{}
	data, err := os.ReadFile(filepath.Join(a.root, sourcesFile))
	if err == nil {
		if err := json.Unmarshal(data, &m); err != nil {
			a.log.Warn("ignoring unreadable import cache", "file", filepath.Join(a.root, sourcesFile), "err", err)
			m = map[string]sourceEntry{}
		}
	}
	return m
}

// knownSource is the image an unchanged file was imported as, if any.
func (a *app) knownSource(st os.FileInfo) *imageSpec {
	key := fileKey(st)
	if key == "" {
		return nil
	}
	e, ok := a.loadSources()[key]
	if !ok {
		return nil
	}
	if _, err := a.store.Image(e.ID); err != nil {
		return nil
	}
	return &imageSpec{id: e.ID, names: e.Names, cached: true}
}

// rememberSource records path's import; failures only cost a hash later.
func (a *app) rememberSource(path string, spec *imageSpec, archiveNames []string) {
	st, err := os.Stat(path)
	if err != nil || !st.Mode().IsRegular() {
		return
	}
	key := fileKey(st)
	if key == "" {
		return
	}
	m := a.loadSources()
	for k, e := range m {
		if _, err := a.store.Image(e.ID); err != nil {
			delete(m, k)
		}
	}
	m[key] = sourceEntry{ID: spec.id, Names: archiveNames}
	data, err := json.Marshal(m)
	if err != nil {
		return
	}
	tmp := filepath.Join(a.root, sourcesFile+".tmp"+fmt.Sprint(os.Getpid()))
	if err := os.WriteFile(tmp, data, 0o600); err != nil {
		a.log.Debug("write import cache", "err", err)
		return
	}
	if err := os.Rename(tmp, filepath.Join(a.root, sourcesFile)); err != nil {
		os.Remove(tmp)
	}
}
