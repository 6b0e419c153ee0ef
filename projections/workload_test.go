package projections_test

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/streamer/streamer/events"
	evsqlite "github.com/streamer/streamer/events/sqlite"
	"github.com/streamer/streamer/projections"
	viewsqlite "github.com/streamer/streamer/projections/sqlite"
)

// openLog opens a fresh embedded event store.
func openLog(t testing.TB) (*evsqlite.Store, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "streamer.db")
	s, err := evsqlite.Open(path)
	if err != nil {
		t.Fatalf("open event store: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s, path
}

// openViews opens view tables in the file at path (the event store's).
func openViews(t testing.TB, path string) *viewsqlite.Views {
	t.Helper()
	v, err := viewsqlite.Open(context.Background(), path)
	if err != nil {
		t.Fatalf("open views: %v", err)
	}
	t.Cleanup(func() { v.Close() })
	return v
}

var (
	owners  = []string{"alice", "bob", "carol"}
	tenants = []string{"acme", "globex"}
)

// requestScript is a random valid life of one request.
func requestScript(rng *rand.Rand) []events.Event {
	m := events.Meta{Actor: "system:test", Tenant: tenants[rng.IntN(2)], Source: "test"}
	mk := func(typ string, p any) events.Event { return events.MustNew(typ, p, m) }
	evs := []events.Event{mk(events.RequestSubmitted, events.Submitted{Action: "generate_report", Owner: owners[rng.IntN(3)], Tenant: m.Tenant})}
	if rng.IntN(6) == 0 { // never starts
		return append(evs, mk(events.RequestTimedOut, events.TimedOut{Deadline: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}))
	}
	pct, cancel := 0.0, false
	for attempt := 1; attempt <= 1+rng.IntN(2); attempt++ {
		evs = append(evs, mk(events.RequestStarted, events.Started{Attempt: attempt, Worker: fmt.Sprintf("w%d", rng.IntN(4))}))
		for range rng.IntN(6) {
			pct = min(100, pct+float64(rng.IntN(25)))
			if rng.IntN(5) == 0 { // the old shape, upcast on read
				evs = append(evs, events.Event{Type: events.RequestProgressed, SchemaVersion: 1,
					Data: []byte(fmt.Sprintf(`{"percent": %d, "status": "old %d"}`, int(pct), len(evs)))})
				pct = float64(int(pct))
				continue
			}
			msg := ""
			if rng.IntN(2) == 0 {
				msg = fmt.Sprintf("step %d", len(evs))
			}
			evs = append(evs, mk(events.RequestProgressed, events.Progress{Percentage: pct, Message: msg}))
		}
		if !cancel && rng.IntN(5) == 0 {
			cancel = true
			evs = append(evs, mk(events.RequestCancelRequested, events.CancelRequested{By: "alice"}))
		}
	}
	switch rng.IntN(5) {
	case 0:
		evs = append(evs, mk(events.RequestCompleted, events.Completed{Result: json.RawMessage(fmt.Sprintf(`{"rows":%d}`, rng.IntN(1000)))}))
	case 1:
		evs = append(evs, mk(events.RequestFailed, events.Failed{Code: "handler_error", Message: "boom", Retryable: rng.IntN(2) == 0}))
	case 2:
		evs = append(evs, mk(events.RequestCancelled, events.Cancelled{Reason: "asked"}))
	case 3:
		evs = append(evs, mk(events.RequestTimedOut, events.TimedOut{Deadline: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}))
	}
	return evs
}

// connectionScript is a random valid life of one connection.
func connectionScript(rng *rand.Rand, requests []string) []events.Event {
	m := events.Meta{Actor: owners[rng.IntN(3)], Tenant: tenants[rng.IntN(2)], Source: "test"}
	mk := func(typ string, p any) events.Event { return events.MustNew(typ, p, m) }
	evs := []events.Event{mk(events.ConnectionOpened, events.Opened{User: m.Actor, Tenant: m.Tenant, Source: "websocket"})}
	for range rng.IntN(8) {
		req := requests[rng.IntN(len(requests))]
		if rng.IntN(3) == 0 {
			evs = append(evs, mk(events.ConnectionUnsubscribed, events.Unsubscribed{RequestID: req}))
		} else {
			evs = append(evs, mk(events.ConnectionSubscribed, events.Subscribed{RequestID: req, FromVersion: int64(rng.IntN(5))}))
		}
	}
	if rng.IntN(2) == 0 {
		evs = append(evs, mk(events.ConnectionClosed, events.Closed{Reason: []string{events.CloseClient, events.CloseGone, events.CloseIdle}[rng.IntN(3)]}))
	}
	return evs
}

// workload is a set of streams and their scripts.
type workload struct {
	streams []string
	scripts map[string][]events.Event
}

func newWorkload(rng *rand.Rand, prefix string, requests, connections int) workload {
	w := workload{scripts: map[string][]events.Event{}}
	var ids []string
	for i := range requests {
		id := fmt.Sprintf("%s-r%03d", prefix, i)
		ids = append(ids, id)
		s := events.RequestStream(id)
		w.streams = append(w.streams, s)
		w.scripts[s] = requestScript(rng)
	}
	for i := range connections {
		s := events.ConnectionStream(fmt.Sprintf("%s-c%03d", prefix, i))
		w.streams = append(w.streams, s)
		w.scripts[s] = connectionScript(rng, ids)
	}
	return w
}

// appendAll appends the workload with streams interleaved at random, one
// to three events per append, pausing between appends.
func (w workload) appendAll(ctx context.Context, t testing.TB, log events.Store, rng *rand.Rand, pause time.Duration) {
	t.Helper()
	next := map[string]int{}
	live := slices.Clone(w.streams)
	for len(live) > 0 {
		i := rng.IntN(len(live))
		s := live[i]
		script := w.scripts[s]
		n := min(1+rng.IntN(3), len(script)-next[s])
		if _, err := log.Append(ctx, s, int64(next[s]), script[next[s]:next[s]+n]...); err != nil {
			t.Errorf("append %s at %d: %v", s, next[s], err)
			return
		}
		if next[s] += n; next[s] == len(script) {
			live = slices.Delete(live, i, i+1)
		}
		if pause > 0 {
			time.Sleep(pause)
		}
	}
}

// allEvents reads the whole log in position order.
func allEvents(t testing.TB, log *evsqlite.Store) []events.Event {
	t.Helper()
	var out []events.Event
	for after := int64(0); ; {
		recs, err := log.ReadFrom(context.Background(), after, 1000)
		if err != nil {
			t.Fatalf("read log: %v", err)
		}
		if len(recs) == 0 {
			return out
		}
		for _, r := range recs {
			out = append(out, r.Event)
		}
		after = recs[len(recs)-1].Position
	}
}

// views is every view of a set of streams.
type views struct {
	Requests    map[string]projections.RequestView
	Connections map[string]projections.ConnectionView
}

// fold is the from-scratch projection of evs: each stream folded with the
// pure apply functions.
func fold(t testing.TB, evs []events.Event) views {
	t.Helper()
	out := views{Requests: map[string]projections.RequestView{}, Connections: map[string]projections.ConnectionView{}}
	for _, e := range evs {
		kind, id, err := events.ParseStream(e.StreamID)
		if err != nil {
			t.Fatal(err)
		}
		if kind == events.KindRequest {
			v, err := projections.ApplyRequest(out.Requests[id], e)
			if err != nil {
				t.Fatalf("fold %s@%d: %v", e.StreamID, e.Version, err)
			}
			out.Requests[id] = v
		} else {
			v, err := projections.ApplyConnection(out.Connections[id], e, projections.TTL{})
			if err != nil {
				t.Fatalf("fold %s@%d: %v", e.StreamID, e.Version, err)
			}
			out.Connections[id] = v
		}
	}
	return out
}

// snapshot reads from r the views of every stream in want.
func snapshot(t testing.TB, r projections.ViewReader, want views) views {
	t.Helper()
	ctx := context.Background()
	got := views{Requests: map[string]projections.RequestView{}, Connections: map[string]projections.ConnectionView{}}
	for id := range want.Requests {
		v, err := r.GetRequest(ctx, id)
		if err != nil {
			t.Fatalf("get request %s: %v", id, err)
		}
		got.Requests[id] = v
	}
	for id := range want.Connections {
		v, err := r.GetConnection(ctx, id)
		if err != nil {
			t.Fatalf("get connection %s: %v", id, err)
		}
		got.Connections[id] = v
	}
	return got
}

// sameViews compares two sets of views field for field.
func sameViews(t testing.TB, what string, got, want views) {
	t.Helper()
	if reflect.DeepEqual(got, want) {
		return
	}
	for id, w := range want.Requests {
		if g := got.Requests[id]; !reflect.DeepEqual(g, w) {
			t.Errorf("%s: request %s:\n got %+v\nwant %+v", what, id, g, w)
		}
	}
	for id, w := range want.Connections {
		if g := got.Connections[id]; !reflect.DeepEqual(g, w) {
			t.Errorf("%s: connection %s:\n got %+v\nwant %+v", what, id, g, w)
		}
	}
	if len(got.Requests) != len(want.Requests) || len(got.Connections) != len(want.Connections) {
		t.Errorf("%s: %d requests and %d connections, want %d and %d", what, len(got.Requests), len(got.Connections), len(want.Requests), len(want.Connections))
	}
	t.FailNow()
}
