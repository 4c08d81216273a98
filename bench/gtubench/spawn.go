package main

import (
	"fmt"
	"io"
	"os"
	"syscall"
	"time"
)

// Why `gtubench spawn` exists: ru_maxrss is inherited across execve. When
// the kernel replaces a process's memory at execve, it records the old
// memory's peak RSS as the process's own (exec_mmap calls
// setmax_mm_hiwater_rss). A child started with vfork (Go's ForkExec uses
// CLONE_VFORK|CLONE_VM) runs on its parent's memory until execve, so the
// runtime's ru_maxrss came out as max(runtime, this driver), and the driver,
// holding every sample, peaks at 8 to 10 MiB: exactly the runtimes' size.
// That made gtu's RSS look bimodal (its own ~8.3 MiB, or the driver's ~9.8)
// while GNU time, a small C program, never saw the second mode. The
// measured commands are therefore started from a fresh gtubench process,
// whose own RSS (~2-3 MiB) stays below any runtime's; it times the command
// from just before fork to wait4 and reports that, the command's rusage and
// its status on descriptor 3.

// spawnMain is `gtubench spawn -- ARGV...`: run ARGV with our stdio,
// environment, credentials and process group, and write
// "elapsed-ns maxrss-KiB wait-status\n" to descriptor 3.
func spawnMain(args []string) {
	if len(args) < 2 || args[0] != "--" {
		fmt.Fprintln(os.Stderr, "gtubench spawn: usage: spawn -- ARGV...")
		os.Exit(2)
	}
	argv := args[1:]
	report := os.NewFile(3, "report")
	syscall.CloseOnExec(3)
	attr := &syscall.ProcAttr{Env: os.Environ(), Files: []uintptr{0, 1, 2}}
	start := time.Now()
	pid, err := syscall.ForkExec(argv[0], argv, attr)
	if err != nil {
		fmt.Fprintf(os.Stderr, "gtubench spawn: start %s: %v\n", argv[0], err)
		os.Exit(125)
	}
	var ws syscall.WaitStatus
	var ru syscall.Rusage
	for {
		_, err = syscall.Wait4(pid, &ws, 0, &ru)
		if err != syscall.EINTR {
			break
		}
	}
	elapsed := time.Since(start)
	if err != nil {
		fmt.Fprintf(os.Stderr, "gtubench spawn: wait for %s: %v\n", argv[0], err)
		os.Exit(125)
	}
	fmt.Fprintf(report, "%d %d %d\n", elapsed.Nanoseconds(), ru.Maxrss, uint32(ws))
	os.Exit(0)
}

// readSpawnReport replaces res's time, RSS and status with what spawn
// measured for the command itself.
func readSpawnReport(r io.Reader, res *result) error {
	if !res.ok() {
		return fmt.Errorf("gtubench spawn failed (%s)", oneLine(res.stderr))
	}
	var ns, rss int64
	var ws uint32
	if _, err := fmt.Fscan(r, &ns, &rss, &ws); err != nil {
		return fmt.Errorf("read gtubench spawn's report: %w", err)
	}
	res.elapsed, res.maxRSSKiB, res.status = time.Duration(ns), rss, syscall.WaitStatus(ws)
	return nil
}
