package main

import (
	"io"
	"os"

	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"
)

// progressMin is the size from which an import shows a progress bar.
const progressMin = 32 << 20

// progress is a bar on stderr when stderr is a terminal and the import is
// large; otherwise it does nothing. stdout carries the JSON answer only.
type progress struct{ bar *progressbar.ProgressBar }

func newProgress(total int64, what string) *progress {
	if total < progressMin || !term.IsTerminal(int(os.Stderr.Fd())) {
		return &progress{}
	}
	return &progress{bar: progressbar.NewOptions64(total,
		progressbar.OptionSetWriter(os.Stderr),
		progressbar.OptionSetDescription(what),
		progressbar.OptionShowBytes(true),
		progressbar.OptionThrottle(100_000_000),
		progressbar.OptionClearOnFinish(),
	)}
}

func (p *progress) wrap(r io.Reader) io.Reader {
	if p.bar == nil {
		return r
	}
	return io.TeeReader(r, p.bar)
}

func (p *progress) finish() {
	if p.bar != nil {
		p.bar.Finish()
	}
}
