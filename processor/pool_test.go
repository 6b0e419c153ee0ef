package processor_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/streamer/streamer/events"
	"github.com/streamer/streamer/feed/local"
	"github.com/streamer/streamer/handler"
	"github.com/streamer/streamer/handler/demo"
	"github.com/streamer/streamer/processor"
)

func isTerminal(t testing.TB, store events.Store, id string) bool {
	t.Helper()
	st, err := events.Fold(loadAll(t, store, id))
	if err != nil {
		t.Fatal(err)
	}
	return st.Terminal()
}

func TestPoolRunsEverythingSubmitted(t *testing.T) {
	ctx := testCtx(t)
	store := newStore(t)
	var running, peak atomic.Int32
	h := progressFunc{action: "job", run: func(ctx context.Context, _ *handler.Request, r handler.Reporter) error {
		n := running.Add(1)
		defer running.Add(-1)
		for {
			p := peak.Load()
			if n <= p || peak.CompareAndSwap(p, n) {
				break
			}
		}
		time.Sleep(5 * time.Millisecond)
		return r.Complete(ctx, json.RawMessage(`true`))
	}}
	p := newProcessor(t, store, routerWith(t, h), func(c *processor.Config) { c.Workers, c.QueueSize = 3, 2 })
	if err := p.Start(ctx); err != nil {
		t.Fatal(err)
	}
	if err := p.Start(ctx); !errors.Is(err, processor.ErrAlreadyStarted) {
		t.Fatalf("second Start: %v", err)
	}
	var ids []string
	for range 20 { // far more than the queue holds: Submit blocks for room
		id := submit(t, store, "job", "")
		ids = append(ids, id)
		if err := p.Submit(ctx, id); err != nil {
			t.Fatal(err)
		}
	}
	for _, id := range ids {
		waitFor(t, "request "+id+" to end", func() bool { return isTerminal(t, store, id) })
		evs := loadAll(t, store, id)
		if last(t, evs).Type != events.RequestCompleted || count(evs, events.RequestStarted) != 1 {
			t.Fatalf("events %v", typesOf(evs))
		}
		if w := payload[*events.Started](t, evs[1]).Worker; w != "test/1" && w != "test/2" && w != "test/3" {
			t.Fatalf("worker %q", w)
		}
	}
	if peak.Load() > 3 {
		t.Fatalf("%d handlers ran at once with 3 workers", peak.Load())
	}
	if err := p.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	if err := p.Submit(ctx, ids[0]); !errors.Is(err, processor.ErrStopped) {
		t.Fatalf("Submit after Stop: %v", err)
	}
}

func TestSubmitBackpressureHonoursContext(t *testing.T) {
	store := newStore(t)
	p := newProcessor(t, store, demoRouter(t), func(c *processor.Config) { c.QueueSize = 1 })
	ctx := testCtx(t)
	a, b := submit(t, store, demo.EchoAction, `{}`), submit(t, store, demo.EchoAction, `{}`)
	if err := p.Submit(ctx, a); err != nil { // not started: the queue holds it
		t.Fatal(err)
	}
	if err := p.Submit(ctx, a); err != nil { // already queued: a no-op, not a second slot
		t.Fatal(err)
	}
	short, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	if err := p.Submit(short, b); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Submit to a full queue: %v", err)
	}
	if err := p.Start(ctx); err != nil {
		t.Fatal(err)
	}
	if err := p.Submit(ctx, b); err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{a, b} {
		waitFor(t, "request to end", func() bool { return isTerminal(t, store, id) })
	}
	if err := p.Stop(ctx); err != nil {
		t.Fatal(err)
	}
}

func TestStopWaitsForRunningHandlers(t *testing.T) {
	ctx := testCtx(t)
	store := newStore(t)
	b := newBlocker("job")
	p := newProcessor(t, store, routerWith(t, b.handler()), func(c *processor.Config) { c.Workers = 1 })
	if err := p.Start(ctx); err != nil {
		t.Fatal(err)
	}
	id := submit(t, store, "job", "")
	if err := p.Submit(ctx, id); err != nil {
		t.Fatal(err)
	}
	waitClosed(t, b.started, "the handler to start")
	stopped := make(chan error, 1)
	go func() { stopped <- p.Stop(ctx) }()
	select {
	case err := <-stopped:
		t.Fatalf("Stop returned (%v) while a handler was running", err)
	case <-time.After(50 * time.Millisecond):
	}
	close(b.release)
	if err := <-stopped; err != nil {
		t.Fatal(err)
	}
	if last(t, loadAll(t, store, id)).Type != events.RequestCompleted {
		t.Fatal("the running request did not complete")
	}
}

func TestStopDeadlineCancelsAndLeavesRequestsForRedelivery(t *testing.T) {
	ctx := testCtx(t)
	store := newStore(t)
	b := newBlocker("job")
	p := newProcessor(t, store, routerWith(t, b.handler()), func(c *processor.Config) { c.Workers = 1 })
	if err := p.Start(ctx); err != nil {
		t.Fatal(err)
	}
	running, queued := submit(t, store, "job", ""), submit(t, store, "job", "")
	for _, id := range []string{running, queued} {
		if err := p.Submit(ctx, id); err != nil {
			t.Fatal(err)
		}
	}
	waitClosed(t, b.started, "the handler to start")
	stopCtx, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	if err := p.Stop(stopCtx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Stop: %v", err)
	}
	if cause, _ := b.observed(); !errors.Is(cause, context.Canceled) {
		t.Fatalf("the running handler's context: %v", cause)
	}
	for id, status := range map[string]string{running: events.StatusRunning, queued: events.StatusQueued} {
		st, err := events.Fold(loadAll(t, store, id))
		if err != nil {
			t.Fatal(err)
		}
		if st.Status != status {
			t.Fatalf("status %q, want %q (never marked failed)", st.Status, status)
		}
	}

	// The next process resumes both.
	b2 := newBlocker("job")
	close(b2.release)
	p2 := newProcessor(t, store, routerWith(t, b2.handler()), nil)
	if err := p2.Start(ctx); err != nil {
		t.Fatal(err)
	}
	n, err := p2.Resume(ctx)
	if err != nil || n != 2 {
		t.Fatalf("Resume: %d, %v", n, err)
	}
	for _, id := range []string{running, queued} {
		waitFor(t, "resumed request to end", func() bool { return isTerminal(t, store, id) })
		if last(t, loadAll(t, store, id)).Type != events.RequestCompleted {
			t.Fatal("resumed request did not complete")
		}
	}
	if n, err := p2.Resume(ctx); err != nil || n != 0 {
		t.Fatalf("second Resume: %d, %v", n, err)
	}
	if err := p2.Stop(ctx); err != nil {
		t.Fatal(err)
	}
}

func TestStartContextEndStopsThePool(t *testing.T) {
	store := newStore(t)
	b := newBlocker("job")
	p := newProcessor(t, store, routerWith(t, b.handler()), nil)
	ctx, cancel := context.WithCancel(testCtx(t))
	if err := p.Start(ctx); err != nil {
		t.Fatal(err)
	}
	id := submit(t, store, "job", "")
	if err := p.Submit(ctx, id); err != nil {
		t.Fatal(err)
	}
	waitClosed(t, b.started, "the handler to start")
	cancel()
	if err := p.Stop(testCtx(t)); err != nil {
		t.Fatal(err)
	}
	if isTerminal(t, store, id) {
		t.Fatal("an interrupted request was ended")
	}
	if err := p.Submit(testCtx(t), id); !errors.Is(err, processor.ErrStopped) {
		t.Fatalf("Submit: %v", err)
	}
}

func TestConsumerBatch(t *testing.T) {
	ctx := testCtx(t)
	store := newStore(t)
	p := newProcessor(t, store, demoRouter(t), func(c *processor.Config) { c.QueueSize = 10 })
	c := p.Consumer()
	if c.Name() != processor.ConsumerName {
		t.Fatalf("name %q", c.Name())
	}
	async := submit(t, store, demo.GenerateReportAction, `{"rows":3}`)
	sync := submit(t, store, demo.EchoAction, `{"a":1}`)
	appendTo(t, store, sync,
		events.MustNew(events.RequestStarted, events.Started{Attempt: 1, Worker: "router"}, events.Meta{}),
		events.MustNew(events.RequestCompleted, events.Completed{Result: json.RawMessage(`{"a":1}`)}, events.Meta{}))
	var batch []events.Event
	for _, id := range []string{async, sync} {
		batch = append(batch, loadAll(t, store, id)...)
	}
	opened := events.MustNew(events.ConnectionOpened, events.Opened{User: "alice"}, events.Meta{})
	stored, err := store.Append(ctx, events.ConnectionStream("c1"), 0, opened)
	if err != nil {
		t.Fatal(err)
	}
	batch = append(batch, stored...)
	if f := c.Handle(ctx, batch); f != nil {
		t.Fatalf("failures %v", f)
	}
	if err := p.Start(ctx); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the async request to end", func() bool { return isTerminal(t, store, async) })
	if err := p.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	if got := typesOf(loadAll(t, store, sync)); len(got) != 3 {
		t.Fatalf("the sync request was run again: %v", got)
	}
	if last(t, loadAll(t, store, async)).Type != events.RequestCompleted {
		t.Fatal("the async request did not complete")
	}
}

func TestConsumerFullQueueHonoursContext(t *testing.T) {
	store := newStore(t)
	p := newProcessor(t, store, demoRouter(t), func(c *processor.Config) { c.QueueSize = 1 })
	var batch []events.Event
	var ids []string
	for range 3 {
		id := submit(t, store, demo.EchoAction, `{}`)
		ids = append(ids, id)
		batch = append(batch, loadAll(t, store, id)...)
	}
	ctx, cancel := context.WithTimeout(testCtx(t), 50*time.Millisecond)
	defer cancel()
	failures := p.Consumer().Handle(ctx, batch) // nobody takes from the queue
	var failed []string
	for _, f := range failures {
		if f.Version != 1 || !errors.Is(f.Err, context.DeadlineExceeded) {
			t.Fatalf("failure %+v", f)
		}
		failed = append(failed, f.Stream)
	}
	want := []string{events.RequestStream(ids[1]), events.RequestStream(ids[2])}
	if !slices.Equal(failed, want) {
		t.Fatalf("failed %v, want %v (the first was queued)", failed, want)
	}
}

// The local trigger end to end: the real tailer feeds the consumer.
func TestConsumerWithLocalTailer(t *testing.T) {
	ctx := testCtx(t)
	store := newStore(t)
	state, err := local.NewSQLiteState(ctx, store.DB())
	if err != nil {
		t.Fatal(err)
	}
	p := newProcessor(t, store, demoRouter(t), nil)
	if err := p.Start(ctx); err != nil {
		t.Fatal(err)
	}
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	tailer := local.NewTailer(store, state, state, p.Consumer(), local.Config{}, logger)
	tctx, stopTailer := context.WithCancel(ctx)
	tailed := make(chan error, 1)
	go func() { tailed <- tailer.Run(tctx) }()

	report := submit(t, store, demo.GenerateReportAction, ``)
	failing := submit(t, store, demo.FailAction, `{"message":"on purpose"}`)
	for _, id := range []string{report, failing} {
		waitFor(t, "request to end", func() bool { return isTerminal(t, store, id) })
	}
	stopTailer()
	if err := <-tailed; !errors.Is(err, context.Canceled) {
		t.Fatal(err)
	}
	if err := p.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	if last(t, loadAll(t, store, report)).Type != events.RequestCompleted {
		t.Fatal("report did not complete")
	}
	if f := payload[*events.Failed](t, last(t, loadAll(t, store, failing))); f.Code != demo.FailCode || f.Message != "on purpose" {
		t.Fatalf("failed %+v", f)
	}
	if dl, err := state.DeadLetters(ctx, processor.ConsumerName); err != nil || len(dl) != 0 {
		t.Fatalf("dead letters %v, %v", dl, err)
	}
}

// A request.cancel_requested in a batch wakes the running attempt: with a
// CancelPoll of an hour, only the consumer's wake can end it in time.
func TestConsumerWakesOnCancelRequested(t *testing.T) {
	ctx := testCtx(t)
	store := newStore(t)
	b := newBlocker("block")
	p := newProcessor(t, store, routerWith(t, b.handler()), func(c *processor.Config) { c.CancelPoll = time.Hour })
	if err := p.Start(ctx); err != nil {
		t.Fatal(err)
	}
	id := submit(t, store, "block", "")
	if f := p.Consumer().Handle(ctx, loadAll(t, store, id)); f != nil {
		t.Fatalf("failures %v", f)
	}
	waitClosed(t, b.started, "the handler to start")
	appendTo(t, store, id, events.MustNew(events.RequestCancelRequested, events.CancelRequested{Reason: "stop", By: "alice"}, events.Meta{Actor: "alice"}))
	all := loadAll(t, store, id)
	if f := p.Consumer().Handle(ctx, all[len(all)-1:]); f != nil {
		t.Fatalf("failures %v", f)
	}
	waitFor(t, "the request to be cancelled", func() bool { return isTerminal(t, store, id) })
	if got := last(t, loadAll(t, store, id)).Type; got != events.RequestCancelled {
		t.Fatalf("last event %s, want %s", got, events.RequestCancelled)
	}
}

// With Config.Pending, Resume submits what Pending lists (not what a scan
// of the log would find) and reports Pending's failure.
func TestResumeFromPending(t *testing.T) {
	ctx := testCtx(t)
	store := newStore(t)
	listed := submit(t, store, demo.EchoAction, `{"a":1}`)
	unlisted := submit(t, store, demo.EchoAction, `{"a":2}`)
	p := newProcessor(t, store, demoRouter(t), func(c *processor.Config) {
		c.Pending = func(context.Context) ([]string, error) { return []string{listed}, nil }
	})
	if err := p.Start(ctx); err != nil {
		t.Fatal(err)
	}
	if n, err := p.Resume(ctx); err != nil || n != 1 {
		t.Fatalf("Resume: %d, %v", n, err)
	}
	waitFor(t, "the listed request to end", func() bool { return isTerminal(t, store, listed) })
	if err := p.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	if isTerminal(t, store, unlisted) {
		t.Fatal("Resume ran a request Pending did not list")
	}

	boom := errors.New("views unavailable")
	p2 := newProcessor(t, store, demoRouter(t), func(c *processor.Config) {
		c.Pending = func(context.Context) ([]string, error) { return nil, boom }
	})
	if err := p2.Start(ctx); err != nil {
		t.Fatal(err)
	}
	defer p2.Stop(ctx)
	if n, err := p2.Resume(ctx); !errors.Is(err, boom) || n != 0 {
		t.Fatalf("Resume with a failing Pending: %d, %v", n, err)
	}
}

// Cancel ends a request queued behind a busy worker at once, without
// starting it, and wakes a running one; the worker that later takes the
// queued request finds it ended.
func TestCancelEndsQueuedRequestAtOnce(t *testing.T) {
	ctx := testCtx(t)
	store := newStore(t)
	b := newBlocker("block")
	p := newProcessor(t, store, routerWith(t, b.handler()), func(c *processor.Config) {
		c.Workers, c.CancelPoll = 1, time.Hour
	})
	if err := p.Start(ctx); err != nil {
		t.Fatal(err)
	}
	running := submit(t, store, "block", "")
	queued := submit(t, store, "block", "")
	for _, id := range []string{running, queued} {
		if err := p.Submit(ctx, id); err != nil {
			t.Fatal(err)
		}
	}
	waitClosed(t, b.started, "the first request to start")
	appendTo(t, store, queued, events.MustNew(events.RequestCancelRequested, events.CancelRequested{Reason: "not needed", By: "alice"}, events.Meta{Actor: "alice"}))
	if err := p.Cancel(ctx, queued); err != nil {
		t.Fatal(err)
	}
	evs := loadAll(t, store, queued)
	if got := typesOf(evs); !slices.Equal(got, []string{events.RequestSubmitted, events.RequestCancelRequested, events.RequestCancelled}) {
		t.Fatalf("queued request: %v, want it cancelled without starting while the worker is busy", got)
	}

	appendTo(t, store, running, events.MustNew(events.RequestCancelRequested, events.CancelRequested{Reason: "stop", By: "alice"}, events.Meta{Actor: "alice"}))
	if err := p.Cancel(ctx, running); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the running request to be cancelled", func() bool { return isTerminal(t, store, running) })
	if cause, _ := b.observed(); !errors.Is(cause, handler.ErrCancelled) {
		t.Fatalf("running handler's cause %v, want ErrCancelled", cause)
	}
	if err := p.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	if n := count(loadAll(t, store, queued), events.RequestStarted); n != 0 {
		t.Fatalf("the queued request was started %d times after its cancel", n)
	}
}
