package main

import (
	"os"
	"regexp"
	"time"

	"github.com/alecthomas/kong"

	"github.com/gophertainer/gtu/runtime/container"
)

type psCmd struct {
	Format string `short:"f" help:"table or json." enum:"table,json" default:"table"`
	// runc stops parsing its own flags at the container id, so that
	// `ps ID -ef` or `ps ID -o pid,comm` reach ps untouched: the id and
	// ps's options share one passthrough argument.
	Args []string `arg:"" name:"id" passthrough:"partial" help:"Container id, then options for ps (default -ef)."`
}

func (x *psCmd) Run(c *CLI) error {
	c.target = x.Args[0]
	g, err := c.glob()
	if err != nil {
		return err
	}
	return container.Ps(g, x.Args[0], x.Format, x.Args[1:], os.Stdout)
}

type updateCmd struct {
	Resources         string      `short:"r" help:"File holding the linux.resources JSON to apply, or - for stdin; flags given as well override its fields." placeholder:"FILE"`
	Memory            updateValue `help:"Memory limit in bytes, or with a unit (512m, 1g); -1 for none." placeholder:"SIZE"`
	MemorySwap        updateValue `help:"Memory+swap limit, same syntax; -1 for unlimited swap." placeholder:"SIZE"`
	MemoryReservation updateValue `help:"Memory soft limit, same syntax." placeholder:"SIZE"`
	KernelMemory      updateValue `hidden:"" help:"Obsolete; ignored with a warning." placeholder:"SIZE"`
	KernelMemoryTCP   updateValue `name:"kernel-memory-tcp" hidden:"" help:"Obsolete; ignored with a warning." placeholder:"SIZE"`
	CPUShare          updateValue `name:"cpu-share" aliases:"cpu-shares" help:"CPU shares (relative weight)." placeholder:"N"`
	CPUQuota          updateValue `name:"cpu-quota" help:"CFS quota in microseconds per period; -1 for none." placeholder:"USEC"`
	CPUPeriod         updateValue `name:"cpu-period" help:"CFS period in microseconds." placeholder:"USEC"`
	CPURtPeriod       updateValue `name:"cpu-rt-period" help:"Realtime period in microseconds." placeholder:"USEC"`
	CPURtRuntime      updateValue `name:"cpu-rt-runtime" help:"Realtime runtime in microseconds per period." placeholder:"USEC"`
	CpusetCpus        updateValue `name:"cpuset-cpus" help:"CPUs to use, e.g. 0-2,4." placeholder:"LIST"`
	CpusetMems        updateValue `name:"cpuset-mems" help:"Memory nodes to use." placeholder:"LIST"`
	PidsLimit         updateValue `name:"pids-limit" help:"Maximum number of pids; -1 for none (0 leaves it)." placeholder:"N"`
	BlkioWeight       updateValue `name:"blkio-weight" help:"Block I/O weight, 10 to 1000 (0 leaves it)." placeholder:"N"`
	ID                string      `arg:"" help:"Container id."`
}

func (x *updateCmd) Run(c *CLI) error {
	c.target = x.ID
	g, err := c.glob()
	if err != nil {
		return err
	}
	return container.Update(g, x.ID, container.UpdateOptions{
		Resources: x.Resources, Stdin: os.Stdin,
		Memory: string(x.Memory), MemorySwap: string(x.MemorySwap), MemoryReservation: string(x.MemoryReservation),
		KernelMemory: string(x.KernelMemory), KernelMemoryTCP: string(x.KernelMemoryTCP),
		CPUShares: string(x.CPUShare), CPUQuota: string(x.CPUQuota), CPUPeriod: string(x.CPUPeriod),
		CPURtPeriod: string(x.CPURtPeriod), CPURtRuntime: string(x.CPURtRuntime),
		CpusetCpus: string(x.CpusetCpus), CpusetMems: string(x.CpusetMems),
		PidsLimit: string(x.PidsLimit), BlkioWeight: string(x.BlkioWeight),
	})
}

// updateValue is an update flag's text, parsed (and checked) by
// container.Update so that errors name the flag. Unlike kong's own
// decoders it takes a negative number as the value ("--memory -1",
// "--cpu-quota -1"), as runc's flag parser does.
type updateValue string

func (v *updateValue) Decode(ctx *kong.DecodeContext) error {
	if t := ctx.Scan.Peek(); t.Type == kong.UntypedToken && negativeNumber.MatchString(t.String()) {
		*v = updateValue(ctx.Scan.Pop().String())
		return nil
	}
	var s string
	if err := ctx.Scan.PopValueInto(ctx.Value.Name, &s); err != nil {
		return err
	}
	*v = updateValue(s)
	return nil
}

var negativeNumber = regexp.MustCompile(`^-[0-9]`)

type eventsCmd struct {
	Stats    bool          `help:"Print the container's stats once and exit."`
	Interval time.Duration `help:"Time between stats objects." default:"5s" placeholder:"DURATION"`
	ID       string        `arg:"" help:"Container id."`
}

func (x *eventsCmd) Run(c *CLI) error {
	c.target = x.ID
	g, err := c.glob()
	if err != nil {
		return err
	}
	return container.Events(g, x.ID, container.EventsOptions{Stats: x.Stats, Interval: x.Interval}, os.Stdout)
}
