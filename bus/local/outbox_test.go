package local_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	awsevents "github.com/aws/aws-lambda-go/events"

	"github.com/streamer/streamer/bus"
	"github.com/streamer/streamer/bus/bustest"
	"github.com/streamer/streamer/bus/local"
	"github.com/streamer/streamer/bus/subscriber"
	"github.com/streamer/streamer/events"
	evsqlite "github.com/streamer/streamer/events/sqlite"
)

const catchAll = `{"source":["streamer"]}`

// openStore opens the event store at path (a second Open of one file is
// the next process).
func openStore(t *testing.T, path string) *evsqlite.Store {
	t.Helper()
	store, err := evsqlite.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	return store
}

func newOutbox(t *testing.T, store *evsqlite.Store) *local.SQLOutbox {
	t.Helper()
	ob, err := local.NewSQLOutbox(context.Background(), store.DB())
	if err != nil {
		t.Fatal(err)
	}
	return ob
}

// crashBus is a bus the test abandons as a crash would: it is never
// closed while the test runs. Its cleanup, registered after the store's,
// ends it before the store closes, with a context already done, so that
// it writes nothing more to the outbox.
func crashBus(t *testing.T, cfg local.Config) *local.Bus {
	t.Helper()
	cfg.Logger = quiet
	b, err := local.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		b.Close(ctx)
	})
	return b
}

// eventually polls cond until it holds; the deadline only avoids a hang.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(wait)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func counts(t *testing.T, ob local.Outbox) map[string]int {
	t.Helper()
	c, err := ob.Counts(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// stuck is a target that never finishes a delivery: it returns only when
// its bus gives up (Close's context ended), with that error.
func stuck(name string, started chan<- string) local.Target {
	return local.HandlerTarget(name, func(ctx context.Context, e events.Event) error {
		if started != nil {
			started <- e.ID
		}
		<-ctx.Done()
		return ctx.Err()
	})
}

// lambdaRecorder records the EventBridge events a Lambda-shaped target
// receives.
type lambdaRecorder struct {
	mu  sync.Mutex
	got []awsevents.EventBridgeEvent
}

func (r *lambdaRecorder) handle(_ context.Context, ev awsevents.EventBridgeEvent) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.got = append(r.got, ev)
	return nil
}

func (r *lambdaRecorder) events() []awsevents.EventBridgeEvent {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.got)
}

// TestOutboxSurvivesACrash: a bus that stops mid-way (its targets stuck,
// never closed) loses nothing. The next bus over the same database file
// delivers every undelivered delivery exactly as it was stored — the same
// EventBridge JSON, byte for byte — a Concurrency 1 rule in publish order
// and before any new event; a worker pool each once; and nothing that was
// delivered (and acknowledged) before the crash arrives again.
func TestOutboxSurvivesACrash(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "events.db")
	store := openStore(t, path)
	run, err := bustest.AppendRun(ctx, store, 8)
	must(t, err)
	const k = 7 // the ordered rule delivers this many events before it hangs
	submitted := []string{}
	for _, e := range run.Events {
		if e.Type == events.RequestSubmitted {
			submitted = append(submitted, e.ID)
		}
	}

	// The first process.
	ob1 := newOutbox(t, store)
	b1 := crashBus(t, local.Config{Outbox: ob1})
	tail, err := b1.Subscribe(nil)
	must(t, err)
	before := &recorder{}
	must(t, b1.AddRule(local.Rule{Name: "ordered", Pattern: catchAll, Target: local.HandlerTarget("ordered", func(ctx context.Context, e events.Event) error {
		if len(before.events()) == k {
			<-ctx.Done() // the crash: this delivery never finishes
			return ctx.Err()
		}
		return before.handle(ctx, e)
	})}))
	delivered := &recorder{}
	must(t, b1.AddRule(local.Rule{Name: "delivered", Pattern: catchAll, Target: local.HandlerTarget("delivered", delivered.handle)}))
	must(t, b1.AddRule(local.Rule{Name: "pool", Pattern: `{"detail-type":["request.submitted"]}`, Target: stuck("pool", nil), Concurrency: 3}))
	for _, batch := range bustest.Batches(run.Events, 5) {
		must(t, b1.Publish(ctx, batch))
	}
	stored := map[string][]byte{} // event ID → the JSON the bus stored and the tail got
	for range run.Events {
		select {
		case js := <-tail.C:
			var ev awsevents.EventBridgeEvent
			must(t, json.Unmarshal(js, &ev))
			e, err := subscriber.Decode(ev)
			must(t, err)
			stored[e.ID] = js
		case <-time.After(wait):
			t.Fatal("the tail missed events")
		}
	}
	want := map[string]int{"ordered": len(run.Events) - k, "pool": len(submitted)}
	eventually(t, "the first bus to deliver and acknowledge what it can", func() bool {
		return len(delivered.events()) == len(run.Events) && maps.Equal(counts(t, ob1), want)
	})
	if !sameIDs(before.events(), run.Events[:k]) {
		t.Fatalf("before the crash the ordered rule got %d events, want the first %d in order", len(before.events()), k)
	}
	pending, err := ob1.Pending(ctx, "ordered")
	must(t, err)
	for i, e := range pending {
		if want := run.Events[k+i]; e.EventID != want.ID || e.Stream != want.StreamID || e.Version != want.Version ||
			e.Type != want.Type || e.Rule != "ordered" || !bytes.Equal(e.Body, stored[want.ID]) || (i > 0 && e.ID <= pending[i-1].ID) {
			t.Fatalf("outbox entry %d is %+v, want event %s as published", i, e, want.ID)
		}
	}

	// The next process: the same file, opened again.
	store2 := openStore(t, path)
	ob2 := newOutbox(t, store2)
	b2 := newBus(t, local.Config{Outbox: ob2})
	ordered, again, pool := &lambdaRecorder{}, &recorder{}, &recorder{}
	must(t, b2.AddRule(local.Rule{Name: "ordered", Pattern: catchAll, Target: local.LambdaTarget("ordered", ordered.handle)}))
	must(t, b2.AddRule(local.Rule{Name: "delivered", Pattern: catchAll, Target: local.HandlerTarget("delivered", again.handle)}))
	must(t, b2.AddRule(local.Rule{Name: "pool", Pattern: `{"detail-type":["request.submitted"]}`, Target: local.HandlerTarget("pool", pool.handle), Concurrency: 3}))
	run2, err := bustest.AppendRun(ctx, store2, 2)
	must(t, err)
	must(t, b2.Publish(ctx, run2.Events))
	closeBus(t, b2)

	got := ordered.events()
	wantOrder := append(slices.Clone(run.Events[k:]), run2.Events...)
	if len(got) != len(wantOrder) {
		t.Fatalf("after the restart the ordered rule got %d deliveries, want %d", len(got), len(wantOrder))
	}
	for i, ev := range got {
		e, err := subscriber.Decode(ev)
		must(t, err)
		if e.ID != wantOrder[i].ID || e.Hash != wantOrder[i].Hash {
			t.Fatalf("delivery %d after the restart is %s, want %s: order broken", i, e.ID, wantOrder[i].ID)
		}
		if i < len(pending) {
			js, err := json.Marshal(ev)
			must(t, err)
			if !bytes.Equal(js, stored[e.ID]) {
				t.Fatalf("recovered delivery %d is\n%s\nnot as stored\n%s", i, js, stored[e.ID])
			}
		}
	}
	if !sameIDs(again.events(), run2.Events) {
		t.Fatalf("the rule that had delivered everything got %d events after the restart, want only the %d new ones", len(again.events()), len(run2.Events))
	}
	var poolGot []string
	for _, e := range pool.events() {
		poolGot = append(poolGot, e.ID)
	}
	for _, e := range run2.Events {
		if e.Type == events.RequestSubmitted {
			submitted = append(submitted, e.ID)
		}
	}
	slices.Sort(poolGot)
	slices.Sort(submitted)
	if !slices.Equal(poolGot, submitted) {
		t.Fatalf("the pool got %v, want each submitted event once: %v", poolGot, submitted)
	}
	if c := counts(t, ob2); len(c) != 0 {
		t.Fatalf("the outbox still holds %v after a clean close", c)
	}
}

// TestOutboxDeadLetters: a dead-lettered delivery leaves the outbox and
// is in the dead letters; one whose dead letter cannot be recorded stays
// in the outbox and is delivered by the next bus; an outbox row that does
// not decode is dead-lettered at once with ErrBadOutboxEntry.
func TestOutboxDeadLetters(t *testing.T) {
	ctx := context.Background()
	store, run := newRun(t, 4)
	ob := newOutbox(t, store)
	dls, err := local.NewSQLDeadLetters(ctx, store.DB())
	must(t, err)
	b := newBus(t, local.Config{Outbox: ob, DeadLetters: dls})
	must(t, b.AddRule(local.Rule{Name: "permanent", Pattern: `{"detail-type":["request.submitted"]}`,
		Target: local.HandlerTarget("permanent", func(context.Context, events.Event) error {
			return local.Permanent(errors.New("bad input"))
		})}))
	must(t, b.AddRule(local.Rule{Name: "unrecorded", Pattern: `{"detail-type":["request.completed"]}`,
		Target: local.HandlerTarget("unrecorded", func(context.Context, events.Event) error {
			return local.Permanent(errors.New("refused"))
		}).WithDeadLetters(failingDeadLetters{})}))
	must(t, b.Publish(ctx, run.Events))
	closeBus(t, b)

	list, err := dls.List(ctx, "permanent")
	must(t, err)
	var submitted, completed []events.Event
	for _, e := range run.Events {
		switch e.Type {
		case events.RequestSubmitted:
			submitted = append(submitted, e)
		case events.RequestCompleted:
			completed = append(completed, e)
		}
	}
	if len(list) != len(submitted) {
		t.Fatalf("%d dead letters, want %d", len(list), len(submitted))
	}
	for i, dl := range list {
		if dl.EventID != submitted[i].ID || dl.Attempts != 1 || !strings.Contains(dl.Error, "bad input") {
			t.Fatalf("dead letter %d: %+v", i, dl)
		}
	}
	if c := counts(t, ob); !maps.Equal(c, map[string]int{"unrecorded": len(completed)}) {
		t.Fatalf("outbox holds %v, want only the %d deliveries whose dead letter was not recorded", c, len(completed))
	}

	// A row a previous run could not have written well, after the good one.
	_, err = store.DB().ExecContext(ctx, `INSERT INTO bus_outbox (rule, event_id, stream, version, type, body)
		VALUES ('unrecorded', 'e-bad', 'request/x', 1, 'request.completed', '{"detail":')`)
	must(t, err)
	b2 := newBus(t, local.Config{Outbox: ob, DeadLetters: dls})
	rec := &recorder{}
	must(t, b2.AddRule(local.Rule{Name: "unrecorded", Pattern: `{"detail-type":["request.completed"]}`,
		Target: local.HandlerTarget("unrecorded", rec.handle)}))
	closeBus(t, b2)
	if !sameIDs(rec.events(), completed) {
		t.Fatalf("the next bus delivered %d events, want the %d kept in the outbox", len(rec.events()), len(completed))
	}
	bad, err := dls.List(ctx, "unrecorded")
	must(t, err)
	if len(bad) != 1 || bad[0].EventID != "e-bad" || bad[0].Attempts != 0 || bad[0].Body == nil ||
		!strings.Contains(bad[0].Error, local.ErrBadOutboxEntry.Error()) {
		t.Fatalf("dead letters of the bad row: %+v", bad)
	}
	if c := counts(t, ob); len(c) != 0 {
		t.Fatalf("outbox holds %v after everything finished", c)
	}
}

type failingDeadLetters struct{}

func (failingDeadLetters) Put(context.Context, local.DeadLetter) error {
	return errors.New("dead letter store down")
}

// TestOutboxStoreFailure: when the outbox cannot store the deliveries,
// Publish names every event a rule wanted in a *bus.PublishError, queues
// none of them and shows them to no tail; events no rule wanted are
// published. Once the outbox works again, so does Publish.
func TestOutboxStoreFailure(t *testing.T) {
	ctx := context.Background()
	store, run := newRun(t, 4)
	ob := newOutbox(t, store)
	b := newBus(t, local.Config{Outbox: ob})
	rec := &recorder{}
	must(t, b.AddRule(local.Rule{Name: "completed", Pattern: `{"detail-type":["request.completed"]}`, Target: local.HandlerTarget("completed", rec.handle)}))
	sub, err := b.Subscribe(nil)
	must(t, err)
	defer sub.Close()
	wanted := map[string]bool{}
	for _, e := range run.Events {
		if e.Type == events.RequestCompleted {
			wanted[e.ID] = true
		}
	}

	_, err = store.DB().ExecContext(ctx, `DROP TABLE bus_outbox`)
	must(t, err)
	err = b.Publish(ctx, run.Events)
	var pe *bus.PublishError
	if !errors.As(err, &pe) || !errors.Is(err, bus.ErrNotPublished) || len(pe.Failed) != len(wanted) {
		t.Fatalf("publish with the outbox gone: %v, want the %d events a rule wanted", err, len(wanted))
	}
	for _, f := range pe.Failed {
		if !wanted[f.Event.ID] || f.Err == nil {
			t.Fatalf("failed %s (%s): %v", f.Event.ID, f.Event.Type, f.Err)
		}
	}
	for range len(run.Events) - len(wanted) {
		js := <-sub.C
		if ev := decodeJSON(t, js); wanted[ev.ID] {
			t.Fatalf("the tail saw %s, which was not published", ev.ID)
		}
	}

	canceled, cancel := context.WithCancel(ctx)
	cancel()
	newOutbox(t, store) // the table again
	if err := b.Publish(canceled, run.Events); !errors.As(err, &pe) || !errors.Is(err, context.Canceled) || len(pe.Failed) != len(wanted) {
		t.Fatalf("publish with a cancelled context: %v", err)
	}
	if c := counts(t, ob); len(c) != 0 {
		t.Fatalf("a failed publish stored %v", c)
	}
	must(t, b.Publish(ctx, run.Events))
	closeBus(t, b)
	if got := rec.events(); len(got) != len(wanted) {
		t.Fatalf("%d delivered, want %d: failed publishes must queue nothing", len(got), len(wanted))
	}
	if c := counts(t, ob); len(c) != 0 {
		t.Fatalf("outbox holds %v after a clean close", c)
	}
}

func decodeJSON(t *testing.T, js []byte) events.Event {
	t.Helper()
	var ev awsevents.EventBridgeEvent
	must(t, json.Unmarshal(js, &ev))
	e, err := subscriber.Decode(ev)
	must(t, err)
	return e
}

// TestOutboxWaitsForRoom: Publish waits for room before it stores; when
// its context ends meanwhile it stores nothing and names the events a rule
// wanted.
func TestOutboxWaitsForRoom(t *testing.T) {
	ctx := context.Background()
	store, run := newRun(t, 1)
	ob := newOutbox(t, store)
	b := crashBus(t, local.Config{Outbox: ob, QueueSize: 1})
	started := make(chan string, len(run.Events))
	must(t, b.AddRule(local.Rule{Name: "blocked", Pattern: catchAll, Target: stuck("blocked", started)}))
	must(t, b.Publish(ctx, run.Events[:2])) // one call is stored and queued whole
	<-started                               // the first is in the target, the second queued: the queue is full
	short, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	err := b.Publish(short, run.Events[2:])
	var pe *bus.PublishError
	if !errors.As(err, &pe) || !errors.Is(err, context.DeadlineExceeded) || len(pe.Failed) != len(run.Events)-2 {
		t.Fatalf("publish into a full queue: %v", err)
	}
	if c := counts(t, ob); !maps.Equal(c, map[string]int{"blocked": 2}) {
		t.Fatalf("outbox holds %v, want the 2 stored deliveries", c)
	}
}

// TestOutboxCloseGivesUp: when Close's context ends first, the deliveries
// left stay in the outbox (not in the dead letters), and so do those of
// rules the next bus does not have — it says so in its log; each rule's
// are delivered, in order, by the bus that adds it.
func TestOutboxCloseGivesUp(t *testing.T) {
	ctx := context.Background()
	store, run := newRun(t, 4) // 20 events, 40 deliveries: Add writes them with two statements
	ob := newOutbox(t, store)
	dls := &memDeadLetters{}
	b := newBus(t, local.Config{Outbox: ob, DeadLetters: dls})
	started := make(chan string, 2*len(run.Events))
	must(t, b.AddRule(local.Rule{Name: "kept", Pattern: catchAll, Target: stuck("kept", started)}))
	must(t, b.AddRule(local.Rule{Name: "removed", Pattern: catchAll, Target: stuck("removed", started)}))
	must(t, b.Publish(ctx, run.Events))
	<-started
	<-started
	short, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	if err := b.Close(short); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("close: %v, want DeadlineExceeded", err)
	}
	if dls.count() != 0 {
		t.Fatalf("%d dead letters: with an outbox an interrupted delivery stays in it", dls.count())
	}
	n := len(run.Events)
	if c := counts(t, ob); !maps.Equal(c, map[string]int{"kept": n, "removed": n}) {
		t.Fatalf("outbox holds %v, want every delivery of both rules", c)
	}

	var logs syncBuffer
	b2 := newBus(t, local.Config{Outbox: ob, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	kept := &recorder{}
	must(t, b2.AddRule(local.Rule{Name: "kept", Pattern: catchAll, Target: local.HandlerTarget("kept", kept.handle)}))
	closeBus(t, b2)
	if !sameIDs(kept.events(), run.Events) {
		t.Fatalf("the next bus delivered %d, want the %d kept, in order", len(kept.events()), n)
	}
	if c := counts(t, ob); !maps.Equal(c, map[string]int{"removed": n}) {
		t.Fatalf("outbox holds %v, want the removed rule's deliveries kept", c)
	}
	if l := logs.String(); !strings.Contains(l, "a rule this bus does not have") || !strings.Contains(l, "rule=removed") {
		t.Fatalf("the close log does not name the removed rule:\n%s", l)
	}

	b3 := newBus(t, local.Config{Outbox: ob})
	removed := &recorder{}
	must(t, b3.AddRule(local.Rule{Name: "removed", Pattern: `{"detail-type":["request.completed"]}`, Target: local.HandlerTarget("removed", removed.handle)}))
	closeBus(t, b3)
	// Recovered entries are delivered as stored, whatever the new pattern.
	if !sameIDs(removed.events(), run.Events) {
		t.Fatalf("the rule added again got %d, want its %d entries", len(removed.events()), n)
	}
	if c := counts(t, ob); len(c) != 0 {
		t.Fatalf("outbox holds %v", c)
	}
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestSQLOutbox: Add stores any number of entries in order with
// increasing IDs that are never reused, Pending and Counts read them back,
// Delete removes exactly the IDs given.
func TestSQLOutbox(t *testing.T) {
	ctx := context.Background()
	store := newStore(t)
	ob := newOutbox(t, store)
	var last int64
	for _, n := range []int{1, 31, 32, 33, 64, 70} {
		t.Run(fmt.Sprintf("%d entries", n), func(t *testing.T) {
			rule := fmt.Sprintf("rule-%d", n)
			entries := make([]local.OutboxEntry, n)
			for i := range entries {
				entries[i] = local.OutboxEntry{Rule: rule, EventID: fmt.Sprintf("e-%d", i), Stream: "request/r", Version: int64(i + 1),
					Type: events.RequestProgressed, Body: []byte(fmt.Sprintf(`{"n":%d,"s":"<&>é"}`, i))}
			}
			ids, err := ob.Add(ctx, entries)
			must(t, err)
			if len(ids) != n {
				t.Fatalf("%d IDs for %d entries", len(ids), n)
			}
			for _, id := range ids {
				if id <= last {
					t.Fatalf("IDs %v do not increase past %d", ids, last)
				}
				last = id
			}
			pending, err := ob.Pending(ctx, rule)
			must(t, err)
			for i, e := range pending {
				want := entries[i]
				want.ID = ids[i]
				if e.ID != want.ID || e.Rule != want.Rule || e.EventID != want.EventID || e.Stream != want.Stream ||
					e.Version != want.Version || e.Type != want.Type || !bytes.Equal(e.Body, want.Body) {
					t.Fatalf("entry %d read back as %+v, want %+v", i, e, want)
				}
			}
			if len(pending) != n {
				t.Fatalf("%d pending, want %d", len(pending), n)
			}
			// Delete every other entry, plus an ID that does not exist.
			var gone []int64
			for i := 0; i < n; i += 2 {
				gone = append(gone, ids[i])
			}
			must(t, ob.Delete(ctx, append(gone, last+1000)))
			pending, err = ob.Pending(ctx, rule)
			must(t, err)
			if len(pending) != n/2 {
				t.Fatalf("%d left after deleting %d of %d", len(pending), len(gone), n)
			}
			for i, e := range pending {
				if e.ID != ids[2*i+1] {
					t.Fatalf("entry %d left is %d, want %d", i, e.ID, ids[2*i+1])
				}
			}
			if c := counts(t, ob)[rule]; c != n/2 {
				t.Fatalf("Counts says %d for %s, want %d", c, rule, n/2)
			}
			rest := make([]int64, len(pending))
			for i, e := range pending {
				rest[i] = e.ID
			}
			must(t, ob.Delete(ctx, rest))
			if c := counts(t, ob); len(c) != 0 {
				t.Fatalf("outbox holds %v", c)
			}
		})
	}
	// An emptied table does not hand out an ID again.
	ids, err := ob.Add(ctx, []local.OutboxEntry{{Rule: "r", EventID: "e", Stream: "request/r", Version: 1, Type: events.RequestSubmitted, Body: []byte("{}")}})
	must(t, err)
	if ids[0] <= last {
		t.Fatalf("ID %d reused after %d", ids[0], last)
	}
	// An Add that fails in its second statement stores nothing.
	_, err = store.DB().ExecContext(ctx, `CREATE TRIGGER poison BEFORE INSERT ON bus_outbox WHEN NEW.event_id = 'poison'
		BEGIN SELECT RAISE(ABORT, 'poisoned'); END`)
	must(t, err)
	before := counts(t, ob)
	entries := make([]local.OutboxEntry, 40)
	for i := range entries {
		entries[i] = local.OutboxEntry{Rule: "atomic", EventID: fmt.Sprintf("e-%d", i), Stream: "request/r", Version: 1, Type: events.RequestSubmitted, Body: []byte("{}")}
	}
	entries[35].EventID = "poison"
	if _, err := ob.Add(ctx, entries); err == nil || !strings.Contains(err.Error(), "poisoned") {
		t.Fatalf("add with a poisoned row: %v", err)
	}
	if c := counts(t, ob); !maps.Equal(c, before) {
		t.Fatalf("a failed Add left %v (before: %v)", c, before)
	}
}

// TestOutboxDeleteFailure: when the entries of delivered events cannot be
// deleted, the bus keeps going and the entries stay; the next bus delivers
// them again (at least once) and deletes them.
func TestOutboxDeleteFailure(t *testing.T) {
	ctx := context.Background()
	store, run := newRun(t, 1)
	ob := newOutbox(t, store)
	_, err := store.DB().ExecContext(ctx, `CREATE TRIGGER keep BEFORE DELETE ON bus_outbox BEGIN SELECT RAISE(ABORT, 'kept'); END`)
	must(t, err)
	b := newBus(t, local.Config{Outbox: ob})
	first := &recorder{}
	must(t, b.AddRule(local.Rule{Name: "all", Pattern: catchAll, Target: local.HandlerTarget("all", first.handle)}))
	must(t, b.Publish(ctx, run.Events))
	closeBus(t, b)
	if !sameIDs(first.events(), run.Events) {
		t.Fatalf("%d delivered, want %d", len(first.events()), len(run.Events))
	}
	if c := counts(t, ob); !maps.Equal(c, map[string]int{"all": len(run.Events)}) {
		t.Fatalf("outbox holds %v, want every entry kept", c)
	}

	_, err = store.DB().ExecContext(ctx, `DROP TRIGGER keep`)
	must(t, err)
	b2 := newBus(t, local.Config{Outbox: ob})
	again := &recorder{}
	must(t, b2.AddRule(local.Rule{Name: "all", Pattern: catchAll, Target: local.HandlerTarget("all", again.handle)}))
	closeBus(t, b2)
	if !sameIDs(again.events(), run.Events) {
		t.Fatalf("the next bus delivered %d, want the %d not deleted", len(again.events()), len(run.Events))
	}
	if c := counts(t, ob); len(c) != 0 {
		t.Fatalf("outbox holds %v", c)
	}
}
