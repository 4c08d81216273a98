package slirp

import (
	"errors"
	"os"
	"os/exec"
	"strings"
	"testing"
)

func TestParseDefaultRoute(t *testing.T) {
	const header = "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT\n"
	for _, tt := range []struct {
		name, in  string
		wantIface string
		wantGW    string
	}{
		{"slirp4netns", header +
			"tap0\t00000000\t0202000A\t0003\t0\t0\t0\t00000000\t0\t0\t0\n" +
			"tap0\t0002000A\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0\n", "tap0", "10.0.2.2"},
		{"default after others", header +
			"eth0\t000200C0\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0\n" +
			"eth0\t00000000\t010200C0\t0003\t0\t0\t0\t00000000\t0\t0\t0\n", "eth0", "192.0.2.1"},
		{"none", header + "tap0\t0002000A\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0\n", "", ""},
		{"default without gateway flag", header + "tap0\t00000000\t00000000\t0001\t0\t0\t0\t00000000\t0\t0\t0\n", "", ""},
		{"empty", "", "", ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			iface, gw, ok := parseDefaultRoute([]byte(tt.in))
			if ok != (tt.wantIface != "") || iface != tt.wantIface || (ok && gw.String() != tt.wantGW) {
				t.Errorf("parseDefaultRoute = %q, %v, %v; want %q, %s", iface, gw, ok, tt.wantIface, tt.wantGW)
			}
		})
	}
}

func TestParseStat(t *testing.T) {
	tail := " 1 1 1 0 -1 4194560 100 0 0 0 0 0 0 0 20 0 1 0 123456 1000 100"
	for _, tt := range []struct {
		name, in string
		start    uint64
		state    byte
		wantErr  string
	}{
		{"plain", "42 (slirp4netns) S" + tail, 123456, 'S', ""},
		{"comm with ) and spaces", "42 (a) b (c) Z" + tail, 123456, 'Z', ""},
		{"no paren", "42 slirp4netns S" + tail, 0, 0, "no ')'"},
		{"short", "42 (x) S 1 2 3", 0, 0, "fields after the comm"},
		{"bad start", "42 (x) S 1 1 1 0 -1 4194560 100 0 0 0 0 0 0 0 20 0 1 0 nope 1000", 0, 0, "field 22"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			start, state, err := parseStat("stat", []byte(tt.in))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("parseStat = %d, %c, %v; want error containing %q", start, state, err, tt.wantErr)
				}
				return
			}
			if err != nil || start != tt.start || state != tt.state {
				t.Fatalf("parseStat = %d, %c, %v; want %d, %c", start, state, err, tt.start, tt.state)
			}
		})
	}
	// And against the real file of this process.
	if start, state, err := procStat(os.Getpid()); err != nil || start == 0 || state != 'R' && state != 'S' {
		t.Errorf("procStat(self) = %d, %c, %v", start, state, err)
	}
}

func TestResolveDriver(t *testing.T) {
	installed := func(names ...string) func(string) (string, error) {
		return func(n string) (string, error) {
			for _, m := range names {
				if m == n {
					return "/usr/bin/" + n, nil
				}
			}
			return "", exec.ErrNotFound
		}
	}
	for _, tt := range []struct {
		name, driver string
		have         []string
		want         string
		wantErr      error
	}{
		{"auto prefers slirp4netns", "", []string{"pasta", "slirp4netns"}, "slirp4netns", nil},
		{"auto falls back to pasta", "auto", []string{"pasta"}, "pasta", nil},
		{"auto with neither", "auto", nil, "", ErrNoDriver},
		{"pasta asked for", "pasta", []string{"pasta", "slirp4netns"}, "pasta", nil},
		{"asked for, missing", "pasta", []string{"slirp4netns"}, "", exec.ErrNotFound},
		{"unknown", "vde", []string{"slirp4netns"}, "", ErrUnknownDriver},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got, path, err := resolveDriver(tt.driver, installed(tt.have...))
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("resolveDriver(%q) = %q, %v; want %v", tt.driver, got, err, tt.wantErr)
				}
				return
			}
			if err != nil || got != tt.want || path != "/usr/bin/"+tt.want {
				t.Fatalf("resolveDriver(%q) = %q, %q, %v; want %q", tt.driver, got, path, err, tt.want)
			}
		})
	}
}
