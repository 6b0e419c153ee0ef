package wsapi_test

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/streamer/streamer/events"
	"github.com/streamer/streamer/projections"
	"github.com/streamer/streamer/protocol"
)

// Who may do what to alice's request.
func TestAuthorization(t *testing.T) {
	e := newEnv(t)
	e.connect("c-alice", alice)
	e.connect("c-bob", bob)
	e.connect("c-carol", carol)
	e.connect("c-mallory", mallory)
	q := one(t, e.send("c-alice", `{"action":"report"}`))
	id := q.RequestID
	subscribe := fmt.Sprintf(`{"action":"subscribe","requestId":%q}`, id)
	status := fmt.Sprintf(`{"action":"status","requestId":%q}`, id)
	cancel := fmt.Sprintf(`{"action":"cancel","requestId":%q}`, id)

	for _, tc := range []struct {
		conn, body, code string
	}{
		{"c-mallory", subscribe, protocol.CodeNotFound},
		{"c-mallory", status, protocol.CodeNotFound},
		{"c-mallory", cancel, protocol.CodeNotFound},
		{"c-bob", subscribe, protocol.CodeForbidden},
		{"c-bob", status, protocol.CodeForbidden},
		{"c-bob", cancel, protocol.CodeForbidden},
		{"c-carol", cancel, protocol.CodeForbidden},
		{"c-alice", `{"action":"status","requestId":"no-such-request"}`, protocol.CodeNotFound},
		{"c-alice", `{"action":"subscribe","requestId":"a/b"}`, protocol.CodeNotFound},
		{"c-alice", `{"action":"cancel","requestId":"no-such-request"}`, protocol.CodeNotFound},
	} {
		t.Run(tc.conn+" "+tc.body, func(t *testing.T) {
			wantError(t, e.send(tc.conn, tc.body), tc.code)
		})
	}
	t.Run("audit:read may read", func(t *testing.T) {
		frames := e.send("c-carol", subscribe)
		if f := frames[len(frames)-1]; f.Type != protocol.TypeAck || f.RequestID != id {
			t.Fatalf("carol subscribe got %+v", frames)
		}
		if f := one(t, e.send("c-carol", status)); f.Type != protocol.TypeStatus {
			t.Fatalf("carol status got %+v", f)
		}
	})
	if evs := e.load(events.RequestStream(id)); len(evs) != 1 {
		t.Errorf("request stream = %v, want the refusals to append nothing", types(evs))
	}
	if conn := e.load(events.ConnectionStream("c-bob")); len(conn) != 1 {
		t.Errorf("bob's connection = %v, want no subscription", types(conn))
	}
}

func TestCancel(t *testing.T) {
	e := newEnv(t, withoutProjector)
	e.connect("c1", alice)
	e.newRequest("r1", alice, 1) // submitted, started, progress: head 3
	f := one(t, e.send("c1", `{"action":"cancel","requestId":"r1","reason":"no longer needed","clientRequestId":"x"}`))
	if f.Type != protocol.TypeAck || f.Action != protocol.ActionCancel || f.RequestID != "r1" || f.Version != 4 || f.ClientRequestID != "x" {
		t.Fatalf("got %+v, want the ack at version 4", f)
	}
	evs := e.load(events.RequestStream("r1"))
	if len(evs) != 4 || evs[3].Type != events.RequestCancelRequested {
		t.Fatalf("stream = %v", types(evs))
	}
	if p, _ := events.PayloadAs[*events.CancelRequested](evs[3]); p.Reason != "no longer needed" || p.By != "alice" {
		t.Errorf("cancel_requested = %+v", p)
	}
	// Asking again is acknowledged with the same version; nothing appended.
	if f := one(t, e.send("c1", `{"action":"cancel","requestId":"r1"}`)); f.Type != protocol.TypeAck || f.Version != 4 {
		t.Fatalf("second cancel got %+v", f)
	}
	if evs := e.load(events.RequestStream("r1")); len(evs) != 4 {
		t.Errorf("stream = %v after a second cancel", types(evs))
	}

	t.Run("finished", func(t *testing.T) {
		done := one(t, e.send("c1", `{"action":"echo","payload":{"message":"x"}}`))
		wantError(t, e.send("c1", fmt.Sprintf(`{"action":"cancel","requestId":%q}`, done.RequestID)), protocol.CodeInvalidTransition)
		if evs := e.load(events.RequestStream(done.RequestID)); len(evs) != 3 {
			t.Errorf("stream = %v", types(evs))
		}
	})
}

func TestStatus(t *testing.T) {
	e := newEnv(t)
	e.connect("c1", alice)
	e.newRequest("r1", alice, 2)
	ctx := context.Background()
	waitView(t, e, "r1", 4)
	got := statusView(t, e, "c1", "r1")
	if got.Version != 4 || got.Status != projections.StatusRunning || got.Percentage != 20 || got.Message != "step 2" || got.Owner != "alice" {
		t.Fatalf("status = %+v", got)
	}

	t.Run("view lags the log", func(t *testing.T) {
		e.stopProjector()
		meta := events.Meta{Actor: "system:processor", Tenant: "acme"}
		e.appendEvents("r1", 4,
			events.MustNew(events.RequestProgressed, events.Progress{Percentage: 90, Message: "nearly"}, meta),
			events.MustNew(events.RequestCompleted, events.Completed{Result: json.RawMessage(`{"rows":4}`)}, meta))
		if v, err := e.reader.GetRequest(ctx, "r1"); err != nil || v.Version != 4 {
			t.Fatalf("view %+v %v, want it stuck at 4", v, err)
		}
		got := statusView(t, e, "c1", "r1")
		if got.Version != 6 || got.Status != projections.StatusCompleted || string(got.Result) != `{"rows":4}` || got.Message != "nearly" {
			t.Fatalf("status = %+v, want the log's head", got)
		}
	})
}

func TestStatusWithoutView(t *testing.T) {
	e := newEnv(t, withoutProjector)
	e.connect("c1", alice)
	e.newRequest("r1", alice, 1)
	got := statusView(t, e, "c1", "r1")
	if got.Version != 3 || got.RequestID != "r1" || got.Status != projections.StatusRunning || got.Tenant != "acme" {
		t.Fatalf("status = %+v, want the fold of the log", got)
	}
}

func statusView(t *testing.T, e *env, connID, id string) projections.RequestView {
	t.Helper()
	f := one(t, e.send(connID, fmt.Sprintf(`{"action":"status","requestId":%q,"clientRequestId":"st"}`, id)))
	if f.Type != protocol.TypeStatus || f.RequestID != id || f.ClientRequestID != "st" {
		t.Fatalf("got %+v, want a status frame", f)
	}
	var v projections.RequestView
	if err := json.Unmarshal(f.Request, &v); err != nil {
		t.Fatalf("request %s: %v", f.Request, err)
	}
	if v.Version != f.Version {
		t.Errorf("frame version %d, view version %d", f.Version, v.Version)
	}
	return v
}

// waitView waits until the projector has brought the view of id to version.
func waitView(t *testing.T, e *env, id string, version int64) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		v, err := e.reader.GetRequest(context.Background(), id)
		if err == nil && v.Version >= version {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("view of %s never reached version %d: %+v %v", id, version, v, err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
