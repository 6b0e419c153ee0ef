package local_test

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	awsevents "github.com/aws/aws-lambda-go/events"

	"github.com/streamer/streamer/bus"
	"github.com/streamer/streamer/bus/bustest"
	"github.com/streamer/streamer/bus/local"
	"github.com/streamer/streamer/bus/pattern"
	"github.com/streamer/streamer/bus/subscriber"
	"github.com/streamer/streamer/events"
	evsqlite "github.com/streamer/streamer/events/sqlite"
	"github.com/streamer/streamer/feed"
	"github.com/streamer/streamer/schemas"
)

// wait bounds every wait of these tests; it only guards against hangs.
const wait = 20 * time.Second

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

func newStore(t *testing.T) *evsqlite.Store {
	t.Helper()
	store, err := evsqlite.Open(filepath.Join(t.TempDir(), "events.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	return store
}

func newRun(t *testing.T, n int) (*evsqlite.Store, bustest.Run) {
	t.Helper()
	store := newStore(t)
	run, err := bustest.AppendRun(context.Background(), store, n)
	if err != nil {
		t.Fatal(err)
	}
	return store, run
}

func newBus(t *testing.T, cfg local.Config) *local.Bus {
	t.Helper()
	if cfg.Logger == nil {
		cfg.Logger = quiet
	}
	b, err := local.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), wait)
		defer cancel()
		b.Close(ctx)
	})
	return b
}

func closeBus(t *testing.T, b *local.Bus) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	if err := b.Close(ctx); err != nil {
		t.Fatalf("close: %v", err)
	}
}

// recorder is a handler target that records what it receives.
type recorder struct {
	mu  sync.Mutex
	got []events.Event
}

func (r *recorder) handle(_ context.Context, e events.Event) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.got = append(r.got, e)
	return nil
}

func (r *recorder) events() []events.Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]events.Event(nil), r.got...)
}

// TestRulesRouteByPattern: each rule's target gets exactly the events its
// pattern matches, in publish order; the Lambda-shaped target gets what an
// EventBridge rule would send, which validates against the schemas and
// decodes with the subscriber helpers.
func TestRulesRouteByPattern(t *testing.T) {
	_, run := newRun(t, 8)
	b := newBus(t, local.Config{})
	completed, all := &recorder{}, &recorder{}
	var lambdaMu sync.Mutex
	var lambda []awsevents.EventBridgeEvent
	must(t, b.AddRule(local.Rule{Name: "completed", Pattern: `{"detail-type":["request.completed"]}`, Target: local.HandlerTarget("completed", completed.handle)}))
	must(t, b.AddRule(local.Rule{Name: "all", Pattern: `{"source":["streamer"]}`, Target: local.HandlerTarget("all", all.handle)}))
	must(t, b.AddRule(local.Rule{Name: "lambda", Pattern: `{"detail":{"meta":{"tenant":["acme"]}}}`, Target: local.LambdaTarget("lambda",
		func(_ context.Context, ev awsevents.EventBridgeEvent) error {
			lambdaMu.Lock()
			defer lambdaMu.Unlock()
			lambda = append(lambda, ev)
			return nil
		})}))
	must(t, b.AddRule(local.Rule{Name: "none", Pattern: `{"source":["elsewhere"]}`, Target: local.HandlerTarget("none", func(context.Context, events.Event) error {
		t.Error("the rule on another source got an event")
		return nil
	})}))
	for _, batch := range bustest.Batches(run.Events, 5) {
		must(t, b.Publish(context.Background(), batch))
	}
	closeBus(t, b)

	if got := all.events(); !sameIDs(got, run.Events) {
		t.Fatalf("the catch-all rule got %d events, not the %d of the run in order", len(got), len(run.Events))
	}
	got := completed.events()
	if len(got) != len(run.Completed) {
		t.Fatalf("completed rule got %d events, want %d", len(got), len(run.Completed))
	}
	for _, e := range got {
		if run.Completed[e.StreamID] != e.ID {
			t.Fatalf("completed rule got %s %s", e.Type, e.ID)
		}
	}
	if len(lambda) != len(run.Events) {
		t.Fatalf("lambda target got %d events, want %d", len(lambda), len(run.Events))
	}
	for i, ev := range lambda {
		if ev.Source != "streamer" || ev.Version != "0" || ev.DetailType != run.Events[i].Type || ev.ID == "" || ev.ID == run.Events[i].ID {
			t.Fatalf("delivery %d: %+v", i, ev)
		}
		if err := schemas.ValidateDetail(ev.DetailType, ev.Detail); err != nil {
			t.Fatalf("schema: %v", err)
		}
		e, err := subscriber.Decode(ev)
		if err != nil || e.ID != run.Events[i].ID || e.Hash != run.Events[i].Hash {
			t.Fatalf("decode delivery %d: %v", i, err)
		}
	}
}

func sameIDs(a, b []events.Event) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i].ID != b[i].ID {
			return false
		}
	}
	return true
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// TestRetriesKeepOrder: a failing delivery is retried, and the rule's next
// events wait for it.
func TestRetriesKeepOrder(t *testing.T) {
	_, run := newRun(t, 4)
	b := newBus(t, local.Config{})
	var mu sync.Mutex
	var got []string
	failures := map[string]int{run.Events[2].ID: 2, run.Events[5].ID: 1}
	must(t, b.AddRule(local.Rule{Name: "flaky", Pattern: `{"source":["streamer"]}`,
		Target: local.HandlerTarget("flaky", func(_ context.Context, e events.Event) error {
			mu.Lock()
			defer mu.Unlock()
			if failures[e.ID] > 0 {
				failures[e.ID]--
				return errors.New("not now")
			}
			got = append(got, e.ID)
			return nil
		}).WithRetry(local.RetryPolicy{Retries: 3, Backoff: time.Millisecond})}))
	must(t, b.Publish(context.Background(), run.Events))
	closeBus(t, b)
	if len(got) != len(run.Events) {
		t.Fatalf("%d delivered, want %d", len(got), len(run.Events))
	}
	for i, e := range run.Events {
		if got[i] != e.ID {
			t.Fatalf("delivery %d is %s, want %s: order broken", i, got[i], e.ID)
		}
	}
}

// TestDeadLetters: a permanent error is dead-lettered at once, a failure
// that outlasts the retries after them; the SQLite dead letters keep the
// event.
func TestDeadLetters(t *testing.T) {
	store, run := newRun(t, 1)
	dls, err := local.NewSQLDeadLetters(context.Background(), store.DB())
	must(t, err)
	b := newBus(t, local.Config{DeadLetters: dls})
	var calls atomic.Int32
	must(t, b.AddRule(local.Rule{Name: "permanent", Pattern: `{"detail-type":["request.submitted"]}`,
		Target: local.HandlerTarget("permanent", func(context.Context, events.Event) error {
			calls.Add(1)
			return local.Permanent(errors.New("bad input"))
		})}))
	must(t, b.AddRule(local.Rule{Name: "down", Pattern: `{"detail-type":["request.completed"]}`,
		Target: local.HandlerTarget("down", func(context.Context, events.Event) error {
			calls.Add(1)
			return errors.New("service down")
		}).WithRetry(local.RetryPolicy{Retries: 2, Backoff: time.Millisecond})}))
	must(t, b.Publish(context.Background(), run.Events))
	closeBus(t, b)
	if calls.Load() != 1+3 {
		t.Fatalf("%d handler calls, want 1 (permanent) + 3 (two retries)", calls.Load())
	}
	list, err := dls.List(context.Background(), "")
	must(t, err)
	if len(list) != 2 {
		t.Fatalf("%d dead letters, want 2", len(list))
	}
	byRule := map[string]local.DeadLetter{}
	for _, dl := range list {
		byRule[dl.Rule] = dl
	}
	p, d := byRule["permanent"], byRule["down"]
	if p.Attempts != 1 || p.EventID != run.Events[0].ID || p.Type != events.RequestSubmitted || !strings.Contains(p.Error, "bad input") {
		t.Fatalf("permanent dead letter %+v", p)
	}
	if d.Attempts != 3 || d.Type != events.RequestCompleted || d.Error != "service down" || d.Version != 5 {
		t.Fatalf("down dead letter %+v", d)
	}
	var ev awsevents.EventBridgeEvent
	must(t, json.Unmarshal(d.Body, &ev))
	if e, err := subscriber.Decode(ev); err != nil || e.ID != d.EventID {
		t.Fatalf("dead letter body does not decode to the event: %v", err)
	}
	if only, _ := dls.List(context.Background(), "down"); len(only) != 1 {
		t.Fatalf("List(down) = %d dead letters", len(only))
	}
}

// TestWebhook: POSTed JSON, retries on 5xx, dead letter on 4xx and when
// the retries are spent.
func TestWebhook(t *testing.T) {
	store, run := newRun(t, 1)
	dls, err := local.NewSQLDeadLetters(context.Background(), store.DB())
	must(t, err)
	var mu sync.Mutex
	var bodies [][]byte
	var ids []string
	statuses := map[string][]int{
		events.RequestSubmitted: {500, 503, 200},
		events.RequestStarted:   {400},
		events.RequestCompleted: {502, 502, 502, 502},
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		var ev awsevents.EventBridgeEvent
		if r.Method != http.MethodPost || r.Header.Get("Content-Type") != "application/json" || json.Unmarshal(body, &ev) != nil {
			t.Errorf("bad webhook request: %s %s %q", r.Method, r.Header.Get("Content-Type"), body)
		}
		mu.Lock()
		defer mu.Unlock()
		status := 200
		if s := statuses[ev.DetailType]; len(s) > 0 {
			status, statuses[ev.DetailType] = s[0], s[1:]
		}
		if status == 200 {
			bodies = append(bodies, body)
			ids = append(ids, r.Header.Get("X-Streamer-Event-Id"))
		}
		w.WriteHeader(status)
	}))
	defer srv.Close()
	b := newBus(t, local.Config{})
	must(t, b.AddRule(local.Rule{Name: "hook", Pattern: `{"source":["streamer"],"detail":{"stream":[{"prefix":"request/"}]}}`,
		Target: local.WebhookTarget(srv.URL, local.WebhookOptions{Retry: local.RetryPolicy{Retries: 3, Backoff: time.Millisecond}, DeadLetters: dls})}))
	must(t, b.Publish(context.Background(), run.Events))
	closeBus(t, b)

	// submitted (after two 5xx), progress ×2: delivered; started (400) and
	// completed (four 502s) dead-lettered.
	if len(bodies) != 3 {
		t.Fatalf("%d events delivered, want 3", len(bodies))
	}
	for i, body := range bodies {
		var ev awsevents.EventBridgeEvent
		must(t, json.Unmarshal(body, &ev))
		e, err := subscriber.Decode(ev)
		if err != nil || e.ID != ids[i] {
			t.Fatalf("delivery %d: %v (header id %s)", i, err, ids[i])
		}
		if err := schemas.ValidateDetail(ev.DetailType, ev.Detail); err != nil {
			t.Fatal(err)
		}
	}
	list, err := dls.List(context.Background(), "hook")
	must(t, err)
	if len(list) != 2 || list[0].Type != events.RequestStarted || list[0].Attempts != 1 ||
		list[1].Type != events.RequestCompleted || list[1].Attempts != 4 || list[1].Target != "webhook "+srv.URL {
		t.Fatalf("dead letters %+v", list)
	}
}

// TestTailHandler streams matching events as NDJSON until the client goes.
func TestTailHandler(t *testing.T) {
	_, run := newRun(t, 4)
	b := newBus(t, local.Config{})
	srv := httptest.NewServer(b.TailHandler())
	defer srv.Close()

	resp, err := http.Get(srv.URL + "?pattern=" + url.QueryEscape(`{"detail-type":[{"prefix":"x"}`))
	must(t, err)
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("invalid pattern: status %d, want 400", resp.StatusCode)
	}
	if resp, err := http.Post(srv.URL, "application/json", nil); err != nil || resp.StatusCode != http.StatusMethodNotAllowed {
		t.Fatalf("POST: %v %v", err, resp.Status)
	}

	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL+"?pattern="+url.QueryEscape(`{"detail-type":[{"prefix":"request.c"}]}`), nil)
	resp, err = http.DefaultClient.Do(req)
	must(t, err)
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); resp.StatusCode != 200 || ct != "application/x-ndjson" {
		t.Fatalf("status %d, content type %q", resp.StatusCode, ct)
	}
	must(t, b.Publish(context.Background(), run.Events))
	var want []events.Event
	for _, e := range run.Events {
		if e.Type == events.RequestCompleted || e.Type == events.RequestCancelled || e.Type == events.RequestCancelRequested {
			want = append(want, e)
		}
	}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(nil, 1<<20)
	for i := range want {
		if !sc.Scan() {
			t.Fatalf("stream ended after %d lines: %v", i, sc.Err())
		}
		var ev awsevents.EventBridgeEvent
		must(t, json.Unmarshal(sc.Bytes(), &ev))
		e, err := subscriber.Decode(ev)
		if err != nil || e.ID != want[i].ID {
			t.Fatalf("line %d: %v, event %s, want %s", i, err, e.ID, want[i].ID)
		}
	}
	cancel()
	done := make(chan struct{})
	go func() { srv.Close(); close(done) }()
	select {
	case <-done:
	case <-time.After(wait):
		t.Fatal("the tail handler did not return after the client went away")
	}
}

// TestSlowTailIsCutOff: a subscriber that does not read is ended with
// ErrSlowSubscriber instead of holding up the bus.
func TestSlowTailIsCutOff(t *testing.T) {
	_, run := newRun(t, 4)
	b := newBus(t, local.Config{TailBuffer: 3})
	sub, err := b.Subscribe(nil)
	must(t, err)
	defer sub.Close()
	must(t, b.Publish(context.Background(), run.Events))
	n := 0
	for range sub.C {
		n++
	}
	if n != 3 || !errors.Is(sub.Err(), local.ErrSlowSubscriber) {
		t.Fatalf("read %d events, end %v; want 3 and ErrSlowSubscriber", n, sub.Err())
	}
	// The bus goes on.
	must(t, b.Publish(context.Background(), run.Events[:1]))
}

// TestProcessorRule: the processor's Lambda-shaped handler gets every
// request.submitted, and only those, with several in flight.
func TestProcessorRule(t *testing.T) {
	_, run := newRun(t, 8)
	b := newBus(t, local.Config{})
	var mu sync.Mutex
	got := map[string]bool{}
	var inFlight, peak atomic.Int32
	release := make(chan struct{})
	var once sync.Once
	must(t, b.AddRule(local.ProcessorRule("", func(ctx context.Context, ev awsevents.EventBridgeEvent) error {
		n := inFlight.Add(1)
		defer inFlight.Add(-1)
		for {
			p := peak.Load()
			if n <= p || peak.CompareAndSwap(p, n) {
				break
			}
		}
		if n == 2 {
			once.Do(func() { close(release) }) // two handlers ran at once
		}
		select {
		case <-release:
		case <-time.After(wait):
			return errors.New("no second worker")
		}
		e, p, err := subscriber.Payload[*events.Submitted](ev)
		if err != nil {
			return err
		}
		mu.Lock()
		defer mu.Unlock()
		got[e.StreamID] = p.Action == "generate_report"
		return nil
	}, 2)))
	must(t, b.Publish(context.Background(), run.Events))
	closeBus(t, b)
	if len(got) != 8 || peak.Load() != 2 {
		t.Fatalf("processor saw %d requests with at most %d in flight, want 8 with 2", len(got), peak.Load())
	}
	for stream, ok := range got {
		if !ok {
			t.Fatalf("%s: wrong payload", stream)
		}
	}
	if bus.ProcessorPatternFor("streamer") == "" || local.ProcessorRule("x", nil, 0).Concurrency != 4 {
		t.Fatal("processor rule defaults")
	}
}

// TestCloseDrainsOrDeadLetters: Close delivers what is queued; when its
// context ends first, the rest goes to the dead letters, not nowhere.
func TestCloseDrainsOrDeadLetters(t *testing.T) {
	_, run := newRun(t, 4)
	t.Run("drain", func(t *testing.T) {
		b := newBus(t, local.Config{})
		rec := &recorder{}
		must(t, b.AddRule(local.Rule{Name: "slow", Pattern: `{"source":["streamer"]}`, Target: local.HandlerTarget("slow", func(ctx context.Context, e events.Event) error {
			time.Sleep(time.Millisecond)
			return rec.handle(ctx, e)
		})}))
		must(t, b.Publish(context.Background(), run.Events))
		closeBus(t, b)
		if len(rec.events()) != len(run.Events) {
			t.Fatalf("%d delivered before Close returned, want %d", len(rec.events()), len(run.Events))
		}
		err := b.Publish(context.Background(), run.Events[:2])
		var pe *bus.PublishError
		if !errors.As(err, &pe) || len(pe.Failed) != 2 || !errors.Is(err, local.ErrClosed) {
			t.Fatalf("publish after close: %v", err)
		}
	})
	t.Run("give up", func(t *testing.T) {
		dls := &memDeadLetters{}
		b := newBus(t, local.Config{DeadLetters: dls})
		must(t, b.AddRule(local.Rule{Name: "stuck", Pattern: `{"source":["streamer"]}`, Target: local.HandlerTarget("stuck", func(ctx context.Context, e events.Event) error {
			<-ctx.Done()
			return ctx.Err()
		})}))
		must(t, b.Publish(context.Background(), run.Events))
		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		defer cancel()
		if err := b.Close(ctx); !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("close: %v, want DeadlineExceeded", err)
		}
		if n := dls.count(); n != len(run.Events) {
			t.Fatalf("%d dead letters, want every one of the %d undelivered events", n, len(run.Events))
		}
	})
}

// TestPublishWaitsForRoomAndHonoursContext: a full queue makes Publish
// wait; when its context ends it names the events it could not queue.
func TestPublishWaitsForRoomAndHonoursContext(t *testing.T) {
	_, run := newRun(t, 1)
	b := newBus(t, local.Config{QueueSize: 1})
	block := make(chan struct{})
	must(t, b.AddRule(local.Rule{Name: "blocked", Pattern: `{"source":["streamer"]}`, Target: local.HandlerTarget("blocked", func(ctx context.Context, e events.Event) error {
		select {
		case <-block:
		case <-ctx.Done():
		}
		return nil
	})}))
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	err := b.Publish(ctx, run.Events)
	close(block)
	var pe *bus.PublishError
	if !errors.As(err, &pe) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("publish into a full queue: %v", err)
	}
	// One in the handler, one in the queue; the rest not queued.
	if len(pe.Failed) != len(run.Events)-2 || pe.Failed[0].Event.ID != run.Events[2].ID {
		t.Fatalf("failed %d events from %s, want %d from the third", len(pe.Failed), pe.Failed[0].Event.ID, len(run.Events)-2)
	}
}

// TestPublishAfterOnTheLocalBus: the projector decorated with the local
// bus publishes every event of the run once; every delivered detail
// validates against the schemas.
func TestPublishAfterOnTheLocalBus(t *testing.T) {
	_, run := newRun(t, 8)
	b := newBus(t, local.Config{})
	var mu sync.Mutex
	var got []awsevents.EventBridgeEvent
	must(t, b.AddRule(local.Rule{Name: "all", Pattern: `{"source":["streamer"]}`, Target: local.LambdaTarget("all", func(_ context.Context, ev awsevents.EventBridgeEvent) error {
		mu.Lock()
		defer mu.Unlock()
		got = append(got, ev)
		return nil
	})}))
	consumer := bus.PublishAfter(projectorStub{}, b)
	if _, err := bustest.Drive(context.Background(), consumer, run.Events, 10, 100); err != nil {
		t.Fatal(err)
	}
	closeBus(t, b)
	if len(got) != len(run.Events) {
		t.Fatalf("%d delivered, want %d", len(got), len(run.Events))
	}
	types := map[string]bool{}
	for _, ev := range got {
		if err := schemas.ValidateDetail(ev.DetailType, ev.Detail); err != nil {
			t.Fatalf("%s: %v", ev.DetailType, err)
		}
		types[ev.DetailType] = true
	}
	if len(types) != len(events.Types()) {
		t.Fatalf("the run published %d event types, want all %d", len(types), len(events.Types()))
	}
}

func TestAddRuleRejects(t *testing.T) {
	b := newBus(t, local.Config{})
	target := local.HandlerTarget("x", func(context.Context, events.Event) error { return nil })
	for _, r := range []local.Rule{
		{Pattern: `{"source":["a"]}`, Target: target},
		{Name: "no target", Pattern: `{"source":["a"]}`},
		{Name: "bad pattern", Pattern: `{"source":"a"}`, Target: target},
		{Name: "bad concurrency", Pattern: `{"source":["a"]}`, Target: target, Concurrency: -1},
	} {
		if err := b.AddRule(r); err == nil {
			t.Errorf("rule %q accepted", r.Name)
		}
	}
	if err := b.AddRule(local.Rule{Name: "bad pattern", Pattern: `{"source":"a"}`, Target: target}); !errors.Is(err, pattern.ErrInvalidPattern) {
		t.Errorf("bad pattern error %v does not match ErrInvalidPattern", err)
	}
	must(t, b.AddRule(local.Rule{Name: "r", Pattern: `{"source":["a"]}`, Target: target}))
	if err := b.AddRule(local.Rule{Name: "r", Pattern: `{"source":["a"]}`, Target: target}); err == nil {
		t.Error("duplicate rule name accepted")
	}
	if _, err := local.New(local.Config{QueueSize: -1, TailBuffer: -1}); err == nil {
		t.Error("negative sizes accepted")
	}
}

type projectorStub struct{}

func (projectorStub) Name() string { return "projector" }
func (projectorStub) Handle(context.Context, []events.Event) []feed.Failure {
	return nil
}

type memDeadLetters struct {
	mu sync.Mutex
	n  int
}

func (m *memDeadLetters) Put(context.Context, local.DeadLetter) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.n++
	return nil
}

func (m *memDeadLetters) count() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.n
}

// TestCloseUnblocksPublish: a Publish waiting for room in a stuck rule's
// queue gives up when Close starts, so Close can finish by its deadline.
func TestCloseUnblocksPublish(t *testing.T) {
	_, run := newRun(t, 1)
	dls := &memDeadLetters{}
	b := newBus(t, local.Config{QueueSize: 1, DeadLetters: dls})
	started := make(chan struct{}, len(run.Events))
	must(t, b.AddRule(local.Rule{Name: "stuck", Pattern: `{"source":["streamer"]}`, Target: local.HandlerTarget("stuck", func(ctx context.Context, e events.Event) error {
		started <- struct{}{}
		<-ctx.Done()
		return ctx.Err()
	})}))
	published := make(chan error, 1)
	go func() { published <- b.Publish(context.Background(), run.Events) }()
	<-started // the target holds the first event; Publish fills the queue and waits
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	closed := make(chan error, 1)
	go func() { closed <- b.Close(ctx) }()
	var pe *bus.PublishError
	select {
	case err := <-published:
		if !errors.As(err, &pe) || !errors.Is(err, local.ErrClosed) {
			t.Fatalf("publish: %v, want a PublishError with ErrClosed", err)
		}
	case <-time.After(wait):
		t.Fatal("Publish stayed blocked during Close")
	}
	select {
	case err := <-closed:
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("close: %v", err)
		}
	case <-time.After(wait):
		t.Fatal("Close did not return")
	}
	// Every event is either reported unpublished or dead-lettered.
	if queued := len(run.Events) - len(pe.Failed); queued < 1 || dls.count() != queued {
		t.Fatalf("%d events queued, %d dead letters", queued, dls.count())
	}
}
