package processor

import (
	"errors"
	"testing"
	"time"

	"github.com/streamer/streamer/handler"
)

// TestCoalescerRule walks the documented rule step by step. Each step is
// a report at a time offset (ms) and what must happen to it.
func TestCoalescerRule(t *testing.T) {
	type step struct {
		at      int // ms since t0
		pct     float64
		msg     string
		write   bool
		err     error
		flushAt int // ms of the trailing flush after this step; -1 = none due
	}
	policy := CoalescePolicy{MinInterval: 250 * time.Millisecond, MinDelta: 1}
	tests := []struct {
		name  string
		floor float64
		steps []step
		// end: what is written before a failure after the steps (-1: nothing)
		beforeFail float64
	}{
		{name: "first report is always written; small deltas are coalesced", steps: []step{
			{at: 0, pct: 0, write: true, flushAt: -1},
			{at: 1, pct: 0.5, flushAt: -1},                             // delta below MinDelta: no flush either
			{at: 300, pct: 0.9, flushAt: -1},                           // interval passed, delta still too small
			{at: 301, pct: 1.0, write: true, flushAt: -1},              // interval and delta: written
			{at: 302, pct: 5, flushAt: 301 + 250},                      // delta but no interval: pending, flush due
			{at: 400, pct: 7, flushAt: 301 + 250},                      // latest pending replaces the previous
			{at: 560, pct: 8, write: true, flushAt: -1},                // interval and delta again
			{at: 561, pct: 100, write: true, flushAt: -1},              // 100% always
			{at: 562, pct: 100, flushAt: -1},                           // but only once
			{at: 563, pct: 100, msg: "done", write: true, flushAt: -1}, // new message always
		}, beforeFail: -1},
		{name: "message changes are written at once, an empty message keeps the last", steps: []step{
			{at: 0, pct: 10, msg: "a", write: true, flushAt: -1},
			{at: 1, pct: 10, msg: "b", write: true, flushAt: -1},
			{at: 2, pct: 10, msg: "b", flushAt: -1},
			{at: 3, pct: 10, flushAt: -1},
			{at: 4, pct: 10, msg: "a", write: true, flushAt: -1},
			{at: 5, pct: 40, flushAt: 4 + 250},
		}, beforeFail: 40},
		{name: "percentage going down or out of range is refused and forgotten", steps: []step{
			{at: 0, pct: 50, write: true, flushAt: -1},
			{at: 1, pct: 49, err: handler.ErrPercentageDecreased, flushAt: -1},
			{at: 2, pct: 101, err: handler.ErrInvalidPercentage, flushAt: -1},
			{at: 3, pct: -1, err: handler.ErrInvalidPercentage, flushAt: -1},
			{at: 300, pct: 50.5, flushAt: -1},
			{at: 301, pct: 51, write: true, flushAt: -1}, // interval from the write at 0 ms, delta 1: written
		}, beforeFail: -1},
		{name: "reports below an earlier attempt's floor are accepted and dropped", floor: 40, steps: []step{
			{at: 0, pct: 0, msg: "again", flushAt: -1},
			{at: 1, pct: 39, msg: "nearly", flushAt: -1},
			{at: 2, pct: 38, err: handler.ErrPercentageDecreased, flushAt: -1},
			{at: 3, pct: 40, write: true, flushAt: -1}, // the first writable report
			{at: 4, pct: 45, flushAt: 3 + 250},
		}, beforeFail: 45},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
			c := newCoalescer(policy, tc.floor)
			for i, s := range tc.steps {
				now := t0.Add(time.Duration(s.at) * time.Millisecond)
				r := report{pct: s.pct, msg: s.msg}
				write, err := c.offer(now, r)
				if !errors.Is(err, s.err) || (s.err == nil && err != nil) {
					t.Fatalf("step %d (%v%%): err %v, want %v", i, s.pct, err, s.err)
				}
				if write != s.write {
					t.Fatalf("step %d (%v%% %q at %dms): write %v, want %v", i, s.pct, s.msg, s.at, write, s.write)
				}
				if write {
					c.wrote(r, now)
				}
				at, ok := c.flushAt()
				switch {
				case s.flushAt < 0 && ok:
					t.Fatalf("step %d: flush due at %v, want none", i, at.Sub(t0))
				case s.flushAt >= 0 && (!ok || !at.Equal(t0.Add(time.Duration(s.flushAt)*time.Millisecond))):
					t.Fatalf("step %d: flush at %v (%v), want %dms", i, at.Sub(t0), ok, s.flushAt)
				}
			}
			p := c.beforeEnd()
			switch {
			case tc.beforeFail < 0 && p != nil:
				t.Fatalf("before a failure: %+v, want nothing", p)
			case tc.beforeFail >= 0 && (p == nil || p.pct != tc.beforeFail):
				t.Fatalf("before a failure: %+v, want %v", p, tc.beforeFail)
			}
		})
	}
}

func TestCoalescerDropBeforeCompletion(t *testing.T) {
	t0 := time.Now()
	c := newCoalescer(CoalescePolicy{}, 0)
	if w, _ := c.offer(t0, report{pct: 0}); !w {
		t.Fatal("first report not written")
	}
	c.wrote(report{pct: 0}, t0)
	if w, _ := c.offer(t0, report{pct: 60}); w {
		t.Fatal("a report within MinInterval was written")
	}
	c.drop()
	if p := c.beforeEnd(); p != nil {
		t.Fatalf("pending %+v after drop", p)
	}
}
