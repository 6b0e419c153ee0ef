package tests

import (
	"context"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/streamer/streamer/client"
	"github.com/streamer/streamer/events"
	"github.com/streamer/streamer/protocol"
)

// runScenarios is the end-to-end suite every environment passes.
func runScenarios(t *testing.T, env Environment) {
	t.Run("SyncEcho", func(t *testing.T) { testSyncEcho(t, env) })
	t.Run("AsyncProgress", func(t *testing.T) { testAsyncProgress(t, env) })
	t.Run("Cancel", func(t *testing.T) { testCancel(t, env) })
	t.Run("FailingHandler", func(t *testing.T) { testFailingHandler(t, env) })
	t.Run("Authorization", func(t *testing.T) { testAuthorization(t, env) })
	t.Run("ResumeAfterKill", func(t *testing.T) { testResumeAfterKill(t, env) })
	t.Run("ReconnectMidBurst", func(t *testing.T) { testReconnectMidBurst(t, env) })
	t.Run("IdempotentSubmit", func(t *testing.T) { testIdempotentSubmit(t, env) })
}

func timeout(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

func testSyncEcho(t *testing.T, env Environment) {
	c := Dial(t, env, "alice", "acme")
	res, err := c.Request(timeout(t, 30*time.Second), "echo", map[string]any{"hello": "world", "n": 3}, client.RequestOptions{})
	if err != nil {
		t.Fatalf("echo: %v", err)
	}
	if res.Status != "completed" {
		t.Fatalf("status = %q, want completed (error %v)", res.Status, res.Error)
	}
	assertJSONEq(t, res.Result, `{"hello":"world","n":3}`)
	if res.RequestID == "" || res.Version < 3 {
		t.Fatalf("response requestId %q version %d: want an ID and version ≥ 3 (submitted, started, completed)", res.RequestID, res.Version)
	}
}

// checkStream asserts evs are versions from..to exactly once, in order,
// ending with a terminal event of type want.
func checkStream(t *testing.T, evs []client.Event, from int64, want string) {
	t.Helper()
	if len(evs) == 0 {
		t.Fatalf("no events")
	}
	for i, e := range evs {
		if e.Version != from+int64(i) {
			t.Fatalf("event %d has version %d, want %d (versions: %v)", i, e.Version, from+int64(i), versions(evs))
		}
	}
	last := evs[len(evs)-1]
	if last.Type != want {
		t.Fatalf("last event %s@%d, want %s", last.Type, last.Version, want)
	}
}

func versions(evs []client.Event) []int64 {
	out := make([]int64, len(evs))
	for i, e := range evs {
		out[i] = e.Version
	}
	return out
}

func testAsyncProgress(t *testing.T, env Environment) {
	c := Dial(t, env, "alice", "acme")
	var progress []client.Progress
	res, err := c.Request(timeout(t, 60*time.Second), "generate_report", map[string]any{"rows": 50}, client.RequestOptions{
		OnProgress: func(p client.Progress) { progress = append(progress, p) },
	})
	if err != nil {
		t.Fatalf("generate_report: %v", err)
	}
	if res.Status != "completed" {
		t.Fatalf("status = %q (error %v), want completed", res.Status, res.Error)
	}
	if len(progress) < 2 {
		t.Fatalf("got %d progress updates, want several", len(progress))
	}
	for i := 1; i < len(progress); i++ {
		if progress[i].Percentage < progress[i-1].Percentage {
			t.Fatalf("progress went backwards: %v then %v", progress[i-1].Percentage, progress[i].Percentage)
		}
	}
	if last := progress[len(progress)-1].Percentage; last != 100 {
		t.Fatalf("last progress %v, want 100", last)
	}
	checkStream(t, res.Events, 2, events.RequestCompleted)
	var result struct {
		Rows int `json:"rows"`
	}
	if err := json.Unmarshal(res.Result, &result); err != nil || result.Rows != 50 {
		t.Fatalf("result %s: want rows 50 (%v)", res.Result, err)
	}
}

func testCancel(t *testing.T, env Environment) {
	c := Dial(t, env, "alice", "acme")
	ctx := timeout(t, 60*time.Second)
	sub, err := c.Submit(ctx, "generate_report", map[string]any{"rows": 10, "stepDelay": "2s"}, client.RequestOptions{})
	if err != nil {
		t.Fatalf("submit: %v", err)
	}
	started := make(chan struct{})
	done := make(chan *client.Result, 1)
	errc := make(chan error, 1)
	go func() {
		var once bool
		res, err := c.Follow(ctx, sub.RequestID, 0, func(e client.Event) {
			if e.Type == events.RequestStarted && !once {
				once = true
				close(started)
			}
		})
		if err != nil {
			errc <- err
			return
		}
		done <- res
	}()
	select {
	case <-started:
	case err := <-errc:
		t.Fatalf("follow: %v", err)
	case <-ctx.Done():
		t.Fatal("request never started")
	}
	if _, err := c.Cancel(ctx, sub.RequestID, "changed my mind"); err != nil {
		t.Fatalf("cancel: %v", err)
	}
	select {
	case res := <-done:
		if res.Status != "cancelled" {
			t.Fatalf("status %q, want cancelled", res.Status)
		}
		checkStream(t, res.Events, 1, events.RequestCancelled)
	case err := <-errc:
		t.Fatalf("follow: %v", err)
	case <-ctx.Done():
		t.Fatal("cancel did not end the request")
	}
	// A finished request cannot be cancelled again.
	_, err = c.Cancel(ctx, sub.RequestID, "again")
	assertCode(t, err, protocol.CodeInvalidTransition)
}

func testFailingHandler(t *testing.T, env Environment) {
	c := Dial(t, env, "alice", "acme")
	res, err := c.Request(timeout(t, 60*time.Second), "fail", map[string]any{}, client.RequestOptions{})
	if err != nil {
		t.Fatalf("fail: %v", err)
	}
	if res.Status != "failed" || res.Error == nil || res.Error.Code != "demo_failure" {
		t.Fatalf("status %q error %+v, want failed with demo_failure", res.Status, res.Error)
	}
	checkStream(t, res.Events, 2, events.RequestFailed)
}

func assertCode(t *testing.T, err error, code string) {
	t.Helper()
	var pe *protocol.Error
	if !errors.As(err, &pe) {
		t.Fatalf("error %v, want a protocol error %s", err, code)
	}
	if pe.Code != code {
		t.Fatalf("error code %s (%s), want %s", pe.Code, pe.Message, code)
	}
}

func testAuthorization(t *testing.T, env Environment) {
	owner := Dial(t, env, "alice", "acme")
	ctx := timeout(t, 60*time.Second)
	sub, err := owner.Submit(ctx, "generate_report", map[string]any{"rows": 5, "stepDelay": "1s"}, client.RequestOptions{})
	if err != nil {
		t.Fatalf("submit: %v", err)
	}
	t.Cleanup(func() { owner.Cancel(context.Background(), sub.RequestID, "test over") })

	other := Dial(t, env, "mallory", "evil-corp")
	_, err = other.Follow(ctx, sub.RequestID, 0, nil)
	assertCode(t, err, protocol.CodeNotFound)
	_, err = other.Status(ctx, sub.RequestID)
	assertCode(t, err, protocol.CodeNotFound)
	_, err = other.Cancel(ctx, sub.RequestID, "sabotage")
	assertCode(t, err, protocol.CodeNotFound)

	colleague := Dial(t, env, "bob", "acme")
	_, err = colleague.Status(ctx, sub.RequestID)
	assertCode(t, err, protocol.CodeForbidden)
	_, err = colleague.Cancel(ctx, sub.RequestID, "not mine")
	assertCode(t, err, protocol.CodeForbidden)

	auditor := Dial(t, env, "carol", "acme", "audit:read")
	if _, err := auditor.Status(ctx, sub.RequestID); err != nil {
		t.Fatalf("auditor status: %v", err)
	}
	_, err = auditor.Cancel(ctx, sub.RequestID, "auditors only read")
	assertCode(t, err, protocol.CodeForbidden)

	// The owner's request is untouched by all that.
	st, err := owner.Status(ctx, sub.RequestID)
	if err != nil {
		t.Fatalf("owner status: %v", err)
	}
	var view struct {
		Status          string `json:"status"`
		CancelRequested bool   `json:"cancelRequested"`
	}
	if err := json.Unmarshal(st, &view); err != nil || view.CancelRequested {
		t.Fatalf("owner's view %s (%v): a refused cancel must not be recorded", st, err)
	}
}

// testResumeAfterKill: a client is killed mid-request; a new client of the
// same user subscribes with the last version the old one saw and, after
// dedupe, has every event exactly once.
func testResumeAfterKill(t *testing.T, env Environment) {
	ctx := timeout(t, 60*time.Second)
	first := Dial(t, env, "alice", "acme")
	sub, err := first.Submit(ctx, "generate_report", map[string]any{"rows": 20, "stepDelay": "100ms"}, client.RequestOptions{})
	if err != nil {
		t.Fatalf("submit: %v", err)
	}
	seen := make(chan client.Event, 1000)
	followCtx, stopFollow := context.WithCancel(ctx)
	go first.Follow(followCtx, sub.RequestID, 0, func(e client.Event) { seen <- e })
	var got []client.Event
	for len(got) < 3 {
		select {
		case e := <-seen:
			got = append(got, e)
		case <-ctx.Done():
			t.Fatalf("saw only %d events before the kill", len(got))
		}
	}
	first.Close() // killed: no unsubscribe, no goodbye
	stopFollow()
	last := got[len(got)-1].Version

	second := Dial(t, env, "alice", "acme")
	res, err := second.Follow(ctx, sub.RequestID, last, nil)
	if err != nil {
		t.Fatalf("resume: %v", err)
	}
	all := append(got, res.Events...)
	checkStream(t, dedupe(all), all[0].Version, events.RequestCompleted)
	if res.Events[0].Version != last+1 {
		t.Fatalf("resumed at version %d, want %d", res.Events[0].Version, last+1)
	}
}

func dedupe(evs []client.Event) []client.Event {
	var out []client.Event
	var hi int64
	for _, e := range evs {
		if e.Version > hi {
			out = append(out, e)
			hi = e.Version
		}
	}
	return out
}

// testReconnectMidBurst drops the socket while progress is streaming; the
// client reconnects by itself and resumes from its last version.
func testReconnectMidBurst(t *testing.T, env Environment) {
	ctx := timeout(t, 60*time.Second)
	c := Dial(t, env, "alice", "acme")
	dropped := false
	res, err := c.Request(ctx, "generate_report", map[string]any{"rows": 20, "stepDelay": "50ms"}, client.RequestOptions{
		OnEvent: func(e client.Event) {
			if e.Type == events.RequestProgressed && !dropped {
				dropped = true
				go c.Drop()
			}
		},
	})
	if err != nil {
		t.Fatalf("request across a drop: %v", err)
	}
	if !dropped {
		t.Fatal("the socket was never dropped")
	}
	checkStream(t, res.Events, 2, events.RequestCompleted)
}

func testIdempotentSubmit(t *testing.T, env Environment) {
	ctx := timeout(t, 60*time.Second)
	c := Dial(t, env, "alice", "acme")
	key := "report-" + time.Now().Format(time.RFC3339Nano)
	a, err := c.Submit(ctx, "generate_report", map[string]any{"rows": 3}, client.RequestOptions{IdempotencyKey: key})
	if err != nil {
		t.Fatalf("first submit: %v", err)
	}
	b, err := c.Submit(ctx, "generate_report", map[string]any{"rows": 3}, client.RequestOptions{IdempotencyKey: key})
	if err != nil {
		t.Fatalf("second submit: %v", err)
	}
	if a.RequestID != b.RequestID {
		t.Fatalf("same idempotency key gave two requests: %s and %s", a.RequestID, b.RequestID)
	}
	if !b.Duplicate {
		t.Fatal("second submit not marked duplicate")
	}
	res, err := c.Follow(ctx, a.RequestID, 0, nil)
	if err != nil {
		t.Fatalf("follow: %v", err)
	}
	checkStream(t, res.Events, 1, events.RequestCompleted)
}

func assertJSONEq(t *testing.T, got json.RawMessage, want string) {
	t.Helper()
	var g, w any
	if err := json.Unmarshal(got, &g); err != nil {
		t.Fatalf("result %s is not JSON: %v", got, err)
	}
	if err := json.Unmarshal([]byte(want), &w); err != nil {
		t.Fatal(err)
	}
	gb, _ := json.Marshal(g)
	wb, _ := json.Marshal(w)
	if string(gb) != string(wb) {
		t.Fatalf("got %s, want %s", gb, wb)
	}
}
