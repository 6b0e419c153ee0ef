package fanout_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/streamer/streamer/connections"
	"github.com/streamer/streamer/events"
	"github.com/streamer/streamer/fanout"
	"github.com/streamer/streamer/projections"
	"github.com/streamer/streamer/protocol"
)

func TestDeliversToSubscribersAndOwner(t *testing.T) {
	s := newStack(t)
	s.open(t, "a1", "t1", "alice") // alice's, subscribed too: one copy only
	s.open(t, "a2", "t1", "alice")
	s.open(t, "b1", "t1", "bob") // subscribed
	s.open(t, "c1", "t1", "carol")
	s.open(t, "x1", "t2", "alice") // another tenant's alice
	s.subscribe(t, "a1", "r1")
	s.subscribe(t, "b1", "r1")
	s.submit(t, "r1", "t1", "alice")
	s.start(t, "r1")
	s.progress(t, "r1", 50)
	s.complete(t, "r1", map[string]string{"echo": "hi"})
	batch := s.take(t)

	rec := newRecorder("a1", "a2", "b1", "c1", "x1")
	f := newFanout(t, s, rec, nil)
	if got := f.Handle(context.Background(), batch); got != nil {
		t.Fatalf("failures: %v", got)
	}
	want := requestEvents(batch, "r1")
	for _, c := range []string{"a1", "a2", "b1"} {
		checkFrames(t, c, rec.frames(c), want)
		if n := rec.tries(c); n != len(want) {
			t.Errorf("%s: %d post attempts, want %d", c, n, len(want))
		}
	}
	for _, c := range []string{"c1", "x1"} {
		if n := rec.tries(c); n != 0 {
			t.Errorf("%s: %d posts, want none", c, n)
		}
	}
}

func TestOwnerResolution(t *testing.T) {
	tests := []struct {
		name      string
		project   bool // the views know the request
		wantViews int  // GetRequest calls on the first batch
		wantLoads int  // first-event loads from the log on the first batch
	}{
		{name: "from the request view", project: true, wantViews: 1, wantLoads: 0},
		{name: "from the log when the view lags", project: false, wantViews: 1, wantLoads: 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := newStack(t)
			s.open(t, "a1", "t1", "alice")
			s.take(t)
			s.submit(t, "r1", "t1", "alice")
			// An earlier batch: the fan-out below never sees request.submitted.
			if tc.project {
				s.take(t)
			} else {
				s.takeUnprojected()
			}
			s.start(t, "r1")
			s.progress(t, "r1", 10)
			var batch []events.Event
			if tc.project {
				batch = s.take(t)
			} else {
				batch = s.takeUnprojected()
			}
			reader := &countingReader{Reader: s.Reader}
			store := &countingStore{Store: s.Store}
			rec := newRecorder("a1")
			f := newFanout(t, s, rec, func(c *fanout.Config) { c.Reader, c.Store = reader, store })
			if got := f.Handle(context.Background(), batch); got != nil {
				t.Fatalf("failures: %v", got)
			}
			checkFrames(t, "a1", rec.frames("a1"), batch)
			if reader.gets.Load() != int64(tc.wantViews) || store.loads.Load() != int64(tc.wantLoads) {
				t.Fatalf("view reads %d, log loads %d; want %d, %d", reader.gets.Load(), store.loads.Load(), tc.wantViews, tc.wantLoads)
			}
			// The owner is cached: a later batch reads neither.
			s.progress(t, "r1", 20)
			batch2 := s.take(t)
			if got := f.Handle(context.Background(), batch2); got != nil {
				t.Fatalf("failures: %v", got)
			}
			checkFrames(t, "a1", rec.frames("a1"), append(batch, batch2...))
			if reader.gets.Load() != int64(tc.wantViews) || store.loads.Load() != int64(tc.wantLoads) {
				t.Fatalf("after a cached batch: view reads %d, log loads %d; want %d, %d", reader.gets.Load(), store.loads.Load(), tc.wantViews, tc.wantLoads)
			}
		})
	}
}

// TestPerConnectionOrder interleaves many requests in one batch and has
// each connection follow a different mix of them; every connection must
// receive each of its requests' events exactly once, in version order.
func TestPerConnectionOrder(t *testing.T) {
	s := newStack(t)
	rng := rand.New(rand.NewPCG(1, 2))
	const nReq, nConn = 30, 12
	users := []string{"u0", "u1", "u2"}
	follows := map[string]map[string]bool{} // conn → requests it must get
	connUser := map[string]string{}
	for c := range nConn {
		conn := fmt.Sprintf("c%02d", c)
		connUser[conn] = users[c%len(users)]
		follows[conn] = map[string]bool{}
		s.open(t, conn, "t1", connUser[conn])
	}
	var live []string
	for r := range nReq {
		req := fmt.Sprintf("r%02d", r)
		owner := users[r%len(users)]
		for conn := range follows {
			if connUser[conn] == owner {
				follows[conn][req] = true
			}
			if rng.IntN(3) == 0 && !follows[conn][req] {
				s.subscribe(t, conn, req)
				follows[conn][req] = true
			}
		}
		s.submit(t, req, "t1", owner)
	}
	for conn := range follows {
		live = append(live, conn)
	}
	// Interleave the streams: every request moves one step per round.
	for round := range 5 {
		for r := range nReq {
			req := fmt.Sprintf("r%02d", r)
			switch round {
			case 0:
				s.start(t, req)
			case 4:
				s.complete(t, req, r)
			default:
				s.progress(t, req, float64(round*25))
			}
		}
	}
	batch := s.take(t)

	rec := newRecorder(live...)
	for _, c := range live {
		rec.set(c, func(ctx context.Context, attempt int, data []byte) error {
			if attempt%3 == 0 {
				runtime.Gosched()
			}
			return nil
		})
	}
	f := newFanout(t, s, rec, func(c *fanout.Config) { c.Parallelism = 4 })
	if got := f.Handle(context.Background(), batch); got != nil {
		t.Fatalf("failures: %v", got)
	}
	for conn, reqs := range follows {
		byReq := map[string][]protocol.Outbound{}
		for _, fr := range rec.frames(conn) {
			byReq[fr.RequestID] = append(byReq[fr.RequestID], fr)
		}
		for r := range nReq {
			req := fmt.Sprintf("r%02d", r)
			if !reqs[req] {
				if len(byReq[req]) != 0 {
					t.Errorf("%s got %d frames of %s, which it does not follow", conn, len(byReq[req]), req)
				}
				continue
			}
			checkFrames(t, conn, byReq[req], requestEvents(batch, req))
		}
	}
}

func TestGoneClosesConnectionOnce(t *testing.T) {
	s := newStack(t)
	s.open(t, "a1", "t1", "alice") // the socket is gone: the recorder does not know it
	s.open(t, "a2", "t1", "alice")
	s.submit(t, "r1", "t1", "alice")
	s.submit(t, "r2", "t1", "alice")
	s.start(t, "r1")
	s.start(t, "r2")
	s.progress(t, "r1", 30)
	batch := s.take(t)

	rec := newRecorder("a2")
	f := newFanout(t, s, rec, nil)
	for delivery := 1; delivery <= 2; delivery++ { // the feed may deliver a batch twice
		if got := f.Handle(context.Background(), batch); got != nil {
			t.Fatalf("delivery %d: failures: %v", delivery, got)
		}
		if n := rec.tries("a1"); n != delivery {
			t.Fatalf("delivery %d: %d posts to the gone connection, want one per delivery", delivery, n)
		}
		if got := closedEvents(t, s, "a1"); len(got) != 1 || got[0].Reason != events.CloseGone {
			t.Fatalf("delivery %d: closed events %+v, want one gone", delivery, got)
		}
	}
	var want []events.Event
	for range 2 {
		for _, e := range batch {
			if strings.HasPrefix(e.StreamID, events.RequestStreamPrefix) {
				want = append(want, e)
			}
		}
	}
	checkFrames(t, "a2", rec.frames("a2"), want)

	// Once the projector has seen the close, the connection is no target.
	s.project(t, events.ConnectionStream("a1"))
	s.progress(t, "r2", 60)
	if got := f.Handle(context.Background(), s.take(t)); got != nil {
		t.Fatalf("failures: %v", got)
	}
	if n := rec.tries("a1"); n != 2 {
		t.Fatalf("%d posts to a closed connection, want none after the close was projected", n-2)
	}
}

func TestGoneAfterClientClose(t *testing.T) {
	s := newStack(t)
	s.open(t, "a1", "t1", "alice")
	s.submit(t, "r1", "t1", "alice")
	batch := s.take(t)
	// The client closed; the views do not know it yet.
	s.append(t, events.ConnectionStream("a1"), events.MustNew(events.ConnectionClosed, events.Closed{Reason: events.CloseClient}, events.Meta{}))
	s.takeUnprojected()

	rec := newRecorder()
	f := newFanout(t, s, rec, nil)
	if got := f.Handle(context.Background(), batch); got != nil {
		t.Fatalf("failures: %v", got)
	}
	if got := closedEvents(t, s, "a1"); len(got) != 1 || got[0].Reason != events.CloseClient {
		t.Fatalf("closed events %+v, want only the client's", got)
	}
}

func TestGoneNotRecordedFailsStream(t *testing.T) {
	s := newStack(t)
	s.open(t, "a1", "t1", "alice") // gone
	s.open(t, "b1", "t1", "bob")
	s.submit(t, "r1", "t1", "alice")
	s.submit(t, "r2", "t1", "bob")
	s.start(t, "r2")
	batch := s.take(t)

	store := &failingAppends{Store: s.Store}
	rec := newRecorder("b1")
	f := newFanout(t, s, rec, func(c *fanout.Config) { c.Store = store })
	got := f.Handle(context.Background(), batch)
	r1 := requestEvents(batch, "r1")
	if len(got) != 1 || got[0].Stream != events.RequestStream("r1") || got[0].EventID != r1[0].ID || !errors.Is(got[0].Err, errInjected) {
		t.Fatalf("failures %+v, want r1 failed at version 1 with the store's error", got)
	}
	checkFrames(t, "b1", rec.frames("b1"), requestEvents(batch, "r2"))
	if got := closedEvents(t, s, "a1"); len(got) != 0 {
		t.Fatalf("closed events %+v, want none", got)
	}
}

func TestTransientFailuresRetried(t *testing.T) {
	tests := []struct {
		name  string
		fails []error
	}{
		{"throttled", []error{fanoutErr("throttled"), fanoutErr("throttled")}},
		{"5xx", []error{fanoutErr("unavailable")}},
		{"mixed", []error{fanoutErr("throttled"), fanoutErr("unavailable"), fanoutErr("throttled")}},
		{"unclassified", []error{errors.New("connection reset by peer")}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := newStack(t)
			s.open(t, "a1", "t1", "alice")
			s.submit(t, "r1", "t1", "alice")
			s.start(t, "r1")
			s.progress(t, "r1", 10)
			batch := s.take(t)
			rec := newRecorder()
			rec.set("a1", func(ctx context.Context, attempt int, data []byte) error {
				if attempt <= len(tc.fails) {
					return tc.fails[attempt-1]
				}
				return nil
			})
			f := newFanout(t, s, rec, nil)
			if got := f.Handle(context.Background(), batch); got != nil {
				t.Fatalf("failures: %v", got)
			}
			want := requestEvents(batch, "r1")
			checkFrames(t, "a1", rec.frames("a1"), want)
			if n := rec.tries("a1"); n != len(want)+len(tc.fails) {
				t.Fatalf("%d attempts, want %d", n, len(want)+len(tc.fails))
			}
		})
	}
}

func TestPermanentFailureDropped(t *testing.T) {
	s := newStack(t)
	s.open(t, "a1", "t1", "alice")
	s.open(t, "a2", "t1", "alice")
	s.submit(t, "r1", "t1", "alice")
	s.start(t, "r1")
	s.progress(t, "r1", 10)
	batch := s.take(t)
	rec := newRecorder("a2")
	rec.set("a1", func(context.Context, int, []byte) error { return fanoutErr("unavailable") })
	f := newFanout(t, s, rec, func(c *fanout.Config) { c.Retries = 2 })
	if got := f.Handle(context.Background(), batch); got != nil {
		t.Fatalf("a client-side failure failed the batch: %v", got)
	}
	if n := rec.tries("a1"); n != 3 {
		t.Fatalf("%d attempts to the failing connection, want 3 (first event, 2 retries, later events dropped)", n)
	}
	checkFrames(t, "a2", rec.frames("a2"), requestEvents(batch, "r1"))
	if got := closedEvents(t, s, "a1"); len(got) != 0 {
		t.Fatalf("a failing connection was closed: %+v", got)
	}
}

func TestSubscriberLookupFailure(t *testing.T) {
	tests := []struct {
		name     string
		failures int // Subscribers(r1) calls that fail
		wantFail bool
	}{
		{"transient: retried", 2, false},
		{"persistent: stream fails", 1000, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := newStack(t)
			s.open(t, "a1", "t1", "alice")
			s.open(t, "b1", "t1", "bob")
			s.subscribe(t, "b1", "r1")
			s.submit(t, "r1", "t1", "alice")
			s.submit(t, "r2", "t1", "alice")
			s.start(t, "r1")
			s.start(t, "r2")
			batch := s.take(t)
			reader := &countingReader{Reader: s.Reader, failSubs: "r1", failures: int64(tc.failures)}
			rec := newRecorder("a1", "b1")
			f := newFanout(t, s, rec, func(c *fanout.Config) { c.Reader, c.Retries = reader, 3 })
			got := f.Handle(context.Background(), batch)
			r1, r2 := requestEvents(batch, "r1"), requestEvents(batch, "r2")
			if !tc.wantFail {
				if got != nil {
					t.Fatalf("failures: %v", got)
				}
				checkFrames(t, "a1", rec.frames("a1"), batch[len(batch)-4:])
				checkFrames(t, "b1", rec.frames("b1"), r1)
				return
			}
			if len(got) != 1 || got[0].Stream != events.RequestStream("r1") || got[0].EventID != r1[0].ID || got[0].Version != 1 || !errors.Is(got[0].Err, errInjected) {
				t.Fatalf("failures %+v, want r1 at version 1", got)
			}
			if n := reader.subsCalls.Load(); n != 4 {
				t.Fatalf("%d subscriber reads of r1, want 4 (1 + 3 retries)", n)
			}
			checkFrames(t, "a1", rec.frames("a1"), r2) // r2 unaffected; nothing of r1 posted
			if n := rec.tries("b1"); n != 0 {
				t.Fatalf("%d posts of the failed stream", n)
			}
		})
	}
}

func TestOldSchemaDeliveredInCurrentShape(t *testing.T) {
	s := newStack(t)
	s.open(t, "a1", "t1", "alice")
	s.submit(t, "r1", "t1", "alice")
	s.start(t, "r1")
	s.append(t, events.RequestStream("r1"), events.Event{Type: events.RequestProgressed, SchemaVersion: 1,
		Data: json.RawMessage(`{"percent":40,"status":"halfway"}`)})
	s.append(t, events.RequestStream("r1"), events.Event{Type: events.RequestFailed, SchemaVersion: 1,
		Data: json.RawMessage(`{"error":"disk full","attempt":1}`)})
	batch := s.take(t)
	rec := newRecorder("a1")
	f := newFanout(t, s, rec, nil)
	if got := f.Handle(context.Background(), batch); got != nil {
		t.Fatalf("failures: %v", got)
	}
	frames := rec.frames("a1")
	if len(frames) != 4 {
		t.Fatalf("got %v", versions(frames))
	}
	jsonEqual(t, frames[2].Data, []byte(`{"percentage":40,"message":"halfway"}`))
	jsonEqual(t, frames[3].Data, []byte(`{"code":"handler_error","message":"disk full","retryable":false,"attempt":1}`))
	if frames[2].Event != events.RequestProgressed || frames[2].Version != 3 {
		t.Fatalf("frame %+v", frames[2])
	}
}

func TestTooLargeSentWithoutData(t *testing.T) {
	tests := []struct {
		name      string
		result    int // bytes of the completed event's result
		apiLimit  int // the poster's own limit (0: protocol.MaxMessageSize)
		wantTries int // post attempts of the completed event
	}{
		{"over the protocol limit: never posted with data", 200 << 10, 0, 1},
		{"over the API's lower limit: posted again without data", 4 << 10, 2 << 10, 2},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := newStack(t)
			s.open(t, "a1", "t1", "alice")
			s.submit(t, "r1", "t1", "alice")
			s.start(t, "r1")
			s.complete(t, "r1", strings.Repeat("x", tc.result))
			batch := s.take(t)
			rec := newRecorder("a1")
			rec.maxSize = tc.apiLimit
			f := newFanout(t, s, rec, nil)
			if got := f.Handle(context.Background(), batch); got != nil {
				t.Fatalf("failures: %v", got)
			}
			frames := rec.frames("a1")
			if len(frames) != 3 {
				t.Fatalf("got %v", versions(frames))
			}
			last := frames[2]
			if last.Type != protocol.TypeEvent || last.Event != events.RequestCompleted || last.Version != 3 || last.RequestID != "r1" || last.Time == nil || last.Data != nil || !last.Truncated {
				t.Fatalf("frame %+v, want the completed event's frame without data, truncated", last)
			}
			if n := rec.tries("a1"); n != 2+tc.wantTries {
				t.Fatalf("%d attempts, want %d", n, 2+tc.wantTries)
			}
		})
	}
}

func TestNothingToPost(t *testing.T) {
	s := newStack(t)
	s.open(t, "a1", "t1", "alice")
	s.subscribe(t, "a1", "r9")
	connOnly := s.take(t)
	s.submit(t, "r1", "t1", "nobody") // an owner without connections, no subscribers
	noTargets := s.take(t)
	rec := newRecorder("a1")
	f := newFanout(t, s, rec, nil)
	for _, batch := range [][]events.Event{nil, connOnly, noTargets} {
		if got := f.Handle(context.Background(), batch); got != nil {
			t.Fatalf("failures: %v", got)
		}
	}
	if n := rec.total(); n != 0 {
		t.Fatalf("%d posts, want none", n)
	}
}

func TestConfig(t *testing.T) {
	s := newStack(t)
	rec := newRecorder()
	ok := fanout.Config{Reader: s.Reader, Store: s.Store, Poster: rec}
	if err := ok.Validate(); err != nil {
		t.Fatalf("minimal config: %v", err)
	}
	f, err := fanout.New(ok)
	if err != nil || f.Name() != "fanout" {
		t.Fatalf("New: %v, name %q", err, f.Name())
	}
	if f, err := fanout.New(fanout.Config{Reader: s.Reader, Store: s.Store, Poster: rec, Name: "fanout-2"}); err != nil || f.Name() != "fanout-2" {
		t.Fatalf("named: %v", err)
	}
	tests := []struct {
		name string
		cfg  fanout.Config
		want []string
	}{
		{"nothing", fanout.Config{}, []string{"Reader is required", "Store is required", "Poster is required"}},
		{"negative", fanout.Config{Reader: s.Reader, Store: s.Store, Poster: rec, Parallelism: -1, PostTimeout: -1, Budget: -1, OwnerCacheSize: -1},
			[]string{"Parallelism", "PostTimeout", "Budget", "OwnerCacheSize"}},
		{"backoff over the cap", fanout.Config{Reader: s.Reader, Store: s.Store, Poster: rec, Backoff: 3 * fanout.MaxBackoff}, []string{"Backoff"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.cfg.Validate()
			if err == nil {
				t.Fatal("valid")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("%q does not mention %s", err, w)
				}
			}
			if _, nerr := fanout.New(tc.cfg); nerr == nil {
				t.Error("New accepted it")
			}
		})
	}
}

// fanoutErr builds a poster error wrapping a connections sentinel by name.
func fanoutErr(kind string) error {
	switch kind {
	case "throttled":
		return fmt.Errorf("post: 429: %w", connections.ErrThrottled)
	case "unavailable":
		return fmt.Errorf("post: 503: %w", connections.ErrUnavailable)
	}
	panic(kind)
}

// countingReader decorates the views' reader: it counts GetRequest and
// Subscribers calls and fails the first failures Subscribers reads of
// request failSubs.
type countingReader struct {
	fanout.Reader
	gets      atomic.Int64
	subsCalls atomic.Int64
	failSubs  string
	failures  int64
}

func (r *countingReader) GetRequest(ctx context.Context, id string) (projections.RequestView, error) {
	r.gets.Add(1)
	return r.Reader.GetRequest(ctx, id)
}

func (r *countingReader) Subscribers(ctx context.Context, id string) ([]string, error) {
	if id == r.failSubs {
		if n := r.subsCalls.Add(1); n <= r.failures {
			return nil, fmt.Errorf("read subscribers: %w", errInjected)
		}
	}
	return r.Reader.Subscribers(ctx, id)
}

// countingStore counts the loads of request streams.
type countingStore struct {
	events.Store
	loads atomic.Int64
}

func (s *countingStore) Load(ctx context.Context, stream string, from int64, limit int) (events.Page, error) {
	if strings.HasPrefix(stream, events.RequestStreamPrefix) {
		s.loads.Add(1)
	}
	return s.Store.Load(ctx, stream, from, limit)
}

// failingAppends refuses every append to a connection stream.
type failingAppends struct{ events.Store }

func (s *failingAppends) Append(ctx context.Context, stream string, v int64, evs ...events.Event) ([]events.Event, error) {
	if strings.HasPrefix(stream, events.ConnectionStreamPrefix) {
		return nil, &events.StoreError{Op: "append", Stream: stream, Version: v, Err: errInjected}
	}
	return s.Store.Append(ctx, stream, v, evs...)
}
