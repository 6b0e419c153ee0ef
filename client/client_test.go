package client

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/streamer/streamer/client/clienttest"
	"github.com/streamer/streamer/protocol"
)

func TestRequestSync(t *testing.T) {
	ctx := testCtx(t)
	s := newServer(t, clienttest.Config{})
	c := dial(t, ctx, s, Options{})

	res, err := c.Request(ctx, "echo", map[string]any{"hello": "world"}, RequestOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if res.Status != StatusCompleted || string(res.Result) != `{"hello":"world"}` || res.Err() != nil || res.RequestID == "" || res.Version != 3 {
		t.Fatalf("echo result %+v", res)
	}

	res, err = c.Request(ctx, "fail", nil, RequestOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if res.Status != StatusFailed {
		t.Fatalf("fail status %q", res.Status)
	}
	rerr := res.Err()
	var pe *protocol.Error
	var re *RequestError
	if !errors.Is(rerr, ErrRequestFailed) || !errors.As(rerr, &pe) || pe.Code != protocol.CodeHandlerError || !errors.As(rerr, &re) {
		t.Fatalf("fail Err() = %v", rerr)
	}
}

func TestRequestAsyncExactlyOnceUnderDuplicates(t *testing.T) {
	ctx := testCtx(t)
	s := newServer(t, clienttest.Config{DuplicateLive: true})
	c := dial(t, ctx, s, Options{})

	var rec recorder
	res, err := c.Request(ctx, "job", jobPayload(20, ""), RequestOptions{OnEvent: rec.onEvent, OnProgress: rec.onProgress})
	if err != nil {
		t.Fatal(err)
	}
	// v1 submitted (the queued frame), v2 started, v3..v22 progress, v23 completed.
	assertExactlyOnce(t, s, &rec, res, 2, 23)
	if res.Status != StatusCompleted || string(res.Result) != `{"steps":20}` || res.Err() != nil {
		t.Fatalf("result %+v", res)
	}
	if len(rec.progress) != 20 || rec.progress[0].Percentage != 5 || rec.progress[19].Percentage != 100 ||
		rec.progress[19].Message != "step 20" || rec.progress[0].Version != 3 || rec.progress[0].RequestID != res.RequestID {
		t.Fatalf("progress %+v", rec.progress)
	}
	// An ended request's subscription ends with it: nothing more is sent.
	if err := c.Ping(ctx); err != nil {
		t.Fatal(err)
	}
	for _, r := range s.Received() {
		if r.In.Action != "job" && r.In.Action != protocol.ActionPing {
			t.Fatalf("unexpected frame %+v", r.In)
		}
	}
}

// The socket drops in the middle of a burst; after the reconnect the
// server replays newest first, then again oldest first, while live frames
// are duplicated. Every version still arrives once, in order.
func TestDropMidBurstResumesExactlyOnce(t *testing.T) {
	ctx := testCtx(t)
	s := newServer(t, clienttest.Config{DuplicateLive: true, ReverseReplay: true})
	c := dial(t, ctx, s, Options{})

	// Frames: queued; v2,v2,v1; v3,v3,v2 — and the socket dies.
	s.DropAfter(7)
	var rec recorder
	res, err := c.Request(ctx, "job", jobPayload(30, ""), RequestOptions{OnEvent: rec.onEvent})
	if err != nil {
		t.Fatal(err)
	}
	assertExactlyOnce(t, s, &rec, res, 2, 33)
	subs, err := s.Await(ctx, 1, func(r clienttest.Received) bool { return r.In.Action == protocol.ActionSubscribe })
	if err != nil {
		t.Fatal(err)
	}
	if subs[0].Conn != 2 || subs[0].In.FromVersion != 3 || subs[0].In.RequestID != res.RequestID {
		t.Fatalf("resume subscribe %+v, want conn 2 from version 3", subs[0])
	}
	if n := s.Requests(); n != 1 {
		t.Fatalf("%d requests on the server, want 1", n)
	}
	if acc, _ := s.Handshakes(); acc != 2 {
		t.Fatalf("%d handshakes, want 2", acc)
	}
}

// A client-side Drop while following: the client reconnects by itself and
// the follower resumes from what it had.
func TestDropWhileFollowingResumes(t *testing.T) {
	ctx := testCtx(t)
	s := newServer(t, clienttest.Config{})
	c := dial(t, ctx, s, Options{})
	sub, err := c.Submit(ctx, "job", jobPayload(0, `,"hold":true`), RequestOptions{})
	if err != nil {
		t.Fatal(err)
	}
	id := sub.RequestID
	var rec recorder
	done := make(chan *Result, 1)
	go func() {
		res, err := c.Follow(ctx, id, 1, rec.onEvent)
		if err != nil {
			t.Error(err)
		}
		done <- res
	}()
	if _, err := s.Await(ctx, 1, func(r clienttest.Received) bool { return r.In.Action == protocol.ActionSubscribe }); err != nil {
		t.Fatal(err)
	}
	s.Emit(id, "request.started", map[string]int{"attempt": 1})
	s.Emit(id, "request.progress", map[string]any{"percentage": 50})
	waitVersions(t, ctx, &rec, 2)
	c.Drop()
	s.Append(id, "request.progress", map[string]any{"percentage": 75}) // while the client is away
	subs, err := s.Await(ctx, 1, func(r clienttest.Received) bool {
		return r.In.Action == protocol.ActionSubscribe && r.Conn == 2
	})
	if err != nil {
		t.Fatal(err)
	}
	if subs[0].In.FromVersion != 3 {
		t.Fatalf("resubscribed from %d, want 3", subs[0].In.FromVersion)
	}
	s.Emit(id, "request.completed", map[string]any{"result": "ok"})
	res := <-done
	assertExactlyOnce(t, s, &rec, res, 2, 5)
	if string(res.Result) != `"ok"` {
		t.Fatalf("result %s", res.Result)
	}
}

func waitVersions(t *testing.T, ctx context.Context, rec *recorder, n int) {
	t.Helper()
	for len(rec.versions()) < n {
		select {
		case <-ctx.Done():
			t.Fatalf("saw %v, waiting for %d events", rec.versions(), n)
		case <-waitTick():
		}
	}
}

// The server took the submission but its answer was lost with the socket:
// the client resubmits with the same idempotency key and follows the one
// request that exists.
func TestResubmitAfterLostAnswerReusesIdempotencyKey(t *testing.T) {
	ctx := testCtx(t)
	var once sync.Once
	s := newServer(t, clienttest.Config{Hook: func(c *clienttest.Conn, in protocol.Inbound) bool {
		handled := false
		if in.Action == "job" {
			once.Do(func() {
				c.Drop()     // the answer and the burst are lost...
				c.Handle(in) // ...but the request runs to its end
				handled = true
			})
		}
		return handled
	}})
	c := dial(t, ctx, s, Options{})
	var rec recorder
	res, err := c.Request(ctx, "job", jobPayload(4, ""), RequestOptions{OnEvent: rec.onEvent})
	if err != nil {
		t.Fatal(err)
	}
	assertExactlyOnce(t, s, &rec, res, 2, 7)
	jobs, _ := s.Await(ctx, 2, func(r clienttest.Received) bool { return r.In.Action == "job" })
	if len(jobs) != 2 || jobs[0].Conn == jobs[1].Conn {
		t.Fatalf("submissions %+v, want one per connection", jobs)
	}
	if k := jobs[0].In.IdempotencyKey; k == "" || k != jobs[1].In.IdempotencyKey || jobs[0].In.ClientRequestID != jobs[1].In.ClientRequestID {
		t.Fatalf("resubmission changed key or clientRequestId: %+v / %+v", jobs[0].In, jobs[1].In)
	}
	if n := s.Requests(); n != 1 {
		t.Fatalf("%d requests, want 1", n)
	}
	// The re-attach replays by itself: no subscribe was needed.
	for _, r := range s.Received() {
		if r.In.Action != "job" {
			t.Fatalf("unexpected frame %+v", r.In)
		}
	}
}

// The submission never reached the server: the resubmission creates it.
func TestResubmitAfterUnsentSubmission(t *testing.T) {
	ctx := testCtx(t)
	var once sync.Once
	s := newServer(t, clienttest.Config{Hook: func(c *clienttest.Conn, in protocol.Inbound) bool {
		handled := false
		if in.Action == "job" {
			once.Do(func() { c.Drop(); handled = true })
		}
		return handled
	}})
	c := dial(t, ctx, s, Options{})
	var rec recorder
	res, err := c.Request(ctx, "job", jobPayload(2, ""), RequestOptions{IdempotencyKey: "my-key", OnEvent: rec.onEvent})
	if err != nil {
		t.Fatal(err)
	}
	assertExactlyOnce(t, s, &rec, res, 2, 5)
	jobs, _ := s.Await(ctx, 2, func(r clienttest.Received) bool { return r.In.Action == "job" })
	for _, j := range jobs {
		if j.In.IdempotencyKey != "my-key" {
			t.Fatalf("key %q, want my-key", j.In.IdempotencyKey)
		}
	}
	if n := s.Requests(); n != 1 {
		t.Fatalf("%d requests, want 1", n)
	}
}

// Live events jump ahead (the server lost two for this connection): the
// client re-subscribes from its last version to fill the gap.
func TestGapTriggersResubscribe(t *testing.T) {
	ctx := testCtx(t)
	s := newServer(t, clienttest.Config{})
	c := dial(t, ctx, s, Options{})
	sub, err := c.Submit(ctx, "job", jobPayload(0, `,"hold":true`), RequestOptions{})
	if err != nil {
		t.Fatal(err)
	}
	id := sub.RequestID
	var rec recorder
	done := make(chan *Result, 1)
	go func() {
		res, err := c.Follow(ctx, id, 1, rec.onEvent)
		if err != nil {
			t.Error(err)
		}
		done <- res
	}()
	if _, err := s.Await(ctx, 1, func(r clienttest.Received) bool { return r.In.Action == protocol.ActionSubscribe }); err != nil {
		t.Fatal(err)
	}
	s.Emit(id, "request.started", map[string]int{"attempt": 1})
	waitVersions(t, ctx, &rec, 1)
	s.Append(id, "request.progress", map[string]any{"percentage": 10})
	s.Append(id, "request.progress", map[string]any{"percentage": 20})
	s.Emit(id, "request.progress", map[string]any{"percentage": 30}) // v5 after v2
	subs, err := s.Await(ctx, 2, func(r clienttest.Received) bool { return r.In.Action == protocol.ActionSubscribe })
	if err != nil {
		t.Fatal(err)
	}
	if subs[1].In.FromVersion != 2 {
		t.Fatalf("gap re-subscribe from %d, want 2", subs[1].In.FromVersion)
	}
	waitVersions(t, ctx, &rec, 4)
	s.Emit(id, "request.completed", map[string]any{"result": 1})
	assertExactlyOnce(t, s, &rec, <-done, 2, 6)
}

// Events overtaking the queued frame are kept and delivered once the
// request is adopted, without another subscribe.
func TestEventsBeforeQueuedAreKept(t *testing.T) {
	ctx := testCtx(t)
	s := newServer(t, clienttest.Config{Hook: func(c *clienttest.Conn, in protocol.Inbound) bool {
		if in.Action != "job" {
			return false
		}
		s := c.Server()
		id := s.Create("job")
		s.Append(id, "request.started", map[string]int{"attempt": 1})
		s.Append(id, "request.progress", map[string]any{"percentage": 50})
		s.Append(id, "request.completed", map[string]any{"result": "early"})
		evs := s.Events(id)
		for _, e := range slices.Backward(evs[1:]) {
			c.Send(e)
		}
		c.Send(protocol.Outbound{Type: protocol.TypeQueued, Action: in.Action, RequestID: id, Version: 1, ClientRequestID: in.ClientRequestID})
		return true
	}})
	c := dial(t, ctx, s, Options{})
	var rec recorder
	res, err := c.Request(ctx, "job", nil, RequestOptions{OnEvent: rec.onEvent})
	if err != nil {
		t.Fatal(err)
	}
	assertExactlyOnce(t, s, &rec, res, 2, 4)
	for _, r := range s.Received() {
		if r.In.Action == protocol.ActionSubscribe {
			t.Fatalf("unexpected subscribe %+v", r.In)
		}
	}
}

func TestFollowReplaysEndedRequest(t *testing.T) {
	ctx := testCtx(t)
	s := newServer(t, clienttest.Config{ReverseReplay: true})
	c := dial(t, ctx, s, Options{})
	id := s.Create("job")
	s.Emit(id, "request.started", map[string]int{"attempt": 1})
	s.Emit(id, "request.failed", map[string]any{"code": "handler_error", "message": "disk full", "retryable": true, "attempt": 1})

	for _, tc := range []struct {
		name string
		from int64
		want []int64
	}{
		{"whole stream", 0, []int64{1, 2, 3}},
		{"from the middle", 2, []int64{3}},
		{"from the end", 3, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var rec recorder
			res, err := c.Follow(ctx, id, tc.from, rec.onEvent)
			if err != nil {
				t.Fatal(err)
			}
			if got := rec.versions(); !slices.Equal(got, tc.want) || !slices.Equal(versionsOf(res.Events), tc.want) {
				t.Fatalf("saw %v (result %v), want %v", got, versionsOf(res.Events), tc.want)
			}
			var pe *protocol.Error
			if res.Status != StatusFailed || res.Version != 3 || !errors.As(res.Err(), &pe) ||
				pe.Message != "disk full" || !pe.Retryable || !errors.Is(res.Err(), ErrRequestFailed) {
				t.Fatalf("result %+v, err %v", res, res.Err())
			}
		})
	}

	_, err := c.Follow(ctx, "req-404", 0, nil)
	var pe *protocol.Error
	if !errors.As(err, &pe) || pe.Code != protocol.CodeNotFound {
		t.Fatalf("follow of a missing request: %v", err)
	}
}

func TestCancelStatusPing(t *testing.T) {
	ctx := testCtx(t)
	s := newServer(t, clienttest.Config{})
	c := dial(t, ctx, s, Options{})
	if err := c.Ping(ctx); err != nil {
		t.Fatal(err)
	}
	sub, err := c.Submit(ctx, "job", jobPayload(0, `,"hold":true`), RequestOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if !sub.Queued() || sub.Version != 1 || sub.Duplicate || sub.IdempotencyKey == "" {
		t.Fatalf("submission %+v", sub)
	}
	view, err := c.Status(ctx, sub.RequestID)
	if err != nil {
		t.Fatal(err)
	}
	var v struct {
		RequestID, Status string
		Version           int64
	}
	if err := json.Unmarshal(view, &v); err != nil || v.RequestID != sub.RequestID || v.Status != "queued" || v.Version != 1 {
		t.Fatalf("status %s (%v)", view, err)
	}

	done := make(chan *Result, 1)
	go func() {
		res, err := c.Follow(ctx, sub.RequestID, 1, nil)
		if err != nil {
			t.Error(err)
		}
		done <- res
	}()
	if _, err := s.Await(ctx, 1, func(r clienttest.Received) bool { return r.In.Action == protocol.ActionSubscribe }); err != nil {
		t.Fatal(err)
	}
	ver, err := c.Cancel(ctx, sub.RequestID, "changed my mind")
	if err != nil || ver != 2 {
		t.Fatalf("cancel: version %d, %v", ver, err)
	}
	res := <-done
	var re *RequestError
	if res.Status != StatusCancelled || !errors.Is(res.Err(), ErrRequestCancelled) || !errors.As(res.Err(), &re) ||
		re.Reason != "changed my mind" || res.Version != 3 {
		t.Fatalf("result %+v, err %v", res, res.Err())
	}
	if !strings.Contains(res.Err().Error(), "changed my mind") {
		t.Fatalf("message %q", res.Err())
	}

	_, err = c.Cancel(ctx, sub.RequestID, "again")
	var pe *protocol.Error
	if !errors.As(err, &pe) || pe.Code != protocol.CodeInvalidTransition {
		t.Fatalf("second cancel: %v", err)
	}
	view, err = c.Status(ctx, sub.RequestID)
	if err != nil || !strings.Contains(string(view), `"status":"cancelled"`) {
		t.Fatalf("status after cancel %s (%v)", view, err)
	}
}

func TestErrorFramesAnswerTheirCall(t *testing.T) {
	ctx := testCtx(t)
	s := newServer(t, clienttest.Config{})
	c := dial(t, ctx, s, Options{})
	for _, tc := range []struct {
		name string
		call func() error
		code string
	}{
		{"unknown action", func() error { _, err := c.Request(ctx, "nope", nil, RequestOptions{}); return err }, protocol.CodeUnknownAction},
		{"invalid payload", func() error {
			_, err := c.Submit(ctx, "job", json.RawMessage(`{"steps":"x"}`), RequestOptions{})
			return err
		}, protocol.CodeValidationFailed},
		{"status of a missing request", func() error { _, err := c.Status(ctx, "req-404"); return err }, protocol.CodeNotFound},
		{"cancel of a missing request", func() error { _, err := c.Cancel(ctx, "req-404", ""); return err }, protocol.CodeNotFound},
		{"unsubscribe of a missing request", func() error { return c.Unsubscribe(ctx, "req-404") }, protocol.CodeNotFound},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.call()
			var pe *protocol.Error
			if !errors.As(err, &pe) || pe.Code != tc.code {
				t.Fatalf("got %v, want code %s", err, tc.code)
			}
		})
	}
	// Error frames cost a call, never the connection.
	if err := c.Ping(ctx); err != nil {
		t.Fatal(err)
	}
	if acc, _ := s.Handshakes(); acc != 1 {
		t.Fatalf("%d handshakes, want 1", acc)
	}
}

func TestClientSideRefusals(t *testing.T) {
	ctx := testCtx(t)
	s := newServer(t, clienttest.Config{})
	c := dial(t, ctx, s, Options{})
	if _, err := c.Submit(ctx, protocol.ActionCancel, nil, RequestOptions{}); err == nil {
		t.Fatal("submitting a reserved action succeeded")
	}
	big := strings.Repeat("x", protocol.MaxMessageSize)
	var pe *protocol.Error
	if _, err := c.Submit(ctx, "echo", big, RequestOptions{}); !errors.As(err, &pe) || pe.Code != protocol.CodeMessageTooLarge {
		t.Fatalf("oversized submission: %v", err)
	}
	if _, err := c.Follow(ctx, "", 0, nil); err == nil {
		t.Fatal("follow of an empty id succeeded")
	}
	if len(s.Received()) != 0 {
		t.Fatalf("refused calls reached the server: %+v", s.Received())
	}
}

func TestUnauthorizedHandshake(t *testing.T) {
	ctx := testCtx(t)
	s := newServer(t, clienttest.Config{Token: "good.jwt.token"})
	for _, tc := range []struct {
		name    string
		opts    Options
		wantErr bool
	}{
		{"no token", Options{}, true},
		{"bad header token", Options{Token: "bad.jwt.token"}, true},
		{"bad query token", Options{Token: "bad.jwt.token", TokenInQuery: true}, true},
		{"good header token", Options{Token: "good.jwt.token"}, false},
		{"good query token", Options{Token: "good.jwt.token", TokenInQuery: true}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var seen http.Header
			var query string
			tc.opts.HTTPClient = &http.Client{Transport: roundTripFunc(func(r *http.Request) (*http.Response, error) {
				seen, query = r.Header.Clone(), r.URL.Query().Get("token")
				return http.DefaultTransport.RoundTrip(r)
			})}
			c, err := Dial(ctx, s.URL, tc.opts)
			if !tc.wantErr {
				if err != nil {
					t.Fatal(err)
				}
				defer c.Close()
				if err := c.Ping(ctx); err != nil {
					t.Fatal(err)
				}
				if tc.opts.TokenInQuery && (query != tc.opts.Token || seen.Get("Authorization") != "") {
					t.Fatalf("query token %q, header %q", query, seen.Get("Authorization"))
				}
				if !tc.opts.TokenInQuery && (query != "" || seen.Get("Authorization") != "Bearer "+tc.opts.Token) {
					t.Fatalf("query token %q, header %q", query, seen.Get("Authorization"))
				}
				return
			}
			var he *HandshakeError
			if !errors.Is(err, ErrUnauthorized) || !errors.As(err, &he) || he.StatusCode != http.StatusUnauthorized ||
				he.Message != "invalid token" {
				t.Fatalf("dial: %v", err)
			}
			if tc.opts.Token != "" && strings.Contains(err.Error(), tc.opts.Token) {
				t.Fatalf("error leaks the token: %v", err)
			}
		})
	}
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// A refused handshake on reconnect ends the client at once: no retry loop
// even with unlimited attempts.
func TestUnauthorizedOnReconnectIsTerminal(t *testing.T) {
	ctx := testCtx(t)
	s := newServer(t, clienttest.Config{Token: "t1"})
	c := dial(t, ctx, s, Options{Token: "t1"})
	sub, err := c.Submit(ctx, "job", jobPayload(0, `,"hold":true`), RequestOptions{})
	if err != nil {
		t.Fatal(err)
	}
	errc := make(chan error, 1)
	go func() {
		_, err := c.Follow(ctx, sub.RequestID, 1, nil)
		errc <- err
	}()
	if _, err := s.Await(ctx, 1, func(r clienttest.Received) bool { return r.In.Action == protocol.ActionSubscribe }); err != nil {
		t.Fatal(err)
	}
	s.SetToken("t2") // the token was revoked
	s.DropAll()
	if err := <-errc; !errors.Is(err, ErrUnauthorized) {
		t.Fatalf("follow: %v", err)
	}
	if err := c.Ping(ctx); !errors.Is(err, ErrUnauthorized) {
		t.Fatalf("ping after: %v", err)
	}
	if !errors.Is(c.Err(), ErrUnauthorized) {
		t.Fatalf("Err() = %v", c.Err())
	}
	c.Close()
	if acc, refused := s.Handshakes(); acc != 1 || refused != 1 {
		t.Fatalf("handshakes accepted %d refused %d, want 1 and 1", acc, refused)
	}
}

func TestReconnectGivesUpAfterMaxAttempts(t *testing.T) {
	ctx := testCtx(t)
	s := clienttest.NewServer(clienttest.Config{})
	c := dial(t, ctx, s, Options{Reconnect: ReconnectPolicy{MaxAttempts: 3, MinBackoff: 1e6, MaxBackoff: 4e6}})
	if err := c.Ping(ctx); err != nil {
		t.Fatal(err)
	}
	s.Close()
	if err := c.Ping(ctx); !errors.Is(err, ErrReconnectFailed) {
		t.Fatalf("ping with the server gone: %v", err)
	}
}

func TestCloseEndsPendingCalls(t *testing.T) {
	ctx := testCtx(t)
	s := newServer(t, clienttest.Config{})
	c := dial(t, ctx, s, Options{})
	errc := make(chan error, 1)
	go func() {
		_, err := c.Request(ctx, "job", jobPayload(0, `,"hold":true`), RequestOptions{})
		errc <- err
	}()
	if _, err := s.Await(ctx, 1, func(r clienttest.Received) bool { return r.In.Action == "job" }); err != nil {
		t.Fatal(err)
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if err := <-errc; !errors.Is(err, ErrClosed) {
		t.Fatalf("pending request: %v", err)
	}
	if err := c.Ping(ctx); !errors.Is(err, ErrClosed) {
		t.Fatalf("ping after close: %v", err)
	}
	if err := c.Close(); err != nil {
		t.Fatalf("second close: %v", err)
	}
}

func TestDialContextIsTheClientsLifetime(t *testing.T) {
	s := newServer(t, clienttest.Config{})
	ctx, cancel := context.WithCancelCause(testCtx(t))
	c := dial(t, ctx, s, Options{})
	if err := c.Ping(ctx); err != nil {
		t.Fatal(err)
	}
	stop := errors.New("shutting down")
	cancel(stop)
	if err := c.Ping(testCtx(t)); !errors.Is(err, ErrClosed) || !errors.Is(err, stop) {
		t.Fatalf("ping after the context ended: %v", err)
	}
}

func TestCallerContextAbandonsOnlyItsCall(t *testing.T) {
	ctx := testCtx(t)
	s := newServer(t, clienttest.Config{})
	c := dial(t, ctx, s, Options{})
	sub, err := c.Submit(ctx, "job", jobPayload(0, `,"hold":true`), RequestOptions{})
	if err != nil {
		t.Fatal(err)
	}
	fctx, cancel := context.WithCancel(ctx)
	errc := make(chan error, 1)
	go func() {
		_, err := c.Follow(fctx, sub.RequestID, 1, nil)
		errc <- err
	}()
	if _, err := s.Await(ctx, 1, func(r clienttest.Received) bool { return r.In.Action == protocol.ActionSubscribe }); err != nil {
		t.Fatal(err)
	}
	cancel()
	if err := <-errc; !errors.Is(err, context.Canceled) {
		t.Fatalf("follow: %v", err)
	}
	// The abandoned follow unsubscribes; the client goes on.
	if _, err := s.Await(ctx, 1, func(r clienttest.Received) bool { return r.In.Action == protocol.ActionUnsubscribe }); err != nil {
		t.Fatal(err)
	}
	if err := c.Ping(ctx); err != nil {
		t.Fatal(err)
	}
}

// Callbacks run on the caller's goroutine, so they may call the client.
func TestCallbacksMayCallTheClient(t *testing.T) {
	ctx := testCtx(t)
	s := newServer(t, clienttest.Config{})
	c := dial(t, ctx, s, Options{})
	var views []string
	res, err := c.Request(ctx, "job", jobPayload(3, ""), RequestOptions{OnProgress: func(p Progress) {
		v, err := c.Status(ctx, p.RequestID)
		if err != nil {
			t.Error(err)
		}
		views = append(views, string(v))
	}})
	if err != nil || res.Status != StatusCompleted {
		t.Fatalf("%+v %v", res, err)
	}
	if len(views) != 3 {
		t.Fatalf("views %v", views)
	}
}

func TestTwoFollowersOfOneRequest(t *testing.T) {
	ctx := testCtx(t)
	s := newServer(t, clienttest.Config{DuplicateLive: true})
	c := dial(t, ctx, s, Options{})
	sub, err := c.Submit(ctx, "job", jobPayload(0, `,"hold":true`), RequestOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var recs [2]recorder
	var results [2]*Result
	var wg sync.WaitGroup
	for i := range recs {
		wg.Go(func() {
			res, err := c.Follow(ctx, sub.RequestID, 0, recs[i].onEvent)
			if err != nil {
				t.Error(err)
			}
			results[i] = res
		})
	}
	if _, err := s.Await(ctx, 2, func(r clienttest.Received) bool { return r.In.Action == protocol.ActionSubscribe }); err != nil {
		t.Fatal(err)
	}
	for i := 1; i <= 5; i++ {
		s.Emit(sub.RequestID, "request.progress", map[string]any{"percentage": i * 10})
	}
	s.Emit(sub.RequestID, "request.completed", map[string]any{})
	wg.Wait()
	for i := range recs {
		if results[i] == nil {
			t.FailNow()
		}
		assertExactlyOnce(t, s, &recs[i], results[i], 1, 7)
	}
}
