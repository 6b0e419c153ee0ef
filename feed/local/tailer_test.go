package local_test

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/streamer/streamer/events"
	"github.com/streamer/streamer/events/sqlite"
	"github.com/streamer/streamer/feed"
	"github.com/streamer/streamer/feed/local"
)

func openStore(t *testing.T) (*sqlite.Store, *local.SQLiteState) {
	t.Helper()
	s, err := sqlite.Open(filepath.Join(t.TempDir(), "events.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	st, err := local.NewSQLiteState(context.Background(), s.DB())
	if err != nil {
		t.Fatal(err)
	}
	return s, st
}

var meta = events.Meta{Actor: "u1", Tenant: "t1"}

// appendRequest writes a request stream with n progress events (n+2 events).
func appendRequest(t *testing.T, s events.Store, id string, n int) {
	t.Helper()
	ctx := context.Background()
	stream := events.RequestStream(id)
	evs := []events.Event{
		events.MustNew(events.RequestSubmitted, events.Submitted{Action: "echo", Owner: "u1", Tenant: "t1"}, meta),
		events.MustNew(events.RequestStarted, events.Started{Attempt: 1}, meta),
	}
	for i := 0; i < n; i++ {
		evs = append(evs, events.MustNew(events.RequestProgressed, events.Progress{Percentage: float64(i)}, meta))
	}
	if _, err := s.Append(ctx, stream, 0, evs...); err != nil {
		t.Fatal(err)
	}
}

// recorder is a consumer that applies events like a version-guarded view:
// it keeps the last version per stream, skips duplicates, and can be told to
// fail a stream at a version for a number of deliveries.
type recorder struct {
	mu         sync.Mutex
	applied    map[string]int64
	deliveries map[string]int // stream@version → times delivered
	failAt     map[string]int64
	failTimes  map[string]int
	afterBatch func()
}

func newRecorder() *recorder {
	return &recorder{applied: map[string]int64{}, deliveries: map[string]int{}, failAt: map[string]int64{}, failTimes: map[string]int{}}
}

func (r *recorder) Name() string { return "recorder" }

func (r *recorder) Handle(ctx context.Context, evs []events.Event) []feed.Failure {
	r.mu.Lock()
	defer func() {
		r.mu.Unlock()
		if r.afterBatch != nil {
			r.afterBatch()
		}
	}()
	var failures []feed.Failure
	failed := map[string]bool{}
	for _, e := range evs {
		if failed[e.StreamID] {
			continue
		}
		r.deliveries[fmt.Sprintf("%s@%d", e.StreamID, e.Version)]++
		if v, ok := r.failAt[e.StreamID]; ok && v == e.Version && r.failTimes[e.StreamID] != 0 {
			r.failTimes[e.StreamID]--
			failed[e.StreamID] = true
			failures = append(failures, feed.FailStream(e, errors.New("injected failure")))
			continue
		}
		switch last := r.applied[e.StreamID]; {
		case e.Version <= last: // duplicate
		case e.Version == last+1:
			r.applied[e.StreamID] = e.Version
		default:
			failed[e.StreamID] = true
			failures = append(failures, feed.FailStream(e, fmt.Errorf("gap: %d after %d", e.Version, last)))
		}
	}
	return failures
}

func (r *recorder) snapshot() map[string]int64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := map[string]int64{}
	for k, v := range r.applied {
		out[k] = v
	}
	return out
}

func fastConfig() local.Config {
	return local.Config{BatchSize: 7, MaxAttempts: 3, PollInterval: 20 * time.Millisecond, MinBackoff: time.Millisecond, MaxBackoff: 5 * time.Millisecond}
}

// runUntil runs a tailer until cond holds (or fails the test after 10 s).
func runUntil(t *testing.T, tl *local.Tailer, cond func() bool) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- tl.Run(ctx) }()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			cancel()
			t.Fatalf("condition not reached; tailer: %v", <-done)
		}
		time.Sleep(5 * time.Millisecond)
	}
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("tailer stopped with %v", err)
	}
}

func want(streams map[string]int) map[string]int64 {
	out := map[string]int64{}
	for id, n := range streams {
		out[events.RequestStream(id)] = int64(n + 2)
	}
	return out
}

func equal(a, b map[string]int64) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

func TestDeliversEverythingInOrder(t *testing.T) {
	s, st := openStore(t)
	streams := map[string]int{"a": 10, "b": 3, "c": 0, "d": 25}
	for id, n := range streams {
		appendRequest(t, s, id, n)
	}
	rec := newRecorder()
	last, _ := s.LastPosition(context.Background())
	runUntil(t, local.NewTailer(s, st, st, rec, fastConfig(), nil), func() bool {
		cp, _ := st.Get(context.Background(), "recorder")
		return cp == last && equal(rec.snapshot(), want(streams))
	})
	for k, n := range rec.deliveries {
		if n != 1 {
			t.Errorf("%s delivered %d times without any failure", k, n)
		}
	}
}

func TestPartialFailureHoldsBackOnlyTheFailedStream(t *testing.T) {
	s, st := openStore(t)
	streams := map[string]int{"a": 8, "b": 8}
	for id, n := range streams {
		appendRequest(t, s, id, n)
	}
	rec := newRecorder()
	rec.failAt[events.RequestStream("a")] = 3
	rec.failTimes[events.RequestStream("a")] = 2 // fails twice, then succeeds (MaxAttempts 3)
	runUntil(t, local.NewTailer(s, st, st, rec, fastConfig(), nil), func() bool { return equal(rec.snapshot(), want(streams)) })
	if n := rec.deliveries["request/a@3"]; n != 3 {
		t.Errorf("a@3 delivered %d times, want 3", n)
	}
	for v := 1; v <= 10; v++ {
		if n := rec.deliveries[fmt.Sprintf("request/b@%d", v)]; n != 1 {
			t.Errorf("b@%d delivered %d times: the healthy stream was held back", v, n)
		}
	}
	dls, err := st.DeadLetters(context.Background(), "recorder")
	if err != nil || len(dls) != 0 {
		t.Fatalf("dead letters %v, %v; want none", dls, err)
	}
}

func TestBoundedRetriesThenDeadLetter(t *testing.T) {
	s, st := openStore(t)
	appendRequest(t, s, "poison", 4)
	appendRequest(t, s, "fine", 2)
	rec := newRecorder()
	poison := events.RequestStream("poison")
	rec.failAt[poison] = 3
	rec.failTimes[poison] = -1 // always
	last, _ := s.LastPosition(context.Background())
	runUntil(t, local.NewTailer(s, st, st, rec, fastConfig(), nil), func() bool {
		cp, _ := st.Get(context.Background(), "recorder")
		return cp == last
	})
	dls, err := st.DeadLetters(context.Background(), "recorder")
	if err != nil {
		t.Fatal(err)
	}
	if len(dls) == 0 || dls[0].Event.StreamID != poison || dls[0].Event.Version != 3 || dls[0].Attempts != 3 || dls[0].Error != "injected failure" {
		t.Fatalf("dead letters = %+v, want poison@3 first, after 3 attempts", dls)
	}
	// This recorder cannot catch up over the hole (a real projector loads
	// the missing event from the store), so each later event of the stream
	// also exhausts its retries: every one is in the failure destination,
	// none is dropped.
	if len(dls) != 4 {
		t.Fatalf("%d dead letters, want poison@3..6", len(dls))
	}
	for i, dl := range dls {
		if dl.Event.Version != int64(3+i) || dl.Attempts != 3 {
			t.Fatalf("dead letter %d = %s@%d after %d attempts", i, dl.Event.StreamID, dl.Event.Version, dl.Attempts)
		}
	}
	if got := rec.snapshot()[events.RequestStream("fine")]; got != 4 {
		t.Fatalf("healthy stream at %d, want 4", got)
	}
}

// TestCrashBetweenWriteAndCheckpoint: the process dies after the consumer
// wrote its view but before the checkpoint commits; a new tailer re-delivers
// and the consumer ends complete — nothing lost, nothing skipped.
func TestCrashBetweenWriteAndCheckpoint(t *testing.T) {
	s, st := openStore(t)
	streams := map[string]int{"a": 12, "b": 5, "c": 30}
	for id, n := range streams {
		appendRequest(t, s, id, n)
	}
	rec := newRecorder()
	for crash := 0; crash < 4; crash++ {
		ctx, cancel := context.WithCancel(context.Background())
		batches := 0
		rec.afterBatch = func() {
			if batches++; batches == 2 {
				cancel() // dies between the consumer's write and the checkpoint
			}
		}
		err := local.NewTailer(s, st, st, rec, fastConfig(), nil).Run(ctx)
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("crash %d: %v", crash, err)
		}
	}
	rec.afterBatch = nil
	runUntil(t, local.NewTailer(s, st, st, rec, fastConfig(), nil), func() bool { return equal(rec.snapshot(), want(streams)) })
	redelivered := 0
	for _, n := range rec.deliveries {
		if n > 1 {
			redelivered++
		}
	}
	if redelivered == 0 {
		t.Fatal("no event was re-delivered after the crashes: the test did not crash between write and checkpoint")
	}
}

func TestWakesOnAppend(t *testing.T) {
	s, st := openStore(t)
	rec := newRecorder()
	cfg := fastConfig()
	cfg.PollInterval = time.Hour // only the store's wake-up can deliver in time
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- local.NewTailer(s, st, st, rec, cfg, nil).Run(ctx) }()
	time.Sleep(50 * time.Millisecond) // let it go idle
	appendRequest(t, s, "late", 1)
	deadline := time.Now().Add(10 * time.Second)
	for rec.snapshot()[events.RequestStream("late")] != 3 {
		if time.Now().After(deadline) {
			t.Fatal("appended events not delivered: the tailer did not wake")
		}
		time.Sleep(5 * time.Millisecond)
	}
	cancel()
	<-done
}
