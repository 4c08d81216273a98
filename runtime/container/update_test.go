package container

import (
	"encoding/json"
	"errors"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/gophertainer/gtu/cgroupdelegate"
)

func TestParseBytes(t *testing.T) {
	tests := []struct {
		in   string
		want int64
		err  error
	}{
		{"0", 0, nil},
		{"-1", -1, nil},
		{"1024", 1024, nil},
		{"512b", 512, nil},
		{"64k", 64 << 10, nil},
		{"64K", 64 << 10, nil},
		{"64kb", 64 << 10, nil},
		{"64KiB", 64 << 10, nil},
		{"512m", 512 << 20, nil},
		{"512MB", 512 << 20, nil},
		{"1g", 1 << 30, nil},
		{"1 GB", 1 << 30, nil},
		{"1.5g", 3 << 29, nil},
		{"0.5k", 512, nil},
		{"2t", 2 << 40, nil},
		{"1p", 1 << 50, nil},
		{"8191p", 8191 << 50, nil},
		{"8192p", 0, errTooLarge},
		{"9223372036854775807", math.MaxInt64, nil},
		{"9223372036854775808", 0, errTooLarge},
		{"9999999999999.5p", 0, errTooLarge},
		{"", 0, errNotSize},
		{"m", 0, errNotSize},
		{"-2", 0, errNotSize},
		{"-1m", 0, errNotSize},
		{"12x", 0, errNotSize},
		{"1.2.3", 0, errNotSize},
		{".5m", 0, errNotSize},
		{"5.m", 0, errNotSize},
		{"1mm", 0, errNotSize},
		{"1bi", 0, errNotSize},
		{"1  m", 0, errNotSize},
		{"0x10", 0, errNotSize},
	}
	for _, tt := range tests {
		got, err := parseBytes(tt.in)
		if !errors.Is(err, tt.err) || (tt.err == nil && got != tt.want) {
			t.Errorf("parseBytes(%q) = %d, %v; want %d, %v", tt.in, got, err, tt.want, tt.err)
		}
	}
}

func ptr[T any](v T) *T { return &v }

func TestUpdateRequest(t *testing.T) {
	jsonFile := filepath.Join(t.TempDir(), "r.json")
	if err := os.WriteFile(jsonFile, []byte(`{"memory":{"limit":1000000,"swap":2000000},"cpu":{"cpus":"0"},"pids":{"limit":5},"future":{"x":1}}`), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name     string
		o        UpdateOptions
		want     *specs.LinuxResources
		fromFlag map[string]string
	}{
		{name: "nothing", o: UpdateOptions{}, want: &specs.LinuxResources{}, fromFlag: map[string]string{}},
		{
			name: "every flag",
			o: UpdateOptions{Memory: "512m", MemorySwap: "-1", MemoryReservation: "1k", CPUShares: "512", CPUQuota: "-1",
				CPUPeriod: "100000", CPURtPeriod: "1000000", CPURtRuntime: "950000", CpusetCpus: "0-1", CpusetMems: "0",
				PidsLimit: "-1", BlkioWeight: "300", KernelMemory: "1g"},
			want: &specs.LinuxResources{
				Memory: &specs.LinuxMemory{Limit: ptr(int64(512 << 20)), Swap: ptr(int64(-1)), Reservation: ptr(int64(1024))},
				CPU: &specs.LinuxCPU{Shares: ptr(uint64(512)), Quota: ptr(int64(-1)), Period: ptr(uint64(100000)),
					RealtimePeriod: ptr(uint64(1000000)), RealtimeRuntime: ptr(int64(950000)), Cpus: "0-1", Mems: "0"},
				Pids:    &specs.LinuxPids{Limit: ptr(int64(-1))},
				BlockIO: &specs.LinuxBlockIO{Weight: ptr(uint16(300))},
			},
			fromFlag: map[string]string{
				"linux.resources.memory.limit": "--memory", "linux.resources.memory.swap": "--memory-swap",
				"linux.resources.memory.reservation": "--memory-reservation", "linux.resources.cpu.shares": "--cpu-share",
				"linux.resources.cpu.quota": "--cpu-quota", "linux.resources.cpu.period": "--cpu-period",
				"linux.resources.cpu.realtimePeriod": "--cpu-rt-period", "linux.resources.cpu.realtimeRuntime": "--cpu-rt-runtime",
				"linux.resources.cpu.cpus": "--cpuset-cpus", "linux.resources.cpu.mems": "--cpuset-mems",
				"linux.resources.pids.limit": "--pids-limit", "linux.resources.blockIO.weight": "--blkio-weight",
			},
		},
		{
			name: "stdin",
			o:    UpdateOptions{Resources: "-", Stdin: strings.NewReader(`{"memory":{"limit":1048576}}` + "\n")},
			want: &specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: ptr(int64(1 << 20))}}, fromFlag: map[string]string{},
		},
		{
			name: "file, flags override",
			o:    UpdateOptions{Resources: jsonFile, Memory: "2m", PidsLimit: "9"},
			want: &specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: ptr(int64(2 << 20)), Swap: ptr(int64(2000000))},
				CPU: &specs.LinuxCPU{Cpus: "0"}, Pids: &specs.LinuxPids{Limit: ptr(int64(9))}},
			fromFlag: map[string]string{"linux.resources.memory.limit": "--memory", "linux.resources.pids.limit": "--pids-limit"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, fromFlag, err := tt.o.resources()
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("resources\n got  %s\n want %s", dump(got), dump(tt.want))
			}
			if !reflect.DeepEqual(fromFlag, tt.fromFlag) {
				t.Errorf("fromFlag %v, want %v", fromFlag, tt.fromFlag)
			}
		})
	}
}

func dump(r *specs.LinuxResources) string {
	b, _ := json.Marshal(r)
	return string(b)
}

func TestUpdateRequestErrors(t *testing.T) {
	tests := []struct {
		name string
		o    UpdateOptions
		want string
	}{
		{"memory unit", UpdateOptions{Memory: "12x"}, `--memory "12x": not a size`},
		{"swap", UpdateOptions{MemorySwap: "-3"}, `--memory-swap "-3": not a size`},
		{"shares", UpdateOptions{CPUShares: "-5"}, `--cpu-share "-5": not an unsigned integer`},
		{"quota", UpdateOptions{CPUQuota: "1.5"}, `--cpu-quota "1.5": not an integer`},
		{"pids", UpdateOptions{PidsLimit: "many"}, `--pids-limit "many": not an integer`},
		{"blkio", UpdateOptions{BlkioWeight: "70000"}, `--blkio-weight "70000": not a number from 10 to 1000`},
		{"missing file", UpdateOptions{Resources: "/nonexistent/r.json"}, "-r: open /nonexistent/r.json"},
		{"no stdin", UpdateOptions{Resources: "-"}, "-r - (stdin): no standard input"},
		{"bad JSON", UpdateOptions{Resources: "-", Stdin: strings.NewReader("{")}, "-r - (stdin): not a linux.resources JSON object"},
		{"wrong type", UpdateOptions{Resources: "-", Stdin: strings.NewReader(`{"memory":{"limit":"1g"}}`)}, "-r - (stdin): memory.limit: want int64, got a JSON string"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := tt.o.resources()
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err = %v, want it to contain %q", err, tt.want)
			}
		})
	}
}

// TestUpdateFieldNames: a value cgroupdelegate refuses is reported against
// what the user typed, the flag or the field of the -r input.
func TestUpdateFieldNames(t *testing.T) {
	o := UpdateOptions{Resources: "-", Stdin: strings.NewReader(`{"cpu":{"quota":5}}`), CPUShares: "1"}
	r, fromFlag, err := o.resources()
	if err != nil {
		t.Fatal(err)
	}
	// The two checks cgroupdelegate would make, one at a time.
	quotaOnly := &specs.LinuxResources{CPU: &specs.LinuxCPU{Quota: r.CPU.Quota}}
	sharesOnly := &specs.LinuxResources{CPU: &specs.LinuxCPU{Shares: r.CPU.Shares}}
	for _, tc := range []struct {
		req  *specs.LinuxResources
		want string
	}{
		{quotaOnly, "-r - (stdin): cpu.quota: 5: must be -1 (no limit) or at least 1000 (microseconds)"},
		{sharesOnly, "--cpu-share: 1: must be 2..262144"},
	} {
		err := checkOnly(tc.req)
		got := cgroupdelegate.RenameField(err, func(f string) string { return o.fieldName(f, fromFlag) })
		if got == nil || got.Error() != tc.want {
			t.Errorf("got %v, want %q", got, tc.want)
		}
		if !errors.Is(got, cgroupdelegate.ErrInvalidConfig) {
			t.Errorf("%v does not match ErrInvalidConfig", got)
		}
	}
	if got := (UpdateOptions{}).fieldName("linux.resources.cpu.quota", nil); got != "linux.resources.cpu.quota" {
		t.Errorf("without -r the field keeps its full name, got %q", got)
	}
	if got := (UpdateOptions{Resources: "/r.json"}).fieldName("linux.resources.x: ignored", nil); got != "-r /r.json: x: ignored" {
		t.Errorf("warning renamed to %q", got)
	}
}

// checkOnly runs cgroupdelegate's validation of linux.resources the way
// New does, without cgroupfs.
func checkOnly(r *specs.LinuxResources) error {
	_, err := cgroupdelegate.New(cgroupdelegate.Config{ID: "x", Path: "/gtu-test/never-created", Resources: r})
	return err
}
