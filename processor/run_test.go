package processor_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/streamer/streamer/events"
	"github.com/streamer/streamer/handler"
	"github.com/streamer/streamer/handler/demo"
	"github.com/streamer/streamer/processor"
)

func demoRouter(t testing.TB) *handler.Router {
	t.Helper()
	r := handler.NewRouter()
	if err := demo.Register(r, demo.Options{Steps: 5, StepDelay: time.Millisecond}); err != nil {
		t.Fatal(err)
	}
	return r
}

func TestRunCompletesWithNonDecreasingProgress(t *testing.T) {
	ctx := testCtx(t)
	store := newStore(t)
	p := newProcessor(t, store, demoRouter(t), nil)
	id := submit(t, store, demo.GenerateReportAction, `{"rows":250}`)

	if err := p.Run(ctx, id); err != nil {
		t.Fatal(err)
	}
	evs := loadAll(t, store, id)
	if got := typesOf(evs); got[1] != events.RequestStarted || got[len(got)-1] != events.RequestCompleted {
		t.Fatalf("events %v", got)
	}
	st := payload[*events.Started](t, evs[1])
	if st.Attempt != 1 || st.Worker != "test" {
		t.Fatalf("started %+v", st)
	}
	prog := progressOf(t, evs)
	if len(prog) == 0 || prog[0].Percentage != 0 || prog[len(prog)-1].Percentage != 100 {
		t.Fatalf("progress must run from 0 to 100: %+v", prog)
	}
	for i := 1; i < len(prog); i++ {
		if prog[i].Percentage < prog[i-1].Percentage {
			t.Fatalf("progress went backwards at %d: %v after %v", i, prog[i].Percentage, prog[i-1].Percentage)
		}
	}
	var res demo.ReportResult
	if err := json.Unmarshal(payload[*events.Completed](t, last(t, evs)).Result, &res); err != nil {
		t.Fatal(err)
	}
	if res.Rows != 250 || res.ReportID != "report-"+id {
		t.Fatalf("result %+v", res)
	}
	for _, e := range evs[1:] {
		if e.Meta.Actor != processor.Actor || e.Meta.Source != processor.Source || e.Meta.Tenant != "acme" ||
			e.Meta.CausationID != evs[0].ID || e.Meta.CorrelationID != "corr-"+id {
			t.Fatalf("meta of %s: %+v", e.Type, e.Meta)
		}
	}
	if err := events.VerifyStream(ctx, store, events.RequestStream(id)); err != nil {
		t.Fatal(err)
	}
}

func TestRunFailures(t *testing.T) {
	errBoom := errors.New("upstream exploded")
	router := demoRouter(t)
	for _, h := range []handler.Handler{
		progressFunc{action: "returns_error", run: func(ctx context.Context, _ *handler.Request, r handler.Reporter) error {
			if err := r.Report(ctx, 30, "half way there"); err != nil {
				return err
			}
			return errBoom
		}},
		progressFunc{action: "panics", run: func(ctx context.Context, _ *handler.Request, r handler.Reporter) error {
			if err := r.Report(ctx, 5, "about to panic"); err != nil {
				return err
			}
			panic("nil map somewhere")
		}},
		progressFunc{action: "refuses", validate: func(*handler.Request) error { return errors.New("rows must be positive") },
			run: func(context.Context, *handler.Request, handler.Reporter) error { return nil }},
	} {
		if err := router.Register(h); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		name, action, payload string
		code, message         string
		retryable, started    bool
	}{
		{"handler fails itself", demo.FailAction, `{"message":"disk full","retryable":true}`, demo.FailCode, "disk full", true, true},
		{"handler returns an error", "returns_error", ``, processor.CodeHandlerError, "upstream exploded", false, true},
		{"handler panics", "panics", ``, processor.CodeInternal, "nil map somewhere", false, true},
		{"unknown action", "no_such_action", ``, processor.CodeUnknownAction, "no_such_action", false, false},
		{"payload refused in the worker", "refuses", `{}`, processor.CodeValidationFailed, "rows must be positive", false, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ctx := testCtx(t)
			store := newStore(t)
			p := newProcessor(t, store, router, nil)
			id := submit(t, store, tc.action, tc.payload)
			if err := p.Run(ctx, id); err != nil {
				t.Fatal(err)
			}
			evs := loadAll(t, store, id)
			f := payload[*events.Failed](t, last(t, evs))
			if f.Code != tc.code || !strings.Contains(f.Message, tc.message) || f.Retryable != tc.retryable {
				t.Fatalf("failed %+v", f)
			}
			if got := count(evs, events.RequestStarted) == 1; got != tc.started {
				t.Fatalf("started: %v, want %v (%v)", got, tc.started, typesOf(evs))
			}
			if tc.started && f.Attempt != 1 {
				t.Fatalf("attempt %d", f.Attempt)
			}
			if tc.started && len(progressOf(t, evs)) == 0 {
				t.Fatalf("the progress before the failure is missing: %v", typesOf(evs))
			}
		})
	}
}

func TestRunCancelWhileRunning(t *testing.T) {
	ctx := testCtx(t)
	store := newStore(t)
	b := newBlocker("block")
	p := newProcessor(t, store, routerWith(t, b.handler()), nil)
	id := submit(t, store, "block", "")

	done := runAsync(ctx, p, id)
	waitClosed(t, b.started, "the handler to start")
	appendTo(t, store, id, events.MustNew(events.RequestCancelRequested, events.CancelRequested{Reason: "no longer needed", By: "alice"}, events.Meta{Actor: "alice"}))

	if err := recv(t, done); err != nil {
		t.Fatal(err)
	}
	evs := loadAll(t, store, id)
	c := payload[*events.Cancelled](t, last(t, evs))
	if c.Reason != "no longer needed" {
		t.Fatalf("cancelled %+v", c)
	}
	cause, reportErr := b.observed()
	if !errors.Is(cause, handler.ErrCancelled) {
		t.Fatalf("handler context cause %v, want ErrCancelled", cause)
	}
	if !errors.Is(reportErr, handler.ErrRequestEnded) || !errors.Is(reportErr, handler.ErrCancelled) {
		t.Fatalf("report after the cancel: %v", reportErr)
	}
	if n := count(evs, events.RequestCancelled); n != 1 {
		t.Fatalf("%d cancelled events", n)
	}
}

// The Reporter, not only the watcher, notices a cancel: a report that
// meets a version conflict reloads the head.
func TestReporterConflictSeesCancel(t *testing.T) {
	ctx := testCtx(t)
	store := newStore(t)
	proceed := make(chan struct{})
	reported := make(chan struct{})
	var reportErr, cause error
	h := progressFunc{action: "slow", run: func(ctx context.Context, _ *handler.Request, r handler.Reporter) error {
		if err := r.Report(ctx, 0, "first"); err != nil {
			return err
		}
		close(reported)
		<-proceed
		reportErr = r.Report(ctx, 50, "second")
		cause = context.Cause(ctx)
		return reportErr
	}}
	p := newProcessor(t, store, routerWith(t, h), func(c *processor.Config) { c.CancelPoll = time.Hour })
	id := submit(t, store, "slow", "")
	done := runAsync(ctx, p, id)
	waitClosed(t, reported, "the first report")
	appendTo(t, store, id, events.MustNew(events.RequestCancelRequested, events.CancelRequested{Reason: "stop"}, events.Meta{}))
	close(proceed)
	if err := recv(t, done); err != nil {
		t.Fatal(err)
	}
	if !errors.Is(reportErr, handler.ErrCancelled) || !errors.Is(cause, handler.ErrCancelled) {
		t.Fatalf("report error %v, cause %v", reportErr, cause)
	}
	evs := loadAll(t, store, id)
	// The report that met the cancel is kept: it is written with the end.
	want := []string{events.RequestSubmitted, events.RequestStarted, events.RequestProgressed,
		events.RequestCancelRequested, events.RequestProgressed, events.RequestCancelled}
	if got := typesOf(evs); !slices.Equal(got, want) {
		t.Fatalf("events %v, want %v", got, want)
	}
}

func TestRunCancelBeforeStart(t *testing.T) {
	ctx := testCtx(t)
	store := newStore(t)
	var ran atomic.Bool
	h := progressFunc{action: "x", run: func(context.Context, *handler.Request, handler.Reporter) error { ran.Store(true); return nil }}
	p := newProcessor(t, store, routerWith(t, h), nil)
	id := submit(t, store, "x", "")
	appendTo(t, store, id, events.MustNew(events.RequestCancelRequested, events.CancelRequested{Reason: "changed my mind"}, events.Meta{}))
	if err := p.Run(ctx, id); err != nil {
		t.Fatal(err)
	}
	evs := loadAll(t, store, id)
	want := []string{events.RequestSubmitted, events.RequestCancelRequested, events.RequestCancelled}
	if got := typesOf(evs); !slices.Equal(got, want) {
		t.Fatalf("events %v, want %v", got, want)
	}
	if payload[*events.Cancelled](t, last(t, evs)).Reason != "changed my mind" || ran.Load() {
		t.Fatal("wrong reason, or the handler ran")
	}
}

func TestRunSilenceTimeout(t *testing.T) {
	ctx := testCtx(t)
	store := newStore(t)
	b := newBlocker("silent")
	p := newProcessor(t, store, routerWith(t, b.handler()), func(c *processor.Config) { c.SilenceTimeout = 100 * time.Millisecond })
	id := submit(t, store, "silent", "")
	if err := p.Run(ctx, id); err != nil {
		t.Fatal(err)
	}
	evs := loadAll(t, store, id)
	to := payload[*events.TimedOut](t, last(t, evs))
	if to.LastSeenAt.IsZero() || !to.Deadline.Equal(to.LastSeenAt.Add(100*time.Millisecond)) {
		t.Fatalf("timed out %+v", to)
	}
	if cause, _ := b.observed(); !errors.Is(cause, handler.ErrTimedOut) {
		t.Fatalf("cause %v", cause)
	}
}

func TestRunSubmittedDeadline(t *testing.T) {
	t.Run("passes while running", func(t *testing.T) {
		ctx := testCtx(t)
		store := newStore(t)
		b := newBlocker("slow")
		p := newProcessor(t, store, routerWith(t, b.handler()), nil)
		deadline := time.Now().Add(150 * time.Millisecond).UTC().Truncate(time.Microsecond)
		id := submit(t, store, "slow", "", func(s *events.Submitted) { s.Deadline = &deadline })
		if err := p.Run(ctx, id); err != nil {
			t.Fatal(err)
		}
		evs := loadAll(t, store, id)
		to := payload[*events.TimedOut](t, last(t, evs))
		if !to.Deadline.Equal(deadline) || count(evs, events.RequestStarted) != 1 {
			t.Fatalf("timed out %+v after %v", to, typesOf(evs))
		}
		if cause, reportErr := b.observed(); !errors.Is(cause, handler.ErrTimedOut) || !errors.Is(reportErr, handler.ErrTimedOut) {
			t.Fatalf("cause %v, report after the deadline %v", cause, reportErr)
		}
		b.mu.Lock()
		seen := b.deadline
		b.mu.Unlock()
		if !seen.Equal(deadline) {
			t.Fatalf("the handler's ctx.Deadline() is %v, want %v", seen, deadline)
		}
		if count(evs, events.RequestProgressed) != 1 {
			t.Fatalf("a report after the deadline was written: %v", typesOf(evs))
		}
	})
	t.Run("passed before start", func(t *testing.T) {
		ctx := testCtx(t)
		store := newStore(t)
		p := newProcessor(t, store, demoRouter(t), nil)
		deadline := time.Now().Add(-time.Second).UTC().Truncate(time.Microsecond)
		id := submit(t, store, demo.EchoAction, `{}`, func(s *events.Submitted) { s.Deadline = &deadline })
		if err := p.Run(ctx, id); err != nil {
			t.Fatal(err)
		}
		evs := loadAll(t, store, id)
		want := []string{events.RequestSubmitted, events.RequestTimedOut}
		if got := typesOf(evs); !slices.Equal(got, want) {
			t.Fatalf("events %v", got)
		}
		if to := payload[*events.TimedOut](t, evs[1]); !to.Deadline.Equal(deadline) || !to.LastSeenAt.Equal(evs[0].Time) {
			t.Fatalf("timed out %+v", to)
		}
	})
}

func TestRunRedeliveryOfFinishedRequestDoesNothing(t *testing.T) {
	ctx := testCtx(t)
	store := newStore(t)
	var runs atomic.Int32
	h := progressFunc{action: "count", run: func(ctx context.Context, _ *handler.Request, r handler.Reporter) error {
		runs.Add(1)
		return r.Complete(ctx, json.RawMessage(`1`))
	}}
	p := newProcessor(t, store, routerWith(t, h), nil)
	id := submit(t, store, "count", "")
	for range 3 {
		if err := p.Run(ctx, id); err != nil {
			t.Fatal(err)
		}
	}
	if n := len(loadAll(t, store, id)); n != 3 || runs.Load() != 1 {
		t.Fatalf("%d events, %d runs", n, runs.Load())
	}
}

// A request whose worker died is re-delivered: the next Run starts attempt
// 2, whose reports below the previous attempt's percentage are skipped.
func TestRunRedeliveryStartsNextAttempt(t *testing.T) {
	ctx := testCtx(t)
	store := newStore(t)
	var attempt int
	var lowErr error
	h := progressFunc{action: "retry", run: func(ctx context.Context, req *handler.Request, r handler.Reporter) error {
		attempt = req.Attempt
		lowErr = r.Report(ctx, 0, "starting over")
		if err := r.Report(ctx, 70, "past the old mark"); err != nil {
			return err
		}
		return r.Complete(ctx, nil)
	}}
	p := newProcessor(t, store, routerWith(t, h), nil)
	id := submit(t, store, "retry", "")
	appendTo(t, store, id,
		events.MustNew(events.RequestStarted, events.Started{Attempt: 1, Worker: "dead"}, events.Meta{}),
		events.MustNew(events.RequestProgressed, events.Progress{Percentage: 40, Message: "old"}, events.Meta{}))
	if err := p.Run(ctx, id); err != nil {
		t.Fatal(err)
	}
	evs := loadAll(t, store, id)
	want := []string{events.RequestSubmitted, events.RequestStarted, events.RequestProgressed,
		events.RequestStarted, events.RequestProgressed, events.RequestCompleted}
	if got := typesOf(evs); !slices.Equal(got, want) {
		t.Fatalf("events %v, want %v", got, want)
	}
	if attempt != 2 || payload[*events.Started](t, evs[3]).Attempt != 2 || lowErr != nil {
		t.Fatalf("attempt %d, report below the floor: %v", attempt, lowErr)
	}
	if pr := payload[*events.Progress](t, evs[4]); pr.Percentage != 70 {
		t.Fatalf("progress %+v", pr)
	}
}

func TestTwoProcessorsRaceOnOneRequest(t *testing.T) {
	ctx := testCtx(t)
	store := newStore(t)
	var runs atomic.Int32
	h := progressFunc{action: "work", run: func(ctx context.Context, _ *handler.Request, r handler.Reporter) error {
		runs.Add(1)
		for i := range 5 {
			if err := r.Report(ctx, float64(i*20), fmt.Sprintf("step %d", i)); err != nil {
				return err
			}
		}
		return r.Complete(ctx, json.RawMessage(`"done"`))
	}}
	router := routerWith(t, h)
	a := newProcessor(t, store, router, func(c *processor.Config) { c.WorkerName = "a" })
	b := newProcessor(t, store, router, func(c *processor.Config) { c.WorkerName = "b" })
	const requests = 10
	for range requests {
		id := submit(t, store, "work", "")
		var wg sync.WaitGroup
		errs := make([]error, 2)
		for i, p := range []*processor.Processor{a, b} {
			wg.Go(func() { errs[i] = p.Run(ctx, id) })
		}
		wg.Wait()
		if err := errors.Join(errs...); err != nil {
			t.Fatal(err)
		}
		evs := loadAll(t, store, id)
		terminal := 0
		for _, e := range evs {
			if events.IsTerminal(e.Type) {
				terminal++
			}
		}
		if terminal != 1 || last(t, evs).Type != events.RequestCompleted {
			t.Fatalf("want exactly one end, a completion: %v", typesOf(evs))
		}
		if _, err := events.Fold(evs); err != nil {
			t.Fatal(err)
		}
	}
	if n := runs.Load(); n < requests {
		t.Fatalf("%d handler runs for %d requests", n, requests)
	}
}

// A newer attempt started elsewhere takes the request over: the older
// attempt's reports fail with ErrSuperseded and it writes no end.
func TestSupersededAttemptStopsQuietly(t *testing.T) {
	ctx := testCtx(t)
	store := newStore(t)
	b := newBlocker("long")
	p := newProcessor(t, store, routerWith(t, b.handler()), nil)
	id := submit(t, store, "long", "")
	done := runAsync(ctx, p, id)
	waitClosed(t, b.started, "the handler to start")
	appendTo(t, store, id, events.MustNew(events.RequestStarted, events.Started{Attempt: 2, Worker: "elsewhere"}, events.Meta{}))
	if err := recv(t, done); err != nil {
		t.Fatal(err)
	}
	evs := loadAll(t, store, id)
	if got := last(t, evs).Type; got != events.RequestStarted {
		t.Fatalf("the superseded attempt wrote after the takeover: %v", typesOf(evs))
	}
	cause, reportErr := b.observed()
	if !errors.Is(cause, handler.ErrSuperseded) || !errors.Is(reportErr, handler.ErrRequestEnded) {
		t.Fatalf("cause %v, report %v", cause, reportErr)
	}
}

func TestShutdownMidRequestLeavesItForRedelivery(t *testing.T) {
	store := newStore(t)
	b := newBlocker("job")
	p := newProcessor(t, store, routerWith(t, b.handler()), nil)
	id := submit(t, store, "job", "")
	ctx, shutdown := context.WithCancel(testCtx(t))
	done := runAsync(ctx, p, id)
	waitClosed(t, b.started, "the handler to start")
	shutdown()
	if err := recv(t, done); !errors.Is(err, context.Canceled) {
		t.Fatalf("Run after shutdown: %v, want context.Canceled", err)
	}
	evs := loadAll(t, store, id)
	st, err := events.Fold(evs)
	if err != nil {
		t.Fatal(err)
	}
	if st.Terminal() || st.Status != events.StatusRunning {
		t.Fatalf("state %+v after shutdown: %v", st, typesOf(evs))
	}
	if _, reportErr := b.observed(); reportErr == nil {
		t.Fatal("a report after the shutdown was accepted")
	}
	// Re-delivery runs the next attempt to the end.
	b2 := newBlocker("job")
	close(b2.release)
	p2 := newProcessor(t, store, routerWith(t, b2.handler()), nil)
	if err := p2.Run(testCtx(t), id); err != nil {
		t.Fatal(err)
	}
	evs = loadAll(t, store, id)
	if last(t, evs).Type != events.RequestCompleted || count(evs, events.RequestStarted) != 2 {
		t.Fatalf("after re-delivery: %v", typesOf(evs))
	}
}

// A handler that is not a ProgressHandler runs its Process in the worker
// and completes with its result.
func TestRunSyncHandlerInWorker(t *testing.T) {
	ctx := testCtx(t)
	store := newStore(t)
	p := newProcessor(t, store, demoRouter(t), nil)
	id := submit(t, store, demo.EchoAction, `{"hello":"world"}`)
	if err := p.Run(ctx, id); err != nil {
		t.Fatal(err)
	}
	evs := loadAll(t, store, id)
	if got := string(payload[*events.Completed](t, last(t, evs)).Result); got != `{"hello":"world"}` {
		t.Fatalf("result %s", got)
	}
}

func TestRunHandlerReturningWithoutEnd(t *testing.T) {
	ctx := testCtx(t)
	store := newStore(t)
	h := progressFunc{action: "quiet", run: func(ctx context.Context, _ *handler.Request, r handler.Reporter) error {
		return r.Report(ctx, 40, "some work")
	}}
	p := newProcessor(t, store, routerWith(t, h), nil)
	id := submit(t, store, "quiet", "")
	if err := p.Run(ctx, id); err != nil {
		t.Fatal(err)
	}
	evs := loadAll(t, store, id)
	c := payload[*events.Completed](t, last(t, evs))
	if len(c.Result) != 0 {
		t.Fatalf("result %s", c.Result)
	}
}

func TestRunOfMissingRequest(t *testing.T) {
	p := newProcessor(t, newStore(t), demoRouter(t), nil)
	if err := p.Run(testCtx(t), events.NewID()); !errors.Is(err, events.ErrStreamNotFound) {
		t.Fatalf("err %v", err)
	}
}

func TestConfigValidate(t *testing.T) {
	err := processor.Config{Workers: -1, CancelPoll: -time.Second, Coalesce: processor.CoalescePolicy{MinDelta: 101}}.Validate()
	for _, want := range []string{"Store is required", "Router is required", "Workers", "CancelPoll", "MinDelta"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Fatalf("Validate: %v, missing %q", err, want)
		}
	}
	if _, err := processor.New(processor.Config{}); err == nil {
		t.Fatal("New accepted an empty config")
	}
	if err := (processor.Config{Store: newStore(t), Router: handler.NewRouter()}).Validate(); err != nil {
		t.Fatal(err)
	}
}

// Wake makes a running attempt read its log head at once: with a CancelPoll
// of an hour, only the wake can end the handler within the test's wait.
func TestWakeReadsCancelAtOnce(t *testing.T) {
	ctx := testCtx(t)
	store := newStore(t)
	b := newBlocker("block")
	p := newProcessor(t, store, routerWith(t, b.handler()), func(c *processor.Config) { c.CancelPoll = time.Hour })
	id := submit(t, store, "block", "")
	if p.Wake(id) {
		t.Fatal("Wake reported a running attempt before Run")
	}

	done := runAsync(ctx, p, id)
	waitClosed(t, b.started, "the handler to start")
	if p.Wake(events.NewID()) {
		t.Fatal("Wake reported a running attempt for a request never run")
	}
	appendTo(t, store, id, events.MustNew(events.RequestCancelRequested, events.CancelRequested{Reason: "changed my mind", By: "alice"}, events.Meta{Actor: "alice"}))
	if !p.Wake(id) {
		t.Fatal("Wake found no running attempt")
	}
	p.Wake(id) // a second wake while one is pending is merged, never blocks

	if err := recv(t, done); err != nil {
		t.Fatal(err)
	}
	if c := payload[*events.Cancelled](t, last(t, loadAll(t, store, id))); c.Reason != "changed my mind" {
		t.Fatalf("cancelled %+v", c)
	}
	if cause, _ := b.observed(); !errors.Is(cause, handler.ErrCancelled) {
		t.Fatalf("handler context cause %v, want ErrCancelled", cause)
	}
	if p.Wake(id) {
		t.Fatal("Wake reported a running attempt after the request ended")
	}
}
