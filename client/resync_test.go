package client

import (
	"errors"
	"sync/atomic"
	"testing"

	"github.com/streamer/streamer/client/clienttest"
	"github.com/streamer/streamer/protocol"
)

// endedRequest makes a request whose log is v1 submitted, v2 started, v3
// progress, v4 completed.
func endedRequest(s *clienttest.Server) string {
	id := s.Create("job")
	s.Emit(id, "request.started", map[string]int{"attempt": 1})
	s.Emit(id, "request.progress", map[string]any{"percentage": 50})
	s.Emit(id, "request.completed", map[string]any{"result": 42})
	return id
}

func isSubscribe(r clienttest.Received) bool { return r.In.Action == protocol.ActionSubscribe }

// scriptFirstSubscribe answers the first subscribe with answer instead of
// the built-in replay; later ones behave normally.
func scriptFirstSubscribe(answer func(c *clienttest.Conn, in protocol.Inbound)) clienttest.Config {
	var n atomic.Int32
	return clienttest.Config{Hook: func(c *clienttest.Conn, in protocol.Inbound) bool {
		if in.Action != protocol.ActionSubscribe || n.Add(1) > 1 {
			return false
		}
		answer(c, in)
		return true
	}}
}

// The ack says the stream is at v4 but the replay brought nothing: the
// client re-subscribes from where it is.
func TestAckAheadOfReplayResubscribes(t *testing.T) {
	ctx := testCtx(t)
	s := newServer(t, scriptFirstSubscribe(func(c *clienttest.Conn, in protocol.Inbound) {
		c.Send(protocol.Outbound{Type: protocol.TypeAck, Action: in.Action, RequestID: in.RequestID, Version: 4, ClientRequestID: in.ClientRequestID})
	}))
	id := endedRequest(s)
	c := dial(t, ctx, s, Options{})
	var rec recorder
	res, err := c.Follow(ctx, id, 1, rec.onEvent)
	if err != nil {
		t.Fatal(err)
	}
	assertExactlyOnce(t, s, &rec, res, 2, 4)
	subs, _ := s.Await(ctx, 2, isSubscribe)
	if len(subs) != 2 || subs[1].In.FromVersion != subs[0].In.FromVersion {
		t.Fatalf("subscribes %+v", subs)
	}
}

func TestRetryableSubscribeErrorRetries(t *testing.T) {
	ctx := testCtx(t)
	s := newServer(t, scriptFirstSubscribe(func(c *clienttest.Conn, in protocol.Inbound) {
		e := protocol.Errorf(protocol.CodeUnavailable, "throttled")
		e.Retryable = true
		c.Send(protocol.ErrorFrame(&in, e))
	}))
	id := endedRequest(s)
	c := dial(t, ctx, s, Options{})
	var rec recorder
	res, err := c.Follow(ctx, id, 0, rec.onEvent)
	if err != nil {
		t.Fatal(err)
	}
	assertExactlyOnce(t, s, &rec, res, 1, 4)
}

func TestRefusedSubscribeEndsFollow(t *testing.T) {
	ctx := testCtx(t)
	s := newServer(t, scriptFirstSubscribe(func(c *clienttest.Conn, in protocol.Inbound) {
		c.Send(protocol.ErrorFrame(&in, protocol.Errorf(protocol.CodeTooManySubscriptions, "48 already")))
	}))
	id := endedRequest(s)
	c := dial(t, ctx, s, Options{})
	_, err := c.Follow(ctx, id, 0, nil)
	var pe *protocol.Error
	if !errors.As(err, &pe) || pe.Code != protocol.CodeTooManySubscriptions {
		t.Fatalf("follow: %v", err)
	}
	if subs, _ := s.Await(ctx, 1, isSubscribe); len(subs) != 1 {
		t.Fatalf("%d subscribes, want 1", len(subs))
	}
}

// A server that does not echo clientRequestId still gets its answers
// matched, by action and request.
func TestAnswersWithoutClientRequestID(t *testing.T) {
	ctx := testCtx(t)
	s := newServer(t, clienttest.Config{Hook: func(c *clienttest.Conn, in protocol.Inbound) bool {
		switch in.Action {
		case protocol.ActionPing:
			c.Send(protocol.Outbound{Type: protocol.TypePong})
		case protocol.ActionStatus:
			c.Send(protocol.Outbound{Type: protocol.TypeStatus, RequestID: in.RequestID, Request: []byte(`{"status":"running"}`)})
		case protocol.ActionCancel:
			c.Send(protocol.ErrorFrame(&protocol.Inbound{Action: in.Action, RequestID: in.RequestID},
				protocol.Errorf(protocol.CodeForbidden, "not yours")))
		default:
			return false
		}
		return true
	}})
	c := dial(t, ctx, s, Options{})
	if err := c.Ping(ctx); err != nil {
		t.Fatal(err)
	}
	if v, err := c.Status(ctx, "req-9"); err != nil || string(v) != `{"status":"running"}` {
		t.Fatalf("status %s, %v", v, err)
	}
	var pe *protocol.Error
	if _, err := c.Cancel(ctx, "req-9", ""); !errors.As(err, &pe) || pe.Code != protocol.CodeForbidden {
		t.Fatalf("cancel: %v", err)
	}
}

// The server has the connection as closed and refuses the subscribe as
// unauthorized: the client reconnects and resumes on a new connection.
func TestSubscribeRefusedAsUnauthorizedReconnects(t *testing.T) {
	ctx := testCtx(t)
	s := newServer(t, scriptFirstSubscribe(func(c *clienttest.Conn, in protocol.Inbound) {
		c.Send(protocol.ErrorFrame(&in, protocol.Errorf(protocol.CodeUnauthorized, "connection is closed")))
	}))
	id := endedRequest(s)
	c := dial(t, ctx, s, Options{})
	var rec recorder
	res, err := c.Follow(ctx, id, 0, rec.onEvent)
	if err != nil {
		t.Fatal(err)
	}
	assertExactlyOnce(t, s, &rec, res, 1, 4)
	subs, _ := s.Await(ctx, 2, isSubscribe)
	if len(subs) != 2 || subs[0].Conn != 1 || subs[1].Conn != 2 {
		t.Fatalf("subscribes %+v", subs)
	}
}

// A retryable refusal of a submission is retried with the same key; a
// request created before the refusal is then re-attached, not duplicated.
func TestRetryableSubmitRefusalRetries(t *testing.T) {
	ctx := testCtx(t)
	var n atomic.Int32
	s := newServer(t, clienttest.Config{Hook: func(c *clienttest.Conn, in protocol.Inbound) bool {
		if in.Action != "job" || n.Add(1) > 2 {
			return false
		}
		if n.Load() == 1 {
			lost := in
			lost.ClientRequestID = "lost" // created; its answer matches nothing the client sent
			c.Handle(lost)
		}
		e := protocol.Errorf(protocol.CodeTimeout, "subscription not visible yet")
		e.Retryable = true
		c.Send(protocol.ErrorFrame(&in, e))
		return true
	}})
	c := dial(t, ctx, s, Options{})
	var rec recorder
	res, err := c.Request(ctx, "job", jobPayload(2, ""), RequestOptions{OnEvent: rec.onEvent})
	if err != nil {
		t.Fatal(err)
	}
	jobs, _ := s.Await(ctx, 3, func(r clienttest.Received) bool { return r.In.Action == "job" })
	if len(jobs) != 3 || jobs[0].In.IdempotencyKey != jobs[2].In.IdempotencyKey || s.Requests() != 1 {
		t.Fatalf("%d submissions, %d requests", len(jobs), s.Requests())
	}
	assertExactlyOnce(t, s, &rec, res, 2, 5)

	// Not retryable: returned at once.
	_, err = c.Submit(ctx, "nope", nil, RequestOptions{})
	var pe *protocol.Error
	if !errors.As(err, &pe) || pe.Code != protocol.CodeUnknownAction {
		t.Fatalf("unknown action: %v", err)
	}
}
