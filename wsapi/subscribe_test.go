package wsapi_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/streamer/streamer/events"
	"github.com/streamer/streamer/projections"
	"github.com/streamer/streamer/protocol"
	"github.com/streamer/streamer/wsapi"
)

// subscribe{fromVersion: N} replays exactly N+1..head, in order, then
// acks with the head's version.
func TestSubscribeReplay(t *testing.T) {
	e := newEnv(t)
	e.connect("c1", alice)
	e.newRequest("r1", alice, 5) // versions 1..7
	for _, from := range []int64{0, 1, 3, 6, 7, 12} {
		t.Run(fmt.Sprintf("from %d", from), func(t *testing.T) {
			frames := e.send("c1", fmt.Sprintf(`{"action":"subscribe","requestId":"r1","fromVersion":%d,"clientRequestId":"s%d"}`, from, from))
			var want []int64
			for v := from + 1; v <= 7; v++ {
				want = append(want, v)
			}
			if len(frames) != len(want)+1 {
				t.Fatalf("got %d frames, want %d events and an ack: %+v", len(frames), len(want), frames)
			}
			for i, v := range want {
				f := frames[i]
				if f.Type != protocol.TypeEvent || f.RequestID != "r1" || f.Version != v || f.Time == nil || len(f.Data) == 0 {
					t.Fatalf("frame %d = %+v, want event version %d", i, f, v)
				}
			}
			ack := frames[len(frames)-1]
			if ack.Type != protocol.TypeAck || ack.Action != protocol.ActionSubscribe || ack.RequestID != "r1" || ack.Version != 7 || ack.ClientRequestID != fmt.Sprintf("s%d", from) {
				t.Fatalf("last frame %+v, want the ack at version 7", ack)
			}
		})
	}
	evs := e.load(events.RequestStream("r1"))
	frames := e.send("c1", `{"action":"subscribe","requestId":"r1","fromVersion":0}`)
	for i, ev := range evs {
		if frames[i].Event != ev.Type || !frames[i].Time.Equal(ev.Time) {
			t.Errorf("frame %d = %s at %v, want %s at %v", i, frames[i].Event, frames[i].Time, ev.Type, ev.Time)
		}
	}
	if string(frames[2].Data) != `{"percentage":10,"message":"step 1"}` {
		t.Errorf("progress data %s", frames[2].Data)
	}
	// Re-subscribing adds no second subscription event.
	var subscribed int
	for _, ev := range e.load(events.ConnectionStream("c1")) {
		if ev.Type == events.ConnectionSubscribed {
			subscribed++
		}
	}
	if subscribed != 1 {
		t.Errorf("%d connection.subscribed events, want 1", subscribed)
	}
}

// Replayed payloads are in the current schema, whatever schema the log
// holds them in.
func TestReplayUpcasts(t *testing.T) {
	e := newEnv(t)
	e.connect("c1", alice)
	e.newRequest("r1", alice, 0)
	old := events.Event{Type: events.RequestProgressed, SchemaVersion: 1, Data: []byte(`{"percent":42,"status":"half way"}`)}
	e.appendEvents("r1", 2, old)
	frames := e.send("c1", `{"action":"subscribe","requestId":"r1","fromVersion":2}`)
	if len(frames) != 2 || string(frames[0].Data) != `{"percentage":42,"message":"half way"}` {
		t.Fatalf("got %+v, want the progress in schema 2 and the ack", frames)
	}
}

// A request that has ended needs no subscription: the replay is complete.
func TestSubscribeEnded(t *testing.T) {
	e := newEnv(t)
	e.connect("c1", alice)
	done := one(t, e.send("c1", `{"action":"echo","payload":{"message":"x"}}`))
	frames := e.send("c1", fmt.Sprintf(`{"action":"subscribe","requestId":%q}`, done.RequestID))
	if len(frames) != 4 || frames[2].Event != events.RequestCompleted || frames[3].Type != protocol.TypeAck || frames[3].Version != 3 {
		t.Fatalf("got %+v, want three events and the ack", frames)
	}
	if conn := e.load(events.ConnectionStream("c1")); len(conn) != 1 {
		t.Errorf("connection stream = %v, want no subscription for an ended request", types(conn))
	}
}

func TestTooManySubscriptions(t *testing.T) {
	e := newEnv(t, withConfig(func(c *wsapi.Config) { c.MaxSubscriptions = 2 }))
	e.connect("c1", alice)
	for _, id := range []string{"r1", "r2", "r3"} {
		e.newRequest(id, alice, 0)
	}
	ack := func(frames []protocol.Outbound) {
		t.Helper()
		if f := frames[len(frames)-1]; f.Type != protocol.TypeAck {
			t.Fatalf("got %+v, want an ack", frames)
		}
	}
	ack(e.send("c1", `{"action":"subscribe","requestId":"r1"}`))
	ack(e.send("c1", `{"action":"subscribe","requestId":"r2"}`))
	wantError(t, e.send("c1", `{"action":"subscribe","requestId":"r3"}`), protocol.CodeTooManySubscriptions)
	ack(e.send("c1", `{"action":"subscribe","requestId":"r1","fromVersion":2}`)) // already followed: allowed
	// A submission over the limit is still queued (the owner's connections
	// get its events); it records no subscription.
	queued := e.send("c1", `{"action":"report"}`)
	if queued[0].Type != protocol.TypeQueued {
		t.Fatalf("submission over the limit got %+v, want queued", queued)
	}
	if f := one(t, e.send("c1", `{"action":"unsubscribe","requestId":"r1","clientRequestId":"u1"}`)); f.Type != protocol.TypeAck ||
		f.Action != protocol.ActionUnsubscribe || f.RequestID != "r1" || f.ClientRequestID != "u1" {
		t.Fatalf("unsubscribe got %+v", f)
	}
	ack(e.send("c1", `{"action":"subscribe","requestId":"r3"}`))
	view, err := projections.ApplyConnection(projections.ConnectionView{}, e.load(events.ConnectionStream("c1"))[0], projections.TTL{})
	if err != nil {
		t.Fatal(err)
	}
	for _, ev := range e.load(events.ConnectionStream("c1"))[1:] {
		if view, err = projections.ApplyConnection(view, ev, projections.TTL{}); err != nil {
			t.Fatal(err)
		}
	}
	if len(view.Subscriptions) != 2 || view.Subscriptions["r2"] != 0 || view.Subscriptions["r3"] != 0 {
		t.Errorf("subscriptions %v, want r2 and r3", view.Subscriptions)
	}
}

func TestUnsubscribeIdempotent(t *testing.T) {
	e := newEnv(t, withoutProjector)
	e.connect("c1", alice)
	for range 2 {
		if f := one(t, e.send("c1", `{"action":"unsubscribe","requestId":"never-followed"}`)); f.Type != protocol.TypeAck {
			t.Fatalf("got %+v, want ack", f)
		}
	}
	if conn := e.load(events.ConnectionStream("c1")); len(conn) != 1 {
		t.Errorf("connection stream = %v, want nothing appended", types(conn))
	}
}

// Concurrent subscribes on one connection all land: each guarded append
// that loses re-reads the head and tries again.
func TestConcurrentSubscribes(t *testing.T) {
	e := newEnv(t)
	e.connect("c1", alice)
	const n = 6
	for i := range n {
		e.newRequest(fmt.Sprintf("r%d", i), alice, 1)
	}
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		wg.Go(func() {
			body := fmt.Sprintf(`{"action":"subscribe","requestId":"r%d","clientRequestId":"r%d"}`, i, i)
			if _, err := e.api.Default(context.Background(), messageRequest(t, "c1", body)); err != nil {
				errs <- err
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	acks := map[string]bool{}
	for _, f := range e.poster.since(t, "c1", 0) {
		if f.Type == protocol.TypeError {
			t.Errorf("error frame %+v", f.Error)
		}
		if f.Type == protocol.TypeAck {
			acks[f.RequestID] = true
		}
	}
	if len(acks) != n {
		t.Errorf("acks for %v, want %d requests", acks, n)
	}
	view, err := e.reader.GetConnection(context.Background(), "c1")
	if err != nil || len(view.Subscriptions) != n {
		t.Fatalf("view %+v %v, want %d subscriptions", view, err, n)
	}
}

// A socket that is gone ends the reply: no error, nothing more is posted.
func TestPostGone(t *testing.T) {
	e := newEnv(t)
	e.connect("c1", alice)
	e.newRequest("r1", alice, 3)
	if err := e.poster.Disconnect(context.Background(), "c1"); err != nil {
		t.Fatal(err)
	}
	resp, err := e.api.Default(context.Background(), messageRequest(t, "c1", `{"action":"subscribe","requestId":"r1"}`))
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("got %d %v, want 200", resp.StatusCode, err)
	}
	if n := e.poster.count("c1"); n != 0 {
		t.Fatalf("%d frames recorded for a gone socket", n)
	}
}

// A subscription the view does not show in time is a retryable timeout.
func TestSubscribeTimeout(t *testing.T) {
	e := newEnv(t, withoutProjector, withConfig(func(c *wsapi.Config) { c.SubscribeWait = 50 * time.Millisecond }))
	e.connect("c1", alice)
	e.newRequest("r1", alice, 0)
	f := wantError(t, e.send("c1", `{"action":"subscribe","requestId":"r1"}`), protocol.CodeTimeout)
	if !f.Error.Retryable || f.RequestID != "r1" {
		t.Fatalf("got %+v, want a retryable timeout naming r1", f.Error)
	}
}

// An event too large for one @connections message is replayed without its
// data, marked truncated.
func TestReplayTruncatesLargeEvents(t *testing.T) {
	e := newEnv(t)
	e.connect("c1", alice)
	e.newRequest("r1", alice, 0)
	big := json.RawMessage(`{"blob":"` + strings.Repeat("x", 200*1024) + `"}`)
	e.appendEvents("r1", 2, events.MustNew(events.RequestCompleted, events.Completed{Result: big}, events.Meta{Actor: "system:processor"}))
	frames := e.send("c1", `{"action":"subscribe","requestId":"r1","fromVersion":2}`)
	if len(frames) != 2 {
		t.Fatalf("got %d frames: %+v", len(frames), frames)
	}
	if f := frames[0]; f.Event != events.RequestCompleted || f.Version != 3 || !f.Truncated || f.Data != nil {
		t.Fatalf("got %+v, want the completion without its data, marked truncated", f)
	}
}

// Subscriptions of requests that have ended are released when the limit
// is reached, so a long-lived connection does not fill up with them.
func TestEndedSubscriptionsReleased(t *testing.T) {
	e := newEnv(t, withConfig(func(c *wsapi.Config) { c.MaxSubscriptions = 2 }))
	e.connect("c1", alice)
	for _, id := range []string{"r1", "r2", "r3"} {
		e.newRequest(id, alice, 0)
	}
	e.send("c1", `{"action":"subscribe","requestId":"r1"}`)
	e.send("c1", `{"action":"subscribe","requestId":"r2"}`)
	e.appendEvents("r1", 2, events.MustNew(events.RequestCompleted, events.Completed{}, events.Meta{Actor: "system:processor"}))
	waitView(t, e, "r1", 3)
	frames := e.send("c1", `{"action":"subscribe","requestId":"r3"}`)
	if f := frames[len(frames)-1]; f.Type != protocol.TypeAck || f.RequestID != "r3" {
		t.Fatalf("got %+v, want the ack of r3", frames)
	}
	conn := e.load(events.ConnectionStream("c1"))
	if got := types(conn); len(got) != 5 || got[3] != events.ConnectionUnsubscribed || got[4] != events.ConnectionSubscribed {
		t.Fatalf("connection stream = %v, want r1 released before r3 subscribed", got)
	}
	if p, _ := events.PayloadAs[*events.Unsubscribed](conn[3]); p.RequestID != "r1" {
		t.Errorf("released %q, want r1", p.RequestID)
	}
}
