// Package state keeps gtu's per-container state directories under the --root
// directory (e.g. /run/gtu): one directory per container holding state.json,
// a .lock file that serialises the verbs acting on the container, and the
// exec.fifo that `gtu start` opens to let the container's init run.
//
// The root normally lives on tmpfs and this code runs on every container
// start, so nothing here fsyncs and no call stats a path it is about to open.
package state

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// maxIDLen matches runc's limit, so ids valid for one are valid for the other.
const maxIDLen = 1024

// Store is the --root directory (e.g. /run/gtu); created 0700 on first use.
type Store struct{ Root string }

// ValidateID reports whether id may name a container: like runc, it must be
// non-empty, at most 1024 bytes, not "." or "..", and made only of
// [A-Za-z0-9_+.-]. The id becomes a path component, so this is also what
// keeps a hostile id from escaping the root. Errors wrap ErrInvalidID.
func ValidateID(id string) error {
	switch {
	case id == "":
		return fmt.Errorf("%w: empty", ErrInvalidID)
	case len(id) > maxIDLen:
		return fmt.Errorf("%w: %d bytes long, at most %d allowed", ErrInvalidID, len(id), maxIDLen)
	case id == "." || id == "..":
		return fmt.Errorf("%w %q", ErrInvalidID, id)
	}
	for i := 0; i < len(id); i++ {
		if !idChar(id[i]) {
			return fmt.Errorf("%w %q: character %q at offset %d is not one of [A-Za-z0-9_+.-]", ErrInvalidID, id, id[i], i)
		}
	}
	return nil
}

func idChar(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' ||
		c == '_' || c == '+' || c == '.' || c == '-'
}

// Create makes the state directory of a new container, exclusively: when the
// directory already exists the error wraps ErrExists. The root is created
// (0700) only when the first mkdir reports it missing, to save a stat on the
// common path.
func (s Store) Create(id string) (*Dir, error) {
	if err := ValidateID(id); err != nil {
		return nil, err
	}
	d := newDir(id, filepath.Join(s.Root, id))
	err := os.Mkdir(d.path, 0o700)
	if errors.Is(err, fs.ErrNotExist) {
		if err := os.MkdirAll(s.Root, 0o700); err != nil {
			return nil, fmt.Errorf("create state root: %w", err)
		}
		err = os.Mkdir(d.path, 0o700)
	}
	switch {
	case err == nil:
		return d, nil
	case errors.Is(err, fs.ErrExist):
		return nil, fmt.Errorf("container %q %w (%s)", id, ErrExists, d.path)
	default:
		return nil, fmt.Errorf("container %q: %w", id, err)
	}
}

// Open returns the directory of an existing container; a missing one gives
// an error wrapping ErrNotExist: `container "x" does not exist`. The directory
// may not hold state.json yet (create is still running); Load reports that.
func (s Store) Open(id string) (*Dir, error) {
	if err := ValidateID(id); err != nil {
		return nil, err
	}
	d := newDir(id, filepath.Join(s.Root, id))
	fi, err := os.Stat(d.path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil, fmt.Errorf("container %q %w", id, ErrNotExist)
	case err != nil:
		return nil, fmt.Errorf("container %q: %w", id, err)
	case !fi.IsDir():
		return nil, fmt.Errorf("container %q: %s is not a directory", id, d.path)
	}
	return d, nil
}

// List returns the ids of the containers in the store, i.e. of the
// directories holding a state.json, sorted. Directories without state.json
// (a create in progress or one that died half way) and names that are not
// valid ids are skipped. A missing root means no containers.
func (s Store) List() ([]string, error) {
	// os.ReadDir sorts by name and takes the type from the dirent, so only
	// the state.json probe costs a syscall per container.
	ents, err := os.ReadDir(s.Root)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("list containers: %w", err)
	}
	var ids []string
	for _, e := range ents {
		if !e.IsDir() || ValidateID(e.Name()) != nil {
			continue
		}
		_, err := os.Stat(filepath.Join(s.Root, e.Name(), stateFile))
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("list containers: %w", err)
		}
		ids = append(ids, e.Name())
	}
	return ids, nil
}
