package fanout_test

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/streamer/streamer/connections"
	"github.com/streamer/streamer/events"
	"github.com/streamer/streamer/fanout"
	"github.com/streamer/streamer/feed"
)

// hang is a generous bound that only keeps a broken implementation from
// hanging the test run; no assertion depends on it.
const hang = 30 * time.Second

// stuckScene: request r1 goes to alice's stuck connection s1 and to the
// connections xa…xt of bob, who subscribed all of them; r2 goes to bob's
// only.
type stuckScene struct {
	s      *stack
	batch  []events.Event
	rec    *recorder
	others []string
	// othersDone is closed once every other connection has all its frames.
	othersDone chan struct{}
}

func newStuckScene(t *testing.T, stuck behavior) *stuckScene {
	s := newStack(t)
	s.open(t, "s1", "t1", "alice")
	sc := &stuckScene{s: s, othersDone: make(chan struct{})}
	for i := range 20 {
		c := "x" + string(rune('a'+i))
		sc.others = append(sc.others, c)
		s.open(t, c, "t1", "bob")
		s.subscribe(t, c, "r1")
	}
	s.submit(t, "r1", "t1", "alice")
	s.submit(t, "r2", "t1", "bob")
	s.start(t, "r1")
	s.start(t, "r2")
	s.progress(t, "r1", 50)
	sc.batch = s.take(t)
	sc.rec = newRecorder(sc.others...)
	sc.rec.set("s1", stuck)
	want := len(sc.others) * (len(requestEvents(sc.batch, "r1")) + len(requestEvents(sc.batch, "r2")))
	var posted atomic.Int64
	sc.rec.OnPost = func(conn string) {
		if conn != "s1" && posted.Add(1) == int64(want) {
			close(sc.othersDone)
		}
	}
	return sc
}

func (sc *stuckScene) checkOthers(t *testing.T) {
	t.Helper()
	for _, c := range sc.others {
		var want []events.Event
		for _, e := range sc.batch {
			if e.StreamID == events.RequestStream("r1") || e.StreamID == events.RequestStream("r2") {
				want = append(want, e)
			}
		}
		checkFrames(t, c, sc.rec.frames(c), want)
	}
}

// blocked counts posts in progress; stuckUntil blocks each attempt until
// release is closed (then fails it as unavailable) or ctx ends.
type blocked struct{ n atomic.Int64 }

func (b *blocked) stuckUntil(release <-chan struct{}) behavior {
	return func(ctx context.Context, attempt int, data []byte) error {
		b.n.Add(1)
		defer b.n.Add(-1)
		select {
		case <-release:
			return connections.ErrUnavailable
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// TestStuckConnectionDoesNotDelayOthers checks happens-before, not time:
// every other connection received all its frames while the stuck post was
// still in progress. Two slots make it sharper: one is held by the stuck
// post the whole time.
func TestStuckConnectionDoesNotDelayOthers(t *testing.T) {
	var b blocked
	release := make(chan struct{})
	sc := newStuckScene(t, b.stuckUntil(release))
	f := newFanout(t, sc.s, sc.rec, func(c *fanout.Config) {
		c.Parallelism, c.Retries, c.PostTimeout, c.Budget = 2, 1, time.Hour, time.Hour
	})
	done := make(chan []feed.Failure)
	go func() { done <- f.Handle(context.Background(), sc.batch) }()
	select {
	case <-sc.othersDone:
	case <-time.After(hang):
		t.Fatalf("the other connections did not get their frames while s1 was stuck (%d posts)", sc.rec.total())
	}
	if n := b.n.Load(); n != 1 {
		t.Fatalf("%d stuck posts in progress when the others were done, want 1", n)
	}
	if n := sc.rec.tries("s1"); n != 1 {
		t.Fatalf("%d attempts to s1, want 1 (still blocked)", n)
	}
	close(release)
	select {
	case got := <-done:
		if got != nil {
			t.Fatalf("failures: %v", got)
		}
	case <-time.After(hang):
		t.Fatal("Handle did not return")
	}
	if n := sc.rec.tries("s1"); n != 2 {
		t.Fatalf("%d attempts to s1, want 2 (1 + 1 retry, then the rest dropped)", n)
	}
	sc.checkOthers(t)
}

// TestPostTimeout: a socket that never answers costs each attempt
// PostTimeout; the event and the rest of the connection's batch are
// dropped, and the batch succeeds.
func TestPostTimeout(t *testing.T) {
	var b blocked
	sc := newStuckScene(t, b.stuckUntil(nil))
	f := newFanout(t, sc.s, sc.rec, func(c *fanout.Config) { c.Retries, c.PostTimeout = 2, 20*time.Millisecond })
	if got := f.Handle(context.Background(), sc.batch); got != nil {
		t.Fatalf("failures: %v", got)
	}
	if n := sc.rec.tries("s1"); n != 3 {
		t.Fatalf("%d attempts to s1, want 3", n)
	}
	if n := len(sc.rec.frames("s1")); n != 0 {
		t.Fatalf("s1 got %d frames", n)
	}
	sc.checkOthers(t)
}

// TestBudget: retries stop when a connection's budget for the batch runs
// out, before they are used up.
func TestBudget(t *testing.T) {
	var b blocked
	sc := newStuckScene(t, b.stuckUntil(nil))
	f := newFanout(t, sc.s, sc.rec, func(c *fanout.Config) {
		c.Retries, c.PostTimeout, c.Budget = 1_000_000, time.Hour, 50*time.Millisecond
	})
	if got := f.Handle(context.Background(), sc.batch); got != nil {
		t.Fatalf("failures: %v", got)
	}
	if n := sc.rec.tries("s1"); n != 1 {
		t.Fatalf("%d attempts to s1, want 1 (the budget ends the first one)", n)
	}
	sc.checkOthers(t)
}

// TestCancelledContextFailsInterruptedStreams: when ctx ends mid-delivery,
// the streams whose events did not reach every target are failed at the
// first such event, so the feed delivers them again; the others are done.
func TestCancelledContextFailsInterruptedStreams(t *testing.T) {
	var b blocked
	sc := newStuckScene(t, b.stuckUntil(nil))
	f := newFanout(t, sc.s, sc.rec, func(c *fanout.Config) { c.PostTimeout, c.Budget = time.Hour, time.Hour })
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan []feed.Failure)
	go func() { done <- f.Handle(ctx, sc.batch) }()
	select {
	case <-sc.othersDone:
	case <-time.After(hang):
		t.Fatal("the other connections did not get their frames")
	}
	cancel()
	var got []feed.Failure
	select {
	case got = <-done:
	case <-time.After(hang):
		t.Fatal("Handle did not return")
	}
	r1 := requestEvents(sc.batch, "r1")
	if len(got) != 1 || got[0].Stream != events.RequestStream("r1") || got[0].EventID != r1[0].ID || !errors.Is(got[0].Err, context.Canceled) {
		t.Fatalf("failures %+v, want r1 at version 1", got)
	}
	sc.checkOthers(t)
}

// TestParallelismBound: never more posts in flight than Parallelism.
func TestParallelismBound(t *testing.T) {
	s := newStack(t)
	var live []string
	for i := range 40 {
		c := "c" + string(rune('A'+i))
		live = append(live, c)
		s.open(t, c, "t1", "alice")
	}
	s.submit(t, "r1", "t1", "alice")
	s.start(t, "r1")
	batch := s.take(t)
	rec := newRecorder(live...)
	var mu sync.Mutex
	inFlight, peak := 0, 0
	for _, c := range live {
		rec.set(c, func(ctx context.Context, attempt int, data []byte) error {
			mu.Lock()
			inFlight++
			peak = max(peak, inFlight)
			mu.Unlock()
			time.Sleep(time.Millisecond) // overlap the posts
			mu.Lock()
			inFlight--
			mu.Unlock()
			if attempt == 1 {
				return connections.ErrThrottled // also exercises the slot release around backoff
			}
			return nil
		})
	}
	f := newFanout(t, s, rec, func(c *fanout.Config) { c.Parallelism = 3 })
	if got := f.Handle(context.Background(), batch); got != nil {
		t.Fatalf("failures: %v", got)
	}
	if peak > 3 || peak < 1 {
		t.Fatalf("peak of %d posts in flight, want 1..3", peak)
	}
	for _, c := range live {
		checkFrames(t, c, rec.frames(c), requestEvents(batch, "r1"))
	}
}
