package protocol

import (
	"bytes"
	"encoding/binary"
	"errors"
	"net"
	"reflect"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/gophertainer/gtu/runtime/spec"
)

func TestSequence(t *testing.T) {
	type step struct {
		from Role
		kind Kind
		ok   bool
	}
	tests := []struct {
		name  string
		steps []step
		done  bool
	}{
		{"happy", []step{{Parent, KindBootstrap, true}, {Child, KindReady, true}}, true},
		{"child fails after bootstrap", []step{{Parent, KindBootstrap, true}, {Child, KindError, true}}, true},
		{"child fails first", []step{{Child, KindError, true}}, true},
		{"ready before bootstrap", []step{{Child, KindReady, false}}, false},
		{"child sends bootstrap", []step{{Child, KindBootstrap, false}}, false},
		{"parent sends ready", []step{{Parent, KindBootstrap, true}, {Parent, KindReady, false}}, false},
		{"two bootstraps", []step{{Parent, KindBootstrap, true}, {Parent, KindBootstrap, false}}, false},
		{"after done", []step{{Parent, KindBootstrap, true}, {Child, KindReady, true}, {Child, KindError, false}}, true},
		{"unknown kind", []step{{Parent, Kind("hello"), false}}, false},
		{"createRuntime hooks", []step{{Parent, KindBootstrap, true}, {Child, KindCreateRuntime, true},
			{Parent, KindResume, true}, {Child, KindReady, true}}, true},
		{"child fails after resume", []step{{Parent, KindBootstrap, true}, {Child, KindCreateRuntime, true},
			{Parent, KindResume, true}, {Child, KindError, true}}, true},
		{"createRuntime before bootstrap", []step{{Child, KindCreateRuntime, false}}, false},
		{"parent sends createRuntime", []step{{Parent, KindBootstrap, true}, {Parent, KindCreateRuntime, false}}, false},
		{"child sends resume", []step{{Parent, KindBootstrap, true}, {Child, KindCreateRuntime, true}, {Child, KindResume, false}}, false},
		{"resume unasked", []step{{Parent, KindBootstrap, true}, {Parent, KindResume, false}}, false},
		{"ready while the parent runs hooks", []step{{Parent, KindBootstrap, true}, {Child, KindCreateRuntime, true}, {Child, KindReady, false}}, false},
		{"error while the parent runs hooks", []step{{Parent, KindBootstrap, true}, {Child, KindCreateRuntime, true}, {Child, KindError, false}}, false},
		{"createRuntime twice", []step{{Parent, KindBootstrap, true}, {Child, KindCreateRuntime, true},
			{Parent, KindResume, true}, {Child, KindCreateRuntime, false}}, false},
		{"two resumes", []step{{Parent, KindBootstrap, true}, {Child, KindCreateRuntime, true},
			{Parent, KindResume, true}, {Parent, KindResume, false}}, false},
		{"createRuntime after ready", []step{{Parent, KindBootstrap, true}, {Child, KindReady, true}, {Child, KindCreateRuntime, false}}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var s Sequence
			for i, st := range tt.steps {
				err := s.Next(st.from, st.kind)
				if (err == nil) != st.ok {
					t.Fatalf("step %d (%s %s): err=%v, want ok=%v", i, st.from, st.kind, err, st.ok)
				}
				if err != nil && !errors.Is(err, ErrOrder) {
					t.Fatalf("step %d: error %v is not ErrOrder", i, err)
				}
			}
			if s.Done() != tt.done {
				t.Fatalf("Done()=%v, want %v", s.Done(), tt.done)
			}
		})
	}
}

func TestConnRoundTrip(t *testing.T) {
	a, b := net.Pipe()
	defer a.Close()
	defer b.Close()
	parent, child := NewConn(a, Parent), NewConn(b, Child)
	plan := &spec.Plan{ID: "c1", Process: spec.Process{Args: []string{"true"}}}
	errc := make(chan error, 1)
	go func() { errc <- parent.Send(&Message{Kind: KindBootstrap, Plan: plan, LogLevel: -4}) }()
	m, err := child.Recv()
	if err != nil {
		t.Fatal(err)
	}
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
	if m.Plan == nil || m.Plan.ID != "c1" || m.Plan.Process.Args[0] != "true" || m.LogLevel != -4 {
		t.Fatalf("bad bootstrap: %+v", m)
	}
	go func() { errc <- child.Send(&Message{Kind: KindError, Error: "mounts[1] /proc: boom"}) }()
	_, err = parent.Recv()
	var ce *ChildError
	if !errors.As(err, &ce) || ce.Msg != "mounts[1] /proc: boom" || ce.Error() != ce.Msg {
		t.Fatalf("want ChildError, got %v", err)
	}
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
	// Sending out of turn is refused locally without writing.
	if err := child.Send(&Message{Kind: KindReady}); !errors.Is(err, ErrOrder) {
		t.Fatalf("want ErrOrder, got %v", err)
	}
}

// The createRuntime round-trip, with the state the init's hooks need.
func TestConnHooksRoundTrip(t *testing.T) {
	a, b := net.Pipe()
	defer a.Close()
	defer b.Close()
	parent, child := NewConn(a, Parent), NewConn(b, Child)
	st := &specs.State{Version: "1.3.0", ID: "c1", Status: specs.StateCreating, Pid: 4242, Bundle: "/b",
		Annotations: map[string]string{"k": "v"}}
	errc := make(chan error, 1)
	go func() {
		errc <- parent.Send(&Message{Kind: KindBootstrap, Plan: &spec.Plan{ID: "c1"}, State: st})
	}()
	m, err := child.Recv()
	if err != nil || <-errc != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(m.State, st) {
		t.Fatalf("state %+v, want %+v", m.State, st)
	}
	for _, step := range []struct {
		from, to *Conn
		kind     Kind
	}{{child, parent, KindCreateRuntime}, {parent, child, KindResume}, {child, parent, KindReady}} {
		go func() { errc <- step.from.Send(&Message{Kind: step.kind}) }()
		m, err := step.to.Recv()
		if err != nil || m.Kind != step.kind {
			t.Fatalf("%s: got %+v, %v", step.kind, m, err)
		}
		if err := <-errc; err != nil {
			t.Fatal(err)
		}
	}
	if !parent.seq.Done() || !child.seq.Done() {
		t.Error("handshake not done on both ends")
	}
}

func TestRecvPeerGone(t *testing.T) {
	a, b := net.Pipe()
	parent := NewConn(a, Parent)
	b.Close()
	if _, err := parent.Recv(); !errors.Is(err, ErrPeerGone) {
		t.Fatalf("want ErrPeerGone, got %v", err)
	}
	a.Close()
}

func TestRecvOutOfOrder(t *testing.T) {
	a, b := net.Pipe()
	defer a.Close()
	defer b.Close()
	parent := NewConn(a, Parent)
	// A well-formed bootstrap, but from the child's end.
	go func() { _ = writeRecord(b, &Message{Kind: KindBootstrap}) }()
	if _, err := parent.Recv(); !errors.Is(err, ErrOrder) {
		t.Fatalf("want ErrOrder, got %v", err)
	}
}

func TestRecvGarbage(t *testing.T) {
	for name, raw := range map[string][]byte{
		"json":            []byte(`{"kind":"bootstrap","plan":{"id":"c1"}}` + "\n"),
		"other layout":    frame(1, layout()+1, []byte{9}),
		"trailing bytes":  frame(6, layout(), []byte{0, 0, 0, 0, 0, 0}),
		"length too long": frame(2, layout(), []byte{0x7f, 'x'}),
	} {
		t.Run(name, func(t *testing.T) {
			a, b := net.Pipe()
			defer a.Close()
			child := NewConn(a, Child)
			go func() { _, _ = b.Write(raw); b.Close() }()
			_, err := child.Recv()
			if err == nil || errors.Is(err, ErrOrder) {
				t.Fatalf("want a decode error, got %v", err)
			}
			t.Log(err)
		})
	}
	if Parent.String() != "parent" || Child.String() != "child" {
		t.Fatal("role names")
	}
}

func frame(n uint32, fp uint64, payload []byte) []byte {
	b := binary.BigEndian.AppendUint32(nil, n)
	b = binary.BigEndian.AppendUint64(b, fp)
	return append(b, payload...)
}

// TestRecordCarriesEveryField fills every field of a Message, at any
// depth, with a value that is not the zero value, and checks that it comes
// back equal: a field added to spec.Plan later cannot be dropped silently,
// and a type the codec cannot carry fails here rather than at run time.
func TestRecordCarriesEveryField(t *testing.T) {
	var m Message
	fill(reflect.ValueOf(&m).Elem(), 0)
	var buf bytes.Buffer
	if err := writeRecord(&buf, &m); err != nil {
		t.Fatal(err)
	}
	var got Message
	if err := readRecord(&buf, &got); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, m) {
		t.Fatalf("round trip changed the message:\n got %+v\nwant %+v", got, m)
	}
	// nil and empty stay apart, as they do in the values the parent sends.
	in := Message{Kind: KindBootstrap, Plan: &spec.Plan{Mounts: []spec.Mount{}, Sysctls: map[string]string{}}}
	if err := writeRecord(&buf, &in); err != nil {
		t.Fatal(err)
	}
	got = Message{}
	if err := readRecord(&buf, &got); err != nil {
		t.Fatal(err)
	}
	if got.Plan.Mounts == nil || got.Plan.Sysctls == nil || got.Plan.Devices != nil || got.State != nil {
		t.Fatalf("nil/empty not kept: %+v", got.Plan)
	}
}

// fill sets v to a non-zero value that depends on depth.
func fill(v reflect.Value, depth int) {
	seed := depth + 1
	switch v.Kind() {
	case reflect.Bool:
		v.SetBool(true)
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		v.SetInt(-int64(seed))
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		v.SetUint(uint64(seed) + 200)
	case reflect.String:
		v.SetString(strings.Repeat("s", seed))
	case reflect.Pointer:
		p := reflect.New(v.Type().Elem())
		fill(p.Elem(), depth+1)
		v.Set(p)
	case reflect.Slice:
		s := reflect.MakeSlice(v.Type(), 2, 2)
		fill(s.Index(0), depth+1)
		fill(s.Index(1), depth+2)
		v.Set(s)
	case reflect.Map:
		m := reflect.MakeMap(v.Type())
		k, e := reflect.New(v.Type().Key()).Elem(), reflect.New(v.Type().Elem()).Elem()
		fill(k, depth+1)
		fill(e, depth+1)
		m.SetMapIndex(k, e)
		v.Set(m)
	case reflect.Struct:
		for i := 0; i < v.NumField(); i++ {
			if wireField(v.Type().Field(i)) {
				fill(v.Field(i), depth+1)
			}
		}
	default:
		panic("fill: " + v.Kind().String())
	}
}
