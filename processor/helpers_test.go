package processor_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/streamer/streamer/events"
	"github.com/streamer/streamer/events/sqlite"
	"github.com/streamer/streamer/handler"
	"github.com/streamer/streamer/processor"
)

// wait bounds every wait of these tests: generous, only to avoid hangs.
const wait = 20 * time.Second

func newStore(t testing.TB) *sqlite.Store {
	t.Helper()
	s, err := sqlite.Open(filepath.Join(t.TempDir(), "e.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func testCtx(t testing.TB) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	t.Cleanup(cancel)
	return ctx
}

// submit appends request.submitted for a new request and returns its ID.
func submit(t testing.TB, store events.Store, action string, payload string, mods ...func(*events.Submitted)) string {
	t.Helper()
	id := events.NewID()
	sub := events.Submitted{Action: action, Owner: "alice", Tenant: "acme"}
	if payload != "" {
		sub.Payload = json.RawMessage(payload)
	}
	for _, m := range mods {
		m(&sub)
	}
	ev := events.MustNew(events.RequestSubmitted, sub, events.Meta{Actor: "alice", Tenant: "acme", CorrelationID: "corr-" + id, Source: "test"})
	if _, err := store.Append(context.Background(), events.RequestStream(id), 0, ev); err != nil {
		t.Fatal(err)
	}
	return id
}

// appendTo appends evs at the stream's current head.
func appendTo(t testing.TB, store events.Store, id string, evs ...events.Event) {
	t.Helper()
	all := loadAll(t, store, id)
	if _, err := store.Append(context.Background(), events.RequestStream(id), all[len(all)-1].Version, evs...); err != nil {
		t.Fatal(err)
	}
}

func loadAll(t testing.TB, store events.Store, id string) []events.Event {
	t.Helper()
	evs, err := events.LoadAll(context.Background(), store, events.RequestStream(id), 1)
	if err != nil {
		t.Fatal(err)
	}
	return evs
}

func typesOf(evs []events.Event) []string {
	out := make([]string, len(evs))
	for i, e := range evs {
		out[i] = e.Type
	}
	return out
}

func count(evs []events.Event, typ string) int {
	n := 0
	for _, e := range evs {
		if e.Type == typ {
			n++
		}
	}
	return n
}

func last(t testing.TB, evs []events.Event) events.Event {
	t.Helper()
	if len(evs) == 0 {
		t.Fatal("no events")
	}
	return evs[len(evs)-1]
}

func payload[T any](t testing.TB, e events.Event) T {
	t.Helper()
	p, err := events.PayloadAs[T](e)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// progressOf returns the progress payloads of evs in order.
func progressOf(t testing.TB, evs []events.Event) []*events.Progress {
	t.Helper()
	var out []*events.Progress
	for _, e := range evs {
		if e.Type == events.RequestProgressed {
			out = append(out, payload[*events.Progress](t, e))
		}
	}
	return out
}

// waitFor polls cond until it holds (or fails the test after wait).
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(wait)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// newProcessor builds a processor over store and router with fast test
// settings; mod adjusts the config.
func newProcessor(t testing.TB, store events.Store, router *handler.Router, mod func(*processor.Config)) *processor.Processor {
	t.Helper()
	cfg := processor.Config{
		Store: store, Router: router, WorkerName: "test",
		CancelPoll: 10 * time.Millisecond, HandlerGrace: 5 * time.Second,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	}
	if mod != nil {
		mod(&cfg)
	}
	p, err := processor.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// progressFunc is a test ProgressHandler built from functions.
type progressFunc struct {
	action   string
	validate func(*handler.Request) error
	run      func(ctx context.Context, req *handler.Request, r handler.Reporter) error
}

func (h progressFunc) Action() string                   { return h.action }
func (h progressFunc) EstimatedDuration() time.Duration { return time.Minute }
func (h progressFunc) Validate(req *handler.Request) error {
	if h.validate != nil {
		return h.validate(req)
	}
	return nil
}
func (h progressFunc) Process(context.Context, *handler.Request) (*handler.Response, error) {
	return nil, handler.ErrAsyncRequired
}
func (h progressFunc) ProcessWithProgress(ctx context.Context, req *handler.Request, r handler.Reporter) error {
	return h.run(ctx, req, r)
}

// routerWith registers hs on a new router.
func routerWith(t testing.TB, hs ...handler.Handler) *handler.Router {
	t.Helper()
	r := handler.NewRouter()
	for _, h := range hs {
		if err := r.Register(h); err != nil {
			t.Fatal(err)
		}
	}
	return r
}

// blocker is a handler that reports 10% and then waits for its context to
// end, recording the cause; release lets it complete instead.
type blocker struct {
	action  string
	started chan struct{}
	release chan struct{}
	once    sync.Once

	mu        sync.Mutex
	deadline  time.Time // ctx.Deadline() as the handler saw it
	cause     error
	reportErr error
}

func newBlocker(action string) *blocker {
	return &blocker{action: action, started: make(chan struct{}), release: make(chan struct{})}
}

func (b *blocker) handler() progressFunc {
	return progressFunc{action: b.action, run: func(ctx context.Context, req *handler.Request, r handler.Reporter) error {
		if err := r.Report(ctx, 10, "working"); err != nil {
			return err
		}
		b.mu.Lock()
		b.deadline, _ = ctx.Deadline()
		b.mu.Unlock()
		b.once.Do(func() { close(b.started) })
		select {
		case <-ctx.Done():
			b.mu.Lock()
			b.cause = context.Cause(ctx)
			b.reportErr = r.Report(context.Background(), 20, "after the end")
			b.mu.Unlock()
			return ctx.Err()
		case <-b.release:
			return r.Complete(ctx, json.RawMessage(`{"ok":true}`))
		}
	}}
}

func (b *blocker) observed() (cause, reportErr error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.cause, b.reportErr
}

func waitClosed(t testing.TB, ch <-chan struct{}, what string) {
	t.Helper()
	select {
	case <-ch:
	case <-time.After(wait):
		t.Fatalf("timed out waiting for %s", what)
	}
}

// runAsync runs p.Run in a goroutine and returns its result channel.
func runAsync(ctx context.Context, p *processor.Processor, id string) <-chan error {
	ch := make(chan error, 1)
	go func() { ch <- p.Run(ctx, id) }()
	return ch
}

func recv(t testing.TB, ch <-chan error) error {
	t.Helper()
	select {
	case err := <-ch:
		return err
	case <-time.After(wait):
		t.Fatal("timed out waiting for Run")
		return errors.New("unreachable")
	}
}

// fakeClock is a clock the test moves by hand.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newFakeClock() *fakeClock {
	return &fakeClock{t: time.Date(2026, 11, 28, 3, 0, 0, 0, time.UTC)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}
