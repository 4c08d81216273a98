package protocol

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"reflect"
	"sync"
)

// Why not encoding/json on the socket: the init stage is a fresh process
// for every container start and every exec, and encoding/json's first
// decode builds its field tables and an encoder for every type reachable
// from Message (typeFields does so eagerly), on top of the page faults of
// its code: 0.5-0.75 ms for one 2 KB bootstrap, measured in a fresh
// process, and up to 2 ms inside the init stage under load (uprobes). Both
// ends are always the same build (the init stage is this very binary, or
// its sealed image: see runtime/internal/exeseal), so a positional encoding
// walked by reflection needs no field names and no schema: a record is a
// frame header (length, then a fingerprint of Message's type layout, which
// catches a mismatched build instead of misreading it) and the values of
// the exported fields in declaration order. It decodes in ~20 µs cold.

// maxRecord bounds a record (a seccomp BPF program is at most 4096 * 8
// bytes; plans are a few KB).
const maxRecord = 16 << 20

// frameHeader is the record length (payload only) and the layout
// fingerprint, both big-endian uint32 and uint64.
const frameHeader = 4 + 8

var errBadRecord = errors.New("malformed record")

// layout is the fingerprint of Message's type layout: field names, types
// and kinds, recursively. Computed once per process.
var layout = sync.OnceValue(func() uint64 {
	h := fnv.New64a()
	seen := map[reflect.Type]bool{}
	var walk func(t reflect.Type)
	walk = func(t reflect.Type) {
		fmt.Fprintf(h, "%s/%s;", t.String(), t.Kind())
		if seen[t] {
			return
		}
		seen[t] = true
		switch t.Kind() {
		case reflect.Pointer, reflect.Slice:
			walk(t.Elem())
		case reflect.Map:
			walk(t.Key())
			walk(t.Elem())
		case reflect.Struct:
			for i := 0; i < t.NumField(); i++ {
				if f := t.Field(i); wireField(f) {
					fmt.Fprintf(h, "%s:", f.Name)
					walk(f.Type)
				}
			}
		}
	}
	walk(reflect.TypeFor[Message]())
	return h.Sum64()
})

// wireField reports whether a struct field crosses the socket: the
// exported fields that encoding/json would carry.
func wireField(f reflect.StructField) bool {
	return f.IsExported() && f.Tag.Get("json") != "-"
}

// writeRecord encodes m into one record and writes it with a single write.
func writeRecord(w io.Writer, m *Message) error {
	buf := make([]byte, frameHeader, 512)
	buf, err := appendValue(buf, reflect.ValueOf(m).Elem())
	if err != nil {
		return err
	}
	if len(buf)-frameHeader > maxRecord {
		return fmt.Errorf("record of %d bytes exceeds %d", len(buf)-frameHeader, maxRecord)
	}
	binary.BigEndian.PutUint32(buf, uint32(len(buf)-frameHeader))
	binary.BigEndian.PutUint64(buf[4:], layout())
	_, err = w.Write(buf)
	return err
}

// readRecord reads one record into m. A clean EOF before the header is
// io.EOF; a short record is io.ErrUnexpectedEOF.
func readRecord(r io.Reader, m *Message) error {
	var hdr [frameHeader]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return err
	}
	n := binary.BigEndian.Uint32(hdr[:])
	if n > maxRecord {
		return fmt.Errorf("%w: length %d exceeds %d", errBadRecord, n, maxRecord)
	}
	if fp := binary.BigEndian.Uint64(hdr[4:]); fp != layout() {
		return fmt.Errorf("%w: message layout %016x, want %016x (gtu and its init stage are different builds)", errBadRecord, fp, layout())
	}
	payload := make([]byte, n)
	if _, err := io.ReadFull(r, payload); err != nil {
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return err
	}
	d := decoder{b: payload}
	d.value(reflect.ValueOf(m).Elem())
	if d.err == nil && len(d.b) != 0 {
		d.err = fmt.Errorf("%w: %d bytes left over", errBadRecord, len(d.b))
	}
	return d.err
}

// appendValue appends v's encoding: bools as one byte, signed integers as
// varints, unsigned ones as uvarints, strings and []byte as a length and
// the bytes, pointers, slices and maps as 0 for nil or 1 (pointers) and
// length+1 (slices, maps) before their contents, structs as their wire
// fields in order.
func appendValue(b []byte, v reflect.Value) ([]byte, error) {
	switch v.Kind() {
	case reflect.Bool:
		if v.Bool() {
			return append(b, 1), nil
		}
		return append(b, 0), nil
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return binary.AppendVarint(b, v.Int()), nil
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		return binary.AppendUvarint(b, v.Uint()), nil
	case reflect.String:
		b = binary.AppendUvarint(b, uint64(v.Len()))
		return append(b, v.String()...), nil
	case reflect.Pointer:
		if v.IsNil() {
			return append(b, 0), nil
		}
		return appendValue(append(b, 1), v.Elem())
	case reflect.Slice:
		if v.IsNil() {
			return append(b, 0), nil
		}
		b = binary.AppendUvarint(b, uint64(v.Len())+1)
		if v.Type().Elem().Kind() == reflect.Uint8 {
			return append(b, v.Bytes()...), nil
		}
		var err error
		for i := 0; i < v.Len() && err == nil; i++ {
			b, err = appendValue(b, v.Index(i))
		}
		return b, err
	case reflect.Map:
		if v.IsNil() {
			return append(b, 0), nil
		}
		b = binary.AppendUvarint(b, uint64(v.Len())+1)
		var err error
		for it := v.MapRange(); it.Next() && err == nil; {
			if b, err = appendValue(b, it.Key()); err == nil {
				b, err = appendValue(b, it.Value())
			}
		}
		return b, err
	case reflect.Struct:
		t := v.Type()
		var err error
		for i := 0; i < t.NumField() && err == nil; i++ {
			if wireField(t.Field(i)) {
				b, err = appendValue(b, v.Field(i))
			}
		}
		return b, err
	}
	return b, fmt.Errorf("protocol: cannot encode a %s (%s)", v.Type(), v.Kind())
}

// decoder reads what appendValue wrote; the first error sticks.
type decoder struct {
	b   []byte
	err error
}

func (d *decoder) fail(format string, args ...any) {
	if d.err == nil {
		d.err = fmt.Errorf("%w: "+format, append([]any{errBadRecord}, args...)...)
	}
}

func (d *decoder) uvarint() uint64 { return readVar(d, binary.Uvarint, "uvarint") }

func (d *decoder) varint() int64 { return readVar(d, binary.Varint, "varint") }

// readVar reads one varint-encoded number with read (binary.Uvarint or
// binary.Varint).
func readVar[T uint64 | int64](d *decoder, read func([]byte) (T, int), what string) T {
	if d.err != nil {
		return 0
	}
	x, n := read(d.b)
	if n <= 0 {
		d.fail("bad %s", what)
		return 0
	}
	d.b = d.b[n:]
	return x
}

// length reads a length (or length+1 for nilable kinds) that must fit in
// the rest of the record, at least one byte per element.
func (d *decoder) length() int {
	n := d.uvarint()
	if n > uint64(len(d.b)) {
		d.fail("length %d beyond the record", n)
		return 0
	}
	return int(n)
}

func (d *decoder) byte() byte {
	if d.err != nil {
		return 0
	}
	if len(d.b) == 0 {
		d.fail("truncated")
		return 0
	}
	c := d.b[0]
	d.b = d.b[1:]
	return c
}

func (d *decoder) bytes(n int) []byte {
	if d.err != nil {
		return nil
	}
	out := d.b[:n:n]
	d.b = d.b[n:]
	return out
}

func (d *decoder) value(v reflect.Value) {
	if d.err != nil {
		return
	}
	switch v.Kind() {
	case reflect.Bool:
		v.SetBool(d.byte() != 0)
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		x := d.varint()
		if v.OverflowInt(x) {
			d.fail("%d overflows %s", x, v.Type())
			return
		}
		v.SetInt(x)
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		x := d.uvarint()
		if v.OverflowUint(x) {
			d.fail("%d overflows %s", x, v.Type())
			return
		}
		v.SetUint(x)
	case reflect.String:
		v.SetString(string(d.bytes(d.length())))
	case reflect.Pointer:
		if d.byte() == 0 {
			return
		}
		p := reflect.New(v.Type().Elem())
		d.value(p.Elem())
		v.Set(p)
	case reflect.Slice:
		n := d.length()
		if n == 0 {
			return
		}
		n--
		if v.Type().Elem().Kind() == reflect.Uint8 {
			v.SetBytes(append([]byte(nil), d.bytes(n)...))
			return
		}
		s := reflect.MakeSlice(v.Type(), n, n)
		for i := 0; i < n && d.err == nil; i++ {
			d.value(s.Index(i))
		}
		v.Set(s)
	case reflect.Map:
		n := d.length()
		if n == 0 {
			return
		}
		n--
		m := reflect.MakeMapWithSize(v.Type(), n)
		for i := 0; i < n && d.err == nil; i++ {
			k := reflect.New(v.Type().Key()).Elem()
			e := reflect.New(v.Type().Elem()).Elem()
			d.value(k)
			d.value(e)
			m.SetMapIndex(k, e)
		}
		v.Set(m)
	case reflect.Struct:
		t := v.Type()
		for i := 0; i < t.NumField() && d.err == nil; i++ {
			if wireField(t.Field(i)) {
				d.value(v.Field(i))
			}
		}
	default:
		d.fail("cannot decode a %s (%s)", v.Type(), v.Kind())
	}
}
