package container

import (
	"os/exec"
	"strings"
	"testing"
)

// Outputs of procps-ng 4.0.2 (Debian 12), captured on the project machine
// with a busybox container whose pids were 12219 and 12230.
const (
	psEf = `UID        PID  PPID  C STIME TTY          TIME CMD
root         1     0  0 18:44 ?        00:00:11 /process_api --firecracker-init --addr 0.0.0.0:2024
root         2     0  0 18:44 ?        00:00:00 [kthreadd]
root     12219     1  0 19:27 ?        00:00:00 sh -c trap "exit 0" TERM; sleep 1000 & while :; do wait; done
root     12230 12219  0 19:27 ?        00:00:00 sleep 1000
root     12231   800  0 19:27 pts/0    00:00:00 ps -ef
`
	psAux = `USER       PID %CPU %MEM    VSZ   RSS TTY      STAT START   TIME COMMAND
root         1  0.4  0.0  42692 13288 ?        SLl  18:44   0:11 /process_api --firecracker-init
root     12219  0.0  0.0   2268  1660 ?        Ss   19:27   0:00 sh -c trap "exit 0" TERM; sleep 1000 & while :; do wait; done
root     12230  0.0  0.0   2268  1380 ?        S    19:27   0:00 sleep 1000
tester   12219x 0.0  0.0   2268  1380 ?        S    19:27   0:00 never reached
`
	psOPidComm = `  PID COMMAND
    1 process_api
12219 sh
12230 sleep
12300 12219
`
	psOComm = `COMMAND
process_api
sh
`
	// A PID column that is not the first one; the user name column holds
	// a number, as for a uid without a name.
	psOUserPid = `USER         PID
100000     12230
root           1
`
)

func TestFilterPs(t *testing.T) {
	pids := []int{12219, 12230}
	tests := []struct {
		name, out, want, err string
	}{
		{name: "-ef", out: psEf, want: `UID        PID  PPID  C STIME TTY          TIME CMD
root     12219     1  0 19:27 ?        00:00:00 sh -c trap "exit 0" TERM; sleep 1000 & while :; do wait; done
root     12230 12219  0 19:27 ?        00:00:00 sleep 1000
`},
		{name: "aux stops at a bad pid after the container's lines", out: psAux, err: `line 5 of ps's output: PID "12219x" is not a number`},
		{name: "aux", out: strings.Join(strings.Split(psAux, "\n")[:4], "\n") + "\n", want: `USER       PID %CPU %MEM    VSZ   RSS TTY      STAT START   TIME COMMAND
root     12219  0.0  0.0   2268  1660 ?        Ss   19:27   0:00 sh -c trap "exit 0" TERM; sleep 1000 & while :; do wait; done
root     12230  0.0  0.0   2268  1380 ?        S    19:27   0:00 sleep 1000
`},
		{name: "-o pid,comm: a command named like a pid is not a pid", out: psOPidComm, want: "  PID COMMAND\n12219 sh\n12230 sleep\n"},
		{name: "-o user,pid", out: psOUserPid, want: "USER         PID\n100000     12230\n"},
		{name: "-o comm hides the PID column", out: psOComm, err: `no PID column in ps's header "COMMAND"`},
		{name: "header only", out: "  PID TTY          TIME CMD\n", want: "  PID TTY          TIME CMD\n"},
		{name: "no trailing newline, blank lines", out: "PID\n\n12219\n   \n1", want: "PID\n12219\n"},
		{name: "short line", out: "A B PID\nx y\n", err: "line 2 of ps's output has no PID column"},
		{name: "empty output", out: "", err: "no PID column"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := filterPs(tt.out, pids)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("err = %v, want it to contain %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Errorf("got\n%s\nwant\n%s", got, tt.want)
			}
		})
	}
}

func TestRunPs(t *testing.T) {
	if _, err := exec.LookPath(psCommand); err != nil {
		t.Skipf("needs the host's %s: %v", psCommand, err)
	}
	out, err := runPs([]string{"-o", "pid", "-p", "1"})
	if err != nil {
		t.Fatal(err)
	}
	if f := strings.Fields(out); len(f) != 2 || f[0] != "PID" || f[1] != "1" {
		t.Errorf("ps -o pid -p 1 printed %q", out)
	}
	_, err = runPs([]string{"--no-such-option"})
	if err == nil {
		t.Fatal("ps with a bad option succeeded")
	}
	// The error carries the command and ps's own complaint.
	if !strings.Contains(err.Error(), "ps --no-such-option: exit status") || len(strings.Split(err.Error(), "\n")) != 1 {
		t.Errorf("err = %q, want one line naming the command and ps's complaint", err)
	}
}
