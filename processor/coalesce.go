package processor

import (
	"fmt"
	"maps"
	"math"
	"time"

	"github.com/streamer/streamer/handler"
)

// report is one progress report of a handler.
type report struct {
	pct float64
	msg string
	md  map[string]any
}

// coalescer decides which progress reports of one attempt are written. It
// is pure logic (no I/O, no clock of its own); the reporter calls it under
// its lock. The rule, as docs/handlers.md states it:
//
//  1. A percentage outside 0..100 is refused (ErrInvalidPercentage); one
//     below the handler's previous report is refused
//     (ErrPercentageDecreased). Neither is remembered.
//  2. A report below the floor (the highest percentage of an earlier
//     attempt) is accepted and dropped: the log cannot go backwards.
//  3. Written at once: the first writable report of the attempt; the first
//     100%; a report whose non-empty message differs from the last written
//     message; a report at least MinInterval after the last written one and
//     at least MinDelta above it.
//  4. Anything else becomes the pending report (the latest one wins). When
//     it is at least MinDelta above the last written one, it is written by
//     a trailing flush at last-written-time + MinInterval.
//  5. Before request.failed, request.cancelled or request.timed_out, a
//     pending report above the last written percentage is written in the
//     same append; before request.completed it is dropped.
type coalescer struct {
	policy CoalescePolicy
	floor  float64

	reported bool    // the handler has made an accepted report
	lastPct  float64 // its percentage

	written bool // something was written by this attempt
	wPct    float64
	wMsg    string // last non-empty written message
	wAt     time.Time

	pending *report
}

func newCoalescer(policy CoalescePolicy, floor float64) *coalescer {
	return &coalescer{policy: policy.withDefaults(), floor: floor}
}

// offer judges a report made at now. It returns write=true when the report
// must be written now; the report is then also the pending one until wrote
// is called, so that an end decided while writing it still carries it.
func (c *coalescer) offer(now time.Time, r report) (write bool, err error) {
	if math.IsNaN(r.pct) || r.pct < 0 || r.pct > 100 {
		return false, fmt.Errorf("%w: got %v", handler.ErrInvalidPercentage, r.pct)
	}
	if c.reported && r.pct < c.lastPct {
		return false, fmt.Errorf("%w: %v is below the previous report %v", handler.ErrPercentageDecreased, r.pct, c.lastPct)
	}
	c.reported, c.lastPct = true, r.pct
	if r.pct < c.floor {
		return false, nil
	}
	r.md = maps.Clone(r.md)
	c.pending = &r
	switch {
	case !c.written:
		return true, nil
	case r.pct == 100 && c.wPct < 100:
		return true, nil
	case r.msg != "" && r.msg != c.wMsg:
		return true, nil
	case now.Sub(c.wAt) >= c.policy.MinInterval && r.pct-c.wPct >= c.policy.MinDelta:
		return true, nil
	}
	return false, nil
}

// wrote records that r was written at at.
func (c *coalescer) wrote(r report, at time.Time) {
	c.written, c.wPct, c.wAt = true, r.pct, at
	if r.msg != "" {
		c.wMsg = r.msg
	}
	if c.pending != nil && c.pending.pct <= r.pct {
		c.pending = nil
	}
}

// flushAt is when the trailing flush should write the pending report; ok is
// false when no flush is due (nothing pending, or not MinDelta above the
// last written report).
func (c *coalescer) flushAt() (at time.Time, ok bool) {
	if c.pending == nil || !c.written || c.pending.pct-c.wPct < c.policy.MinDelta {
		return time.Time{}, false
	}
	return c.wAt.Add(c.policy.MinInterval), true
}

// beforeEnd returns the pending report worth writing before failed,
// cancelled or timed_out: one above the last written percentage.
func (c *coalescer) beforeEnd() *report {
	p := c.pending
	if p == nil || (c.written && p.pct <= c.wPct) {
		return nil
	}
	return p
}

// drop forgets the pending report (before completed).
func (c *coalescer) drop() { c.pending = nil }
