package processor_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/streamer/streamer/events"
	"github.com/streamer/streamer/handler"
	"github.com/streamer/streamer/processor"
)

// runHandler runs fn as the handler of a fresh request and returns the
// request's events.
func runHandler(t *testing.T, mod func(*processor.Config), fn func(ctx context.Context, r handler.Reporter) error) []events.Event {
	t.Helper()
	store := newStore(t)
	h := progressFunc{action: "h", run: func(ctx context.Context, _ *handler.Request, r handler.Reporter) error { return fn(ctx, r) }}
	p := newProcessor(t, store, routerWith(t, h), mod)
	id := submit(t, store, "h", "")
	if err := p.Run(testCtx(t), id); err != nil {
		t.Fatal(err)
	}
	return loadAll(t, store, id)
}

// A handler reporting 1000 times in a tight loop produces few events, and
// always the first report, 100% and every change of message.
func TestCoalescingTightLoop(t *testing.T) {
	tests := []struct {
		name     string
		policy   processor.CoalescePolicy
		tick     time.Duration // fake time between two reports (0: frozen)
		messages int           // distinct messages, changing every 1000/messages reports
		want     []float64     // exact percentages written
	}{
		{"frozen clock, one message", processor.CoalescePolicy{MinInterval: time.Hour}, 0, 1,
			[]float64{0, 100}},
		{"frozen clock, ten messages", processor.CoalescePolicy{MinInterval: time.Hour}, 0, 10,
			[]float64{0, 10, 20, 30, 40, 50, 60, 70, 80, 90, 100}},
		{"interval bound", processor.CoalescePolicy{MinInterval: 250 * time.Second, MinDelta: 1}, time.Second, 1,
			[]float64{0, 25, 50, 75, 100}},
		{"delta bound", processor.CoalescePolicy{MinInterval: time.Second, MinDelta: 10}, time.Second, 1,
			[]float64{0, 10, 20, 30, 40, 50, 60, 70, 80, 90, 100}},
		{"interval and message changes", processor.CoalescePolicy{MinInterval: 300 * time.Second, MinDelta: 1}, time.Second, 2,
			[]float64{0, 30, 50, 80, 100}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			clock := newFakeClock()
			var decreaseErr error
			evs := runHandler(t, func(c *processor.Config) { c.Coalesce, c.Now = tc.policy, clock.Now },
				func(ctx context.Context, r handler.Reporter) error {
					per := 1000 / tc.messages
					for i := range 1000 {
						if err := r.Report(ctx, float64(i)/10, fmt.Sprintf("phase %d", i/per)); err != nil {
							return err
						}
						clock.Advance(tc.tick)
					}
					decreaseErr = r.Report(ctx, 10, "")
					if err := r.Report(ctx, 100, ""); err != nil {
						return err
					}
					return r.Complete(ctx, nil)
				})
			if !errors.Is(decreaseErr, handler.ErrPercentageDecreased) {
				t.Fatalf("a lower percentage gave %v", decreaseErr)
			}
			var got []float64
			msgs := map[string]bool{}
			for _, p := range progressOf(t, evs) {
				got = append(got, p.Percentage)
				msgs[p.Message] = true
			}
			if !slices.Equal(got, tc.want) {
				t.Fatalf("written %v, want %v", got, tc.want)
			}
			for m := range tc.messages {
				if !msgs[fmt.Sprintf("phase %d", m)] {
					t.Fatalf("message %q missing", fmt.Sprintf("phase %d", m))
				}
			}
			if last(t, evs).Type != events.RequestCompleted {
				t.Fatalf("events %v", typesOf(evs))
			}
		})
	}
}

// With the real clock and the default policy the count is bounded by the
// always-written reports plus one per MinInterval of the loop's duration.
func TestCoalescingDefaultPolicyRealClock(t *testing.T) {
	var elapsed time.Duration
	evs := runHandler(t, nil, func(ctx context.Context, r handler.Reporter) error {
		start := time.Now()
		for i := range 1000 {
			if err := r.Report(ctx, float64(i)/10, fmt.Sprintf("phase %d", i/250)); err != nil {
				return err
			}
		}
		if err := r.Report(ctx, 100, "done"); err != nil {
			return err
		}
		elapsed = time.Since(start)
		return r.Complete(ctx, nil)
	})
	prog := progressOf(t, evs)
	bound := 1 + 3 + 1 + int(elapsed/processor.DefaultMinInterval) + 1
	if len(prog) > bound {
		t.Fatalf("%d progress events for 1000 reports in %v (bound %d)", len(prog), elapsed, bound)
	}
	msgs := map[string]bool{}
	for _, p := range prog {
		msgs[p.Message] = true
	}
	for _, m := range []string{"phase 0", "phase 1", "phase 2", "phase 3", "done"} {
		if !msgs[m] {
			t.Fatalf("message %q missing from %+v", m, prog)
		}
	}
	if prog[0].Percentage != 0 || prog[len(prog)-1].Percentage != 100 {
		t.Fatalf("first %v, last %v", prog[0].Percentage, prog[len(prog)-1].Percentage)
	}
}

func TestPendingReportBeforeTheEnd(t *testing.T) {
	frozen := func(c *processor.Config) {
		c.Now = newFakeClock().Now
		c.Coalesce = processor.CoalescePolicy{MinInterval: time.Hour}
	}
	t.Run("written with a failure, in the same append", func(t *testing.T) {
		evs := runHandler(t, frozen, func(ctx context.Context, r handler.Reporter) error {
			if err := r.Report(ctx, 0, "start"); err != nil {
				return err
			}
			if err := r.ReportWithMetadata(ctx, 55, "", map[string]any{"rows": 550}); err != nil {
				return err
			}
			return r.Fail(ctx, "quota", "out of quota", true)
		})
		want := []string{events.RequestSubmitted, events.RequestStarted, events.RequestProgressed, events.RequestProgressed, events.RequestFailed}
		if got := typesOf(evs); !slices.Equal(got, want) {
			t.Fatalf("events %v, want %v", got, want)
		}
		pr := payload[*events.Progress](t, evs[3])
		if pr.Percentage != 55 || pr.Metadata["rows"] != float64(550) || !evs[3].Time.Equal(evs[4].Time) {
			t.Fatalf("pending %+v at %v, failure at %v", pr, evs[3].Time, evs[4].Time)
		}
		f := payload[*events.Failed](t, evs[4])
		if f.Code != "quota" || !f.Retryable || f.Attempt != 1 {
			t.Fatalf("failed %+v", f)
		}
	})
	t.Run("dropped before a completion", func(t *testing.T) {
		evs := runHandler(t, frozen, func(ctx context.Context, r handler.Reporter) error {
			if err := r.Report(ctx, 0, "start"); err != nil {
				return err
			}
			if err := r.Report(ctx, 55, ""); err != nil {
				return err
			}
			return r.Complete(ctx, json.RawMessage(`{"n":1}`))
		})
		want := []string{events.RequestSubmitted, events.RequestStarted, events.RequestProgressed, events.RequestCompleted}
		if got := typesOf(evs); !slices.Equal(got, want) {
			t.Fatalf("events %v, want %v", got, want)
		}
	})
}

// A pending report is written by the trailing flush MinInterval after the
// last write, without another report.
func TestTrailingFlush(t *testing.T) {
	store := newStore(t)
	var id string
	h := progressFunc{action: "h", run: func(ctx context.Context, _ *handler.Request, r handler.Reporter) error {
		if err := r.Report(ctx, 0, "start"); err != nil {
			return err
		}
		if err := r.Report(ctx, 30, ""); err != nil {
			return err
		}
		waitFor(t, "the trailing flush", func() bool {
			for _, p := range progressOf(t, loadAll(t, store, id)) {
				if p.Percentage == 30 {
					return true
				}
			}
			return false
		})
		return r.Complete(ctx, nil)
	}}
	p := newProcessor(t, store, routerWith(t, h), func(c *processor.Config) {
		c.Coalesce = processor.CoalescePolicy{MinInterval: 20 * time.Millisecond}
	})
	id = submit(t, store, "h", "")
	if err := p.Run(testCtx(t), id); err != nil {
		t.Fatal(err)
	}
	if got := typesOf(loadAll(t, store, id)); len(got) != 5 || got[4] != events.RequestCompleted {
		t.Fatalf("events %v", got)
	}
}

func TestReporterRefusals(t *testing.T) {
	var errs []error
	evs := runHandler(t, nil, func(ctx context.Context, r handler.Reporter) error {
		errs = append(errs,
			r.Report(ctx, 101, "too much"),
			r.Report(ctx, 40, "forty"),
			r.Report(ctx, 39, "less"),
			r.Complete(ctx, json.RawMessage(`{not json`)),
		)
		if err := r.Complete(ctx, json.RawMessage(`[1,2]`)); err != nil {
			return err
		}
		errs = append(errs, r.Report(ctx, 100, "late"), r.Fail(ctx, "late", "late", false), r.Complete(ctx, nil))
		return nil
	})
	wantIs := []error{handler.ErrInvalidPercentage, nil, handler.ErrPercentageDecreased, nil,
		handler.ErrRequestEnded, handler.ErrRequestEnded, handler.ErrRequestEnded}
	for i, want := range wantIs {
		if want == nil {
			if i == 3 && errs[i] == nil {
				t.Fatal("invalid JSON result accepted")
			}
			if i == 1 && errs[i] != nil {
				t.Fatal(errs[i])
			}
			continue
		}
		if !errors.Is(errs[i], want) {
			t.Fatalf("call %d: %v, want %v", i, errs[i], want)
		}
	}
	want := []string{events.RequestSubmitted, events.RequestStarted, events.RequestProgressed, events.RequestCompleted}
	if got := typesOf(evs); !slices.Equal(got, want) {
		t.Fatalf("events %v, want %v", got, want)
	}
	if got := string(payload[*events.Completed](t, evs[3]).Result); got != `[1,2]` {
		t.Fatalf("result %s", got)
	}
}
