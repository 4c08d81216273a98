package subid

import (
	"errors"
	"os"
	"os/user"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
)

const sample = `# comment
alice:100000:65536

1001:200000:1000
alice:300000:10
bob:400000:65536
`

func TestParseSelect(t *testing.T) {
	entries, err := Parse(strings.NewReader(sample), "/etc/subuid")
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 4 || entries[1].Line != 4 {
		t.Fatalf("entries %+v", entries)
	}
	for _, tt := range []struct {
		name string
		uid  uint32
		want []Range
	}{
		{"alice", 1000, []Range{{100000, 65536}, {300000, 10}}},
		{"carol", 1001, []Range{{200000, 1000}}}, // by uid
		{"", 1001, []Range{{200000, 1000}}},
		{"dave", 1002, nil},
	} {
		if got := Select(entries, tt.name, tt.uid); !reflect.DeepEqual(got, tt.want) {
			t.Errorf("Select(%s, %d) = %v, want %v", tt.name, tt.uid, got, tt.want)
		}
	}
}

func TestParseErrors(t *testing.T) {
	for _, tt := range []struct{ in, want string }{
		{"alice:1:2\nbroken\n", "/etc/subgid:2:"},
		{"alice:x:5\n", "/etc/subgid:1:"},
		{"alice:1:0\n", "count above 0"},
		{":1:5\n", "/etc/subgid:1:"},
		{"alice:4294967295:2\n", "within 32 bits"},
	} {
		_, err := Parse(strings.NewReader(tt.in), "/etc/subgid")
		if !errors.Is(err, ErrMalformed) || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("Parse(%q) = %v, want %q", tt.in, err, tt.want)
		}
	}
}

func TestLookup(t *testing.T) {
	file := filepath.Join(t.TempDir(), "subuid")
	if err := os.WriteFile(file, []byte(sample), 0o644); err != nil {
		t.Fatal(err)
	}
	if r, err := Lookup(file, "bob", 5); err != nil || len(r) != 1 || r[0].Start != 400000 {
		t.Fatalf("Lookup(bob) = %v, %v", r, err)
	}
	_, err := Lookup(file, "dave", 1002)
	if !errors.Is(err, ErrNoRange) || !strings.Contains(err.Error(), `"dave:100000:65536"`) || !strings.Contains(err.Error(), file) {
		t.Fatalf("Lookup(dave) = %v", err)
	}
	if _, err := Lookup(filepath.Join(t.TempDir(), "missing"), "bob", 5); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("missing file: %v", err)
	}
}

func TestParseGetsubids(t *testing.T) {
	got, err := ParseGetsubids([]byte("0: alice 100000 65536\n1: alice 300000 10\n"))
	if err != nil || !reflect.DeepEqual(got, []Range{{100000, 65536}, {300000, 10}}) {
		t.Fatalf("ParseGetsubids = %v, %v", got, err)
	}
	if _, err := ParseGetsubids([]byte("garbage here\n")); !errors.Is(err, ErrMalformed) {
		t.Fatalf("garbage: %v", err)
	}
	if _, err := ParseGetsubids([]byte("0: alice x 1\n")); !errors.Is(err, ErrMalformed) {
		t.Fatalf("bad number: %v", err)
	}
}

// TestForUserHost reads the host's real ranges for the test user that
// scripts/setup-test-host.sh creates.
func TestForUserHost(t *testing.T) {
	u, err := user.Lookup("gtutest")
	if err != nil {
		t.Skip("no gtutest user (scripts/setup-test-host.sh creates it)")
	}
	uid, _ := strconv.Atoi(u.Uid)
	uids, gids, err := ForUser(u.Username, uint32(uid))
	if err != nil {
		t.Fatal(err)
	}
	if len(uids) == 0 || len(gids) == 0 || uids[0].Count < 65536 {
		t.Fatalf("ForUser(gtutest) = %v %v", uids, gids)
	}
}
