package dynamodb_test

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"math/rand/v2"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/streamer/streamer/events"
	"github.com/streamer/streamer/projections"
)

// The workload helpers follow projections' own rebuild tests: random valid
// lives of requests and connections, appended interleaved, and the
// from-scratch fold the views must equal.

var (
	owners  = []string{"alice", "bob", "carol"}
	tenants = []string{"acme", "globex"}
)

// requestScript is a random valid life of one request.
func requestScript(rng *rand.Rand) []events.Event {
	m := events.Meta{Actor: "system:test", Tenant: tenants[rng.IntN(2)], Source: "test"}
	mk := func(typ string, p any) events.Event { return events.MustNew(typ, p, m) }
	evs := []events.Event{mk(events.RequestSubmitted, events.Submitted{Action: "generate_report", Owner: owners[rng.IntN(3)], Tenant: m.Tenant})}
	if rng.IntN(6) == 0 {
		return append(evs, mk(events.RequestTimedOut, events.TimedOut{Deadline: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}))
	}
	evs = append(evs, mk(events.RequestStarted, events.Started{Attempt: 1, Worker: fmt.Sprintf("w%d", rng.IntN(4))}))
	pct := 0.0
	for range rng.IntN(4) {
		pct = min(100, pct+float64(rng.IntN(30)))
		evs = append(evs, mk(events.RequestProgressed, events.Progress{Percentage: pct, Message: fmt.Sprintf("step %d", len(evs))}))
	}
	switch rng.IntN(4) {
	case 0:
		evs = append(evs, mk(events.RequestCompleted, events.Completed{Result: json.RawMessage(fmt.Sprintf(`{"rows": %d}`, rng.IntN(1000)))}))
	case 1:
		evs = append(evs, mk(events.RequestFailed, events.Failed{Code: "handler_error", Message: "boom", Retryable: rng.IntN(2) == 0}))
	case 2:
		evs = append(evs, mk(events.RequestCancelRequested, events.CancelRequested{By: "alice"}), mk(events.RequestCancelled, events.Cancelled{Reason: "asked"}))
	}
	return evs
}

// connectionScript is a random valid life of one connection.
func connectionScript(rng *rand.Rand, requests []string) []events.Event {
	m := events.Meta{Actor: owners[rng.IntN(3)], Tenant: tenants[rng.IntN(2)], Source: "test"}
	mk := func(typ string, p any) events.Event { return events.MustNew(typ, p, m) }
	evs := []events.Event{mk(events.ConnectionOpened, events.Opened{User: m.Actor, Tenant: m.Tenant, Source: "websocket"})}
	for range rng.IntN(6) {
		req := requests[rng.IntN(len(requests))]
		if rng.IntN(3) == 0 {
			evs = append(evs, mk(events.ConnectionUnsubscribed, events.Unsubscribed{RequestID: req}))
		} else {
			evs = append(evs, mk(events.ConnectionSubscribed, events.Subscribed{RequestID: req, FromVersion: int64(rng.IntN(5))}))
		}
	}
	if rng.IntN(2) == 0 {
		evs = append(evs, mk(events.ConnectionClosed, events.Closed{Reason: events.CloseClient}))
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

func (w workload) events() int {
	n := 0
	for _, s := range w.scripts {
		n += len(s)
	}
	return n
}

// appendAll appends the workload with streams interleaved at random, one
// to three events per append, pausing between appends.
func (w workload) appendAll(ctx context.Context, t testing.TB, log events.Store, rng *rand.Rand, pause time.Duration) {
	t.Helper()
	next := map[string]int{}
	live := slices.Clone(w.streams)
	for len(live) > 0 && ctx.Err() == nil {
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

// scanLog reads every event of the log, grouped by stream in version
// order.
func scanLog(t testing.TB, log events.Store) map[string][]events.Event {
	t.Helper()
	out := map[string][]events.Event{}
	err := log.Scan(context.Background(), events.ScanOptions{Segments: 2}, func(e events.Event) error {
		out[e.StreamID] = append(out[e.StreamID], e)
		return nil
	})
	if err != nil {
		t.Fatalf("scan the log: %v", err)
	}
	return out
}

// views is every view of a set of streams.
type views struct {
	Requests    map[string]projections.RequestView
	Connections map[string]projections.ConnectionView
}

// fold is the from-scratch projection of the log: each stream folded with
// the pure apply functions.
func fold(t testing.TB, log map[string][]events.Event) views {
	t.Helper()
	out := views{Requests: map[string]projections.RequestView{}, Connections: map[string]projections.ConnectionView{}}
	for stream, evs := range log {
		kind, id, err := events.ParseStream(stream)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range evs {
			if kind == events.KindRequest {
				out.Requests[id], err = projections.ApplyRequest(out.Requests[id], e)
			} else {
				out.Connections[id], err = projections.ApplyConnection(out.Connections[id], e, projections.TTL{})
			}
			if err != nil {
				t.Fatalf("fold %s@%d: %v", e.StreamID, e.Version, err)
			}
		}
	}
	return out
}

// subscribers is what the subscriber index must say of the folded views:
// each request's open subscribed connections, sorted.
func (v views) subscribers() map[string][]string {
	out := map[string][]string{}
	for id := range v.Requests {
		out[id] = nil
	}
	for _, c := range v.Connections {
		if !c.Open() {
			continue
		}
		for req := range c.Subscriptions {
			out[req] = append(out[req], c.ConnectionID)
		}
	}
	for req := range out {
		slices.Sort(out[req])
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

// sameViews compares two sets of views field for field, and the
// subscriber index of r with want's.
func sameViews(t testing.TB, what string, r projections.ViewReader, want views) {
	t.Helper()
	got := snapshot(t, r, want)
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
	wantSubs := want.subscribers()
	for _, req := range slices.Sorted(maps.Keys(want.Requests)) {
		subs, err := r.Subscribers(context.Background(), req)
		if err != nil {
			t.Fatalf("%s: subscribers of %s: %v", what, req, err)
		}
		if w := wantSubs[req]; !slices.Equal(subs, w) {
			t.Errorf("%s: subscribers of %s = %q, want %q", what, req, subs, w)
		}
	}
	if t.Failed() {
		t.FailNow()
	}
}
