package wsapi_test

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/streamer/streamer/events"
	"github.com/streamer/streamer/protocol"
	"github.com/streamer/streamer/wsapi"
)

func TestSyncEcho(t *testing.T) {
	e := newEnv(t, withoutProjector)
	e.connect("c1", alice)
	f := one(t, e.send("c1", `{"action":"echo","payload":{"message":"hi"},"clientRequestId":"my-ref"}`))
	if f.Type != protocol.TypeResponse || f.Status != "completed" || f.Version != 3 || f.RequestID == "" || f.ClientRequestID != "my-ref" || f.Action != "echo" {
		t.Fatalf("got %+v, want a completed response at version 3 echoing my-ref", f)
	}
	var result map[string]string
	if err := json.Unmarshal(f.Result, &result); err != nil || result["message"] != "hi" {
		t.Fatalf("result %s, want the payload", f.Result)
	}
	evs := e.load(events.RequestStream(f.RequestID))
	if !slices.Equal(types(evs), []string{events.RequestSubmitted, events.RequestStarted, events.RequestCompleted}) {
		t.Fatalf("stream = %v", types(evs))
	}
	// One Append stamps every event of the call with one time.
	if !evs[0].Time.Equal(evs[1].Time) || !evs[1].Time.Equal(evs[2].Time) {
		t.Errorf("events not appended in one call: times %v %v %v", evs[0].Time, evs[1].Time, evs[2].Time)
	}
	sub, err := events.PayloadAs[*events.Submitted](evs[0])
	if err != nil {
		t.Fatal(err)
	}
	if sub.Action != "echo" || sub.Owner != "alice" || sub.Tenant != "acme" || sub.ConnectionID != "c1" || sub.ClientRequestID != "my-ref" {
		t.Errorf("submitted = %+v", sub)
	}
	if st, _ := events.PayloadAs[*events.Started](evs[1]); st.Attempt != 1 {
		t.Errorf("started attempt %d, want 1", st.Attempt)
	}
	if done, _ := events.PayloadAs[*events.Completed](evs[2]); string(done.Result) != `{"message":"hi"}` {
		t.Errorf("completed result %s", done.Result)
	}
	if m := evs[2].Meta; m.Actor != "alice" || m.CorrelationID != f.RequestID || m.Source != "wsapi" {
		t.Errorf("meta = %+v", m)
	}
}

func TestSyncHandlerError(t *testing.T) {
	e := newEnv(t, withoutProjector)
	e.connect("c1", alice)
	f := one(t, e.send("c1", `{"action":"explode"}`))
	if f.Type != protocol.TypeResponse || f.Status != "failed" || f.Version != 3 || f.Error == nil ||
		f.Error.Code != protocol.CodeHandlerError || f.Error.Message != "upstream exploded" || f.Error.Retryable {
		t.Fatalf("got %+v (error %+v), want a failed response with handler_error", f, f.Error)
	}
	evs := e.load(events.RequestStream(f.RequestID))
	if !slices.Equal(types(evs), []string{events.RequestSubmitted, events.RequestStarted, events.RequestFailed}) {
		t.Fatalf("stream = %v", types(evs))
	}
	p, _ := events.PayloadAs[*events.Failed](evs[2])
	if p.Code != "handler_error" || p.Message != "upstream exploded" || p.Attempt != 1 {
		t.Errorf("failed = %+v", p)
	}
}

// A panicking handler fails its request; the panic value stays in the
// server log.
func TestSyncHandlerPanic(t *testing.T) {
	e := newEnv(t, withoutProjector)
	e.connect("c1", alice)
	f := one(t, e.send("c1", `{"action":"panicky"}`))
	if f.Status != "failed" || f.Error == nil || f.Error.Code != protocol.CodeInternal || strings.Contains(f.Error.Message, "nil map") {
		t.Fatalf("got %+v (error %+v), want a failed response with internal_error and no panic value", f, f.Error)
	}
	if evs := e.load(events.RequestStream(f.RequestID)); len(evs) != 3 || evs[2].Type != events.RequestFailed {
		t.Fatalf("stream = %v", types(evs))
	}
	if !strings.Contains(e.logs.String(), "nil map somewhere") {
		t.Error("the panic is not in the log")
	}
	if pong := one(t, e.send("c1", `{"action":"ping"}`)); pong.Type != protocol.TypePong {
		t.Fatalf("after the panic, ping got %+v", pong)
	}
}

func TestSyncTimeout(t *testing.T) {
	e := newEnv(t, withoutProjector, withConfig(func(c *wsapi.Config) { c.SyncTimeout = 20 * time.Millisecond }))
	e.connect("c1", alice)
	f := one(t, e.send("c1", `{"action":"sleepy"}`))
	if f.Status != "failed" || f.Error == nil || f.Error.Code != protocol.CodeTimeout || !f.Error.Retryable {
		t.Fatalf("got %+v (error %+v), want a failed response with a retryable timeout", f, f.Error)
	}
	if evs := e.load(events.RequestStream(f.RequestID)); len(evs) != 3 || evs[2].Type != events.RequestFailed {
		t.Fatalf("stream = %v", types(evs))
	}
}

// A sync handler that ignores its context still ends at SyncTimeout: the
// request fails with timeout, and the result it returns later is
// discarded.
func TestSyncTimeoutIgnoredContext(t *testing.T) {
	e := newEnv(t, withoutProjector, withConfig(func(c *wsapi.Config) { c.SyncTimeout = 20 * time.Millisecond }))
	e.connect("c1", alice)
	f := one(t, e.send("c1", `{"action":"stubborn"}`))
	close(e.release) // the handler returns its result now, too late
	if f.Status != "failed" || f.Error == nil || f.Error.Code != protocol.CodeTimeout {
		t.Fatalf("got %+v (error %+v), want a failed response with code timeout", f, f.Error)
	}
	if evs := e.load(events.RequestStream(f.RequestID)); len(evs) != 3 || evs[2].Type != events.RequestFailed {
		t.Fatalf("stream = %v", types(evs))
	}
}

// Frames the server refuses cost one error frame; the connection carries
// on, and nothing is stored.
func TestRefusedFrames(t *testing.T) {
	e := newEnv(t, withoutProjector)
	e.connect("c1", alice)
	for _, tc := range []struct {
		name, body, code string
	}{
		{"invalid JSON", `{"action":`, protocol.CodeInvalidJSON},
		{"not an object", `["ping"]`, protocol.CodeInvalidJSON},
		{"oversized", `{"action":"echo","payload":{"message":"` + strings.Repeat("x", protocol.MaxMessageSize) + `"}}`, protocol.CodeMessageTooLarge},
		{"missing action", `{"requestId":"r"}`, protocol.CodeInvalidFrame},
		{"wrong type", `{"action":"subscribe","requestId":"r","fromVersion":"3"}`, protocol.CodeInvalidFrame},
		{"subscribe without requestId", `{"action":"subscribe"}`, protocol.CodeInvalidFrame},
		{"unknown action", `{"action":"launch_rockets","clientRequestId":"x1"}`, protocol.CodeUnknownAction},
		{"validation failure", `{"action":"echo","payload":{"msg":"typo"}}`, protocol.CodeValidationFailed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := wantError(t, e.send("c1", tc.body), tc.code)
			switch tc.code {
			case protocol.CodeUnknownAction:
				if f.Action != "launch_rockets" || f.ClientRequestID != "x1" || f.RequestID != "" {
					t.Errorf("error frame %+v should echo action and clientRequestId, and name no request", f)
				}
			case protocol.CodeValidationFailed:
				if f.Error.Message != "payload.message is required" || f.RequestID != "" {
					t.Errorf("error %+v, want the handler's message and no request ID", f.Error)
				}
			}
			if pong := one(t, e.send("c1", `{"action":"ping"}`)); pong.Type != protocol.TypePong {
				t.Fatalf("after the refusal, ping got %+v", pong)
			}
		})
	}
	err := e.store.Scan(context.Background(), events.ScanOptions{}, func(ev events.Event) error {
		if strings.HasPrefix(ev.StreamID, events.RequestStreamPrefix) {
			t.Errorf("a refused frame stored %s %s", ev.StreamID, ev.Type)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if n := e.echoes.Load(); n != 0 {
		t.Errorf("echo ran %d times", n)
	}
}

func TestBase64Message(t *testing.T) {
	e := newEnv(t, withoutProjector)
	e.connect("c1", alice)
	req := messageRequest(t, "c1", "eyJhY3Rpb24iOiJwaW5nIn0=") // {"action":"ping"}
	req.IsBase64Encoded = true
	if _, err := e.api.Default(context.Background(), req); err != nil {
		t.Fatal(err)
	}
	if f := one(t, e.poster.since(t, "c1", 0)); f.Type != protocol.TypePong {
		t.Fatalf("got %+v, want pong", f)
	}
}

// An async submission: request.submitted, then the connection follows the
// request — the subscription is visible in the view before queued is sent.
func TestAsyncSubmit(t *testing.T) {
	e := newEnv(t)
	e.connect("c1", alice)
	f := one(t, e.send("c1", `{"action":"report","payload":{"month":"2026-10"},"clientRequestId":"r-1"}`))
	if f.Type != protocol.TypeQueued || f.Version != 1 || f.Duplicate || f.RequestID == "" || f.ClientRequestID != "r-1" {
		t.Fatalf("got %+v, want queued at version 1", f)
	}
	if evs := e.load(events.RequestStream(f.RequestID)); !slices.Equal(types(evs), []string{events.RequestSubmitted}) {
		t.Fatalf("request stream = %v", types(evs))
	}
	conn := e.load(events.ConnectionStream("c1"))
	if len(conn) != 2 || conn[1].Type != events.ConnectionSubscribed {
		t.Fatalf("connection stream = %v", types(conn))
	}
	if p, _ := events.PayloadAs[*events.Subscribed](conn[1]); p.RequestID != f.RequestID || p.FromVersion != 1 {
		t.Errorf("subscribed = %+v", p)
	}
	view, err := e.reader.GetConnection(context.Background(), "c1")
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := view.Subscriptions[f.RequestID]; !ok || view.Version < 2 {
		t.Fatalf("when queued was sent the view was %+v, want the subscription visible", view)
	}
	subs, err := e.reader.Subscribers(context.Background(), f.RequestID)
	if err != nil || !slices.Contains(subs, "c1") {
		t.Fatalf("subscribers %v %v, want c1", subs, err)
	}
}

// A handler that asks for async at run time is queued like an async one.
func TestSyncTurnsAsync(t *testing.T) {
	e := newEnv(t)
	e.connect("c1", alice)
	f := one(t, e.send("c1", `{"action":"lazy"}`))
	if f.Type != protocol.TypeQueued || f.Version != 1 {
		t.Fatalf("got %+v, want queued", f)
	}
	if evs := e.load(events.RequestStream(f.RequestID)); !slices.Equal(types(evs), []string{events.RequestSubmitted}) {
		t.Fatalf("request stream = %v", types(evs))
	}
}

func TestIdempotencyKey(t *testing.T) {
	e := newEnv(t)
	e.connect("c1", alice)
	e.connect("c2", alice)

	t.Run("async", func(t *testing.T) {
		first := one(t, e.send("c1", `{"action":"report","idempotencyKey":"oct-report"}`))
		if first.Type != protocol.TypeQueued || first.Duplicate {
			t.Fatalf("first: %+v", first)
		}
		if want := events.RequestID("acme", "alice", "oct-report"); first.RequestID != want {
			t.Fatalf("request ID %s, want the one derived from the key %s", first.RequestID, want)
		}
		// The processor moves on before the client retries (on another socket).
		meta := events.Meta{Actor: "system:processor", Tenant: "acme"}
		e.appendEvents(first.RequestID, 1,
			events.MustNew(events.RequestStarted, events.Started{Attempt: 1}, meta),
			events.MustNew(events.RequestProgressed, events.Progress{Percentage: 50, Message: "half"}, meta))
		frames := e.send("c2", `{"action":"report","idempotencyKey":"oct-report"}`)
		if len(frames) != 3 {
			t.Fatalf("retry got %d frames, want queued and the two events since: %+v", len(frames), frames)
		}
		if f := frames[0]; f.Type != protocol.TypeQueued || !f.Duplicate || f.RequestID != first.RequestID || f.Version != 1 {
			t.Fatalf("retry: %+v, want queued duplicate of %s", f, first.RequestID)
		}
		for i, want := range []string{events.RequestStarted, events.RequestProgressed} {
			if f := frames[1+i]; f.Type != protocol.TypeEvent || f.Event != want || f.Version != int64(2+i) || f.RequestID != first.RequestID {
				t.Errorf("frame %d = %+v, want event %s at version %d", 1+i, f, want, 2+i)
			}
		}
		evs := e.load(events.RequestStream(first.RequestID))
		if len(evs) != 3 || evs[0].Type != events.RequestSubmitted {
			t.Fatalf("stream = %v, want one submission", types(evs))
		}
	})
	t.Run("sync", func(t *testing.T) {
		first := one(t, e.send("c1", `{"action":"echo","payload":{"message":"once"},"idempotencyKey":"k-echo"}`))
		if first.Type != protocol.TypeResponse || first.Status != "completed" {
			t.Fatalf("first: %+v", first)
		}
		frames := e.send("c1", `{"action":"echo","payload":{"message":"once"},"idempotencyKey":"k-echo"}`)
		if len(frames) != 3 || frames[0].Type != protocol.TypeQueued || !frames[0].Duplicate || frames[0].RequestID != first.RequestID {
			t.Fatalf("retry got %+v, want queued duplicate then the events", frames)
		}
		if last := frames[2]; last.Event != events.RequestCompleted || last.Version != 3 || string(last.Data) != `{"result":{"message":"once"}}` {
			t.Errorf("last frame %+v (data %s), want the completion", last, last.Data)
		}
		if n := e.echoes.Load(); n != 1 {
			t.Errorf("echo ran %d times, want once", n)
		}
		if evs := e.load(events.RequestStream(first.RequestID)); len(evs) != 3 {
			t.Errorf("stream = %v", types(evs))
		}
	})
	t.Run("scoped to the user", func(t *testing.T) {
		e.connect("c-bob", bob)
		f := one(t, e.send("c-bob", `{"action":"report","idempotencyKey":"oct-report"}`))
		if f.Type != protocol.TypeQueued || f.Duplicate || f.RequestID == events.RequestID("acme", "alice", "oct-report") {
			t.Fatalf("bob's key named alice's request: %+v", f)
		}
	})
}
