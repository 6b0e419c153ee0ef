// Package bustest makes realistic runs of streamer events for the tests of
// the bus packages, the schemas and their subscribers: requests that
// complete, fail, are cancelled or time out, and a connection's lifecycle,
// appended to a real event store so that every envelope field is stamped
// as in production.
package bustest

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/streamer/streamer/events"
)

// Run is what AppendRun appended.
type Run struct {
	Events    []events.Event    // every stored event, in append order
	Completed map[string]string // stream of each completed request → ID of its request.completed
	Streams   []string          // every stream, in creation order
}

// ByID indexes the run's events by ID.
func (r Run) ByID() map[string]events.Event {
	m := make(map[string]events.Event, len(r.Events))
	for _, e := range r.Events {
		m[e.ID] = e
	}
	return m
}

// AppendRun appends n requests and one connection to store. Request i ends
// by outcome i%4: completed (after two progress events), failed, cancelled
// (after a cancel request), timed out. With n ≥ 4 every event type occurs.
func AppendRun(ctx context.Context, store events.Store, n int) (Run, error) {
	run := Run{Completed: map[string]string{}}
	meta := events.Meta{Actor: "alice", Tenant: "acme", Source: "bustest", CorrelationID: events.NewID()}
	deadline := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	appendTo := func(stream string, evs ...events.Event) error {
		var expected int64
		for _, e := range evs {
			stored, err := store.Append(ctx, stream, expected, e)
			if err != nil {
				return fmt.Errorf("append %s@%d %s: %w", stream, expected+1, e.Type, err)
			}
			expected++
			run.Events = append(run.Events, stored...)
		}
		run.Streams = append(run.Streams, stream)
		return nil
	}
	for i := range n {
		id := events.NewID()
		stream := events.RequestStream(id)
		evs := []events.Event{events.MustNew(events.RequestSubmitted, events.Submitted{
			Action: "generate_report", Payload: json.RawMessage(fmt.Sprintf(`{"pages":%d,"title":"Report <%d> & co"}`, i+1, i)),
			Owner: "alice", Tenant: "acme", IdempotencyKey: fmt.Sprintf("k-%d", i), Deadline: &deadline,
		}, meta)}
		switch i % 4 {
		case 0:
			evs = append(evs,
				events.MustNew(events.RequestStarted, events.Started{Attempt: 1, Worker: "w-1"}, meta),
				events.MustNew(events.RequestProgressed, events.Progress{Percentage: 10, Message: "Rendering page 1"}, meta),
				events.MustNew(events.RequestProgressed, events.Progress{Percentage: 60.5, Metadata: map[string]any{"page": 3}}, meta),
				events.MustNew(events.RequestCompleted, events.Completed{Result: json.RawMessage(fmt.Sprintf(`{"url":"https://example.com/r/%d.pdf","pages":%d}`, i, i+1))}, meta))
		case 1:
			evs = append(evs,
				events.MustNew(events.RequestStarted, events.Started{Attempt: 1}, meta),
				events.MustNew(events.RequestFailed, events.Failed{Code: "handler_error", Message: "boom", Retryable: true, Attempt: 1}, meta))
		case 2:
			evs = append(evs,
				events.MustNew(events.RequestCancelRequested, events.CancelRequested{Reason: "changed my mind", By: "alice"}, meta),
				events.MustNew(events.RequestCancelled, events.Cancelled{Reason: "changed my mind"}, meta))
		case 3:
			evs = append(evs,
				events.MustNew(events.RequestStarted, events.Started{Attempt: 1}, meta),
				events.MustNew(events.RequestTimedOut, events.TimedOut{Deadline: deadline, LastSeenAt: time.Now().UTC()}, meta))
		}
		if err := appendTo(stream, evs...); err != nil {
			return run, err
		}
		if i%4 == 0 {
			run.Completed[stream] = run.Events[len(run.Events)-1].ID
		}
	}
	conn := events.ConnectionStream(events.NewID())
	reqID := "r-1"
	if err := appendTo(conn,
		events.MustNew(events.ConnectionOpened, events.Opened{User: "alice", Tenant: "acme", Source: "websocket ip=127.0.0.1 ua=test", Permissions: []string{"audit:read"}}, meta),
		events.MustNew(events.ConnectionSubscribed, events.Subscribed{RequestID: reqID, FromVersion: 0}, meta),
		events.MustNew(events.ConnectionUnsubscribed, events.Unsubscribed{RequestID: reqID}, meta),
		events.MustNew(events.ConnectionClosed, events.Closed{Reason: events.CloseGone}, meta),
	); err != nil {
		return run, err
	}
	return run, nil
}

// Batches splits evs into feed batches of at most size events.
func Batches(evs []events.Event, size int) [][]events.Event {
	var out [][]events.Event
	for len(evs) > 0 {
		n := min(size, len(evs))
		out = append(out, evs[:n])
		evs = evs[n:]
	}
	return out
}
