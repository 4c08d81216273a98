package state

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// statLine builds a /proc/PID/stat line with the given comm, state and start
// time; the other fields are plausible filler.
func statLine(pid int, comm string, state byte, start string) string {
	f := []string{fmt.Sprint(pid), "(" + comm + ")", string(state)}
	for i := 4; i <= 52; i++ {
		if i == 22 {
			f = append(f, start)
			continue
		}
		f = append(f, fmt.Sprint(i*7))
	}
	return strings.Join(f, " ") + "\n"
}

func TestStartTimeAlive(t *testing.T) {
	proc := t.TempDir()
	files := map[string]string{
		"10": statLine(10, "sleep", 'S', "1234"),
		"11": statLine(11, "a b) (c) d", 'R', "99887766554433"),
		"12": statLine(12, "zombie", 'Z', "1234"),
		"13": statLine(13, "dead", 'X', "1234"),
		"14": "14 (no-close 1 2 3\n",
		"15": "15 (short) S 1 2 3\n",
		"16": statLine(16, "bad", 'S', "12x"),
		"17": strings.Repeat("9", statBufSize+1),
	}
	for pid, s := range files {
		write(t, filepath.Join(proc, pid, "stat"), s)
	}
	mkdir(t, filepath.Join(proc, "18", "stat"))

	tests := []struct {
		pid     int
		start   uint64
		wantErr string
		alive   bool
	}{
		{pid: 10, start: 1234, alive: true},
		{pid: 11, start: 99887766554433, alive: true},
		{pid: 12, start: 1234},
		{pid: 13, start: 1234},
		{pid: 14, wantErr: "no ')'"},
		{pid: 15, wantErr: "4 fields"},
		{pid: 16, wantErr: "field 22"},
		{pid: 17, wantErr: "longer than"},
		{pid: 18, wantErr: "is a directory"},
		{pid: 19, wantErr: "no such file"},
		{pid: 0, wantErr: "invalid pid"},
		{pid: -1, wantErr: "invalid pid"},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprint(tt.pid), func(t *testing.T) {
			got, err := StartTime(proc, tt.pid)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Errorf("StartTime = %d, %v, want error containing %q", got, err, tt.wantErr)
				}
			} else if err != nil || got != tt.start {
				t.Errorf("StartTime = %d, %v, want %d", got, err, tt.start)
			}
			if a := Alive(proc, tt.pid, tt.start); a != tt.alive {
				t.Errorf("Alive(%d, %d) = %v, want %v", tt.pid, tt.start, a, tt.alive)
			}
			if tt.alive && Alive(proc, tt.pid, tt.start+1) {
				t.Errorf("Alive(%d) with a wrong start time = true", tt.pid)
			}
		})
	}
	if _, err := StartTime(proc, 19); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("StartTime of a missing pid = %v, want fs.ErrNotExist", err)
	}
}

func TestAliveSelf(t *testing.T) {
	if _, err := os.Stat("/proc/self/stat"); err != nil {
		t.Skip("no /proc:", err)
	}
	pid := os.Getpid()
	start, err := StartTime("/proc", pid)
	if err != nil {
		t.Fatal(err)
	}
	if !Alive("/proc", pid, start) {
		t.Errorf("Alive(self, %d) = false", start)
	}
	if Alive("/proc", pid, start+1) {
		t.Error("Alive(self) with a wrong start time = true")
	}
}
