package main

import (
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"golang.org/x/term"

	"github.com/streamer/streamer/projections"
)

// progressPrinter renders rebuild progress: a redrawn bar on a terminal,
// plain lines otherwise (logs, CI, pipes).
type progressPrinter struct {
	w    io.Writer
	tty  bool
	last string
}

func newProgressPrinter(w io.Writer) *progressPrinter {
	tty := false
	if f, ok := w.(*os.File); ok {
		tty = term.IsTerminal(int(f.Fd()))
	}
	return &progressPrinter{w: w, tty: tty}
}

func (p *progressPrinter) update(pr projections.Progress) {
	line := formatProgress(pr, p.tty)
	if p.tty {
		fmt.Fprintf(p.w, "\r%s", line)
		return
	}
	if line != p.last {
		fmt.Fprintln(p.w, line)
		p.last = line
	}
}

// done ends the bar's line on a terminal.
func (p *progressPrinter) done() {
	if p.tty {
		fmt.Fprintln(p.w)
	}
}

// formatProgress renders one progress report; with bar, a 30-cell bar.
func formatProgress(pr projections.Progress, bar bool) string {
	var b strings.Builder
	if pr.Total > 0 {
		frac := min(float64(pr.Done)/float64(pr.Total), 1)
		if bar {
			cells := int(frac * 30)
			fmt.Fprintf(&b, "[%s%s] ", strings.Repeat("#", cells), strings.Repeat(" ", 30-cells))
		}
		fmt.Fprintf(&b, "%3.0f%% %d/%d events", frac*100, pr.Done, pr.Total)
	} else {
		fmt.Fprintf(&b, "%d events", pr.Done)
	}
	fmt.Fprintf(&b, "  %.0f events/s", pr.Rate)
	if pr.ETA > 0 {
		fmt.Fprintf(&b, "  ETA %s", pr.ETA.Round(time.Second))
	}
	return b.String()
}
