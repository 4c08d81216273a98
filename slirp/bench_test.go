package slirp

import (
	"context"
	"slices"
	"strconv"
	"testing"
	"time"
)

func itoa(i int) string { return strconv.Itoa(i) }

// BenchmarkStart measures Start, which adds to a container's start time:
// the target namespace is made and the helper stopped outside the timer.
// It reports the median as well as the mean.
func BenchmarkStart(b *testing.B) {
	for _, driver := range []string{DriverSlirp4netns, DriverPasta} {
		b.Run(driver, func(b *testing.B) {
			needDriver(b, driver)
			kinds := targetKinds()
			userns := kinds[len(kinds)-1].userns
			var times []time.Duration
			for b.Loop() {
				b.StopTimer()
				tg := startTarget(b, userns)
				dir := b.TempDir()
				o := Options{Driver: driver, Pid: tg.pid, StateDir: dir,
					Ports: []Port{{HostPort: uint16(freePort(b)), ContainerPort: 80}}}
				b.StartTimer()
				t0 := time.Now()
				h, err := Start(context.Background(), o)
				times = append(times, time.Since(t0))
				b.StopTimer()
				if err != nil {
					b.Fatal(err)
				}
				if err := h.Stop(); err != nil {
					b.Fatal(err)
				}
				tg.cmd.Process.Kill()
				tg.cmd.Wait()
				b.StartTimer()
			}
			slices.Sort(times)
			b.ReportMetric(float64(times[len(times)/2].Microseconds())/1000, "ms-median")
		})
	}
}
