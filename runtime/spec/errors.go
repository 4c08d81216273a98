package spec

import (
	"errors"
	"fmt"
)

// Sentinels for errors.Is. Every error this package returns carries exactly
// one of them; the message itself names the file or config.json field.
var (
	// ErrNoConfig means the bundle has no config.json.
	ErrNoConfig = errors.New("config.json not found")
	// ErrMalformed means config.json is not JSON, or a value has the wrong
	// JSON type for its field.
	ErrMalformed = errors.New("config.json is malformed")
	// ErrInvalid means a field breaks the runtime spec, or a rule runc
	// enforces that gtu keeps (e.g. a hostname needs a uts namespace).
	ErrInvalid = errors.New("invalid config.json")
	// ErrUnsupported means a valid config asks for something gtu cannot do
	// yet (joining an existing namespace, idmapped mounts).
	ErrUnsupported = errors.New("not supported by gtu")
	// ErrCapNotGrantable means a requested capability is outside gtu's own
	// bounding set, so no process gtu starts can ever hold it.
	ErrCapNotGrantable = errors.New("capability outside gtu's bounding set")
)

// specError keeps the exact message the user sees while still matching its
// sentinel (and, for a missing config.json, fs.ErrNotExist).
type specError struct {
	msg   string
	kinds []error
}

func (e *specError) Error() string   { return e.msg }
func (e *specError) Unwrap() []error { return e.kinds }

// fieldErr builds "field: message" wrapping kind.
func fieldErr(kind error, field, format string, args ...any) error {
	return &specError{msg: field + ": " + fmt.Sprintf(format, args...), kinds: []error{kind}}
}

// problems collects validation errors so that Validate reports all of them
// at once instead of making the user fix config.json one line at a time.
type problems []error

func (p *problems) add(field, format string, args ...any) {
	*p = append(*p, fieldErr(ErrInvalid, field, format, args...))
}
