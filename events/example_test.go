package events_test

import (
	"fmt"
	"time"

	"github.com/streamer/streamer/events"
)

// Prepare is what every backend runs inside its append: rules, stamps and
// the hash chain. Here a progress event arrives before the request started.
func ExamplePrepare() {
	stream := events.RequestStream("r-1")
	_, _, err := events.Prepare(stream, events.Head{}, []events.Event{
		events.MustNew(events.RequestSubmitted, events.Submitted{Action: "generate_report", Owner: "alice"}, events.Meta{Actor: "alice"}),
		events.MustNew(events.RequestProgressed, events.Progress{Percentage: 10}, events.Meta{Actor: "worker"}),
	}, time.Now())
	fmt.Println(err)
	// Output: invalid transition: rule progress-before-start: request/r-1 request.progress at version 2 (status "queued"): progress needs a started request
}

// A repeated submit with the same idempotency key maps to the same request.
func ExampleRequestID() {
	a := events.RequestID("acme", "alice", "report-2026-11")
	b := events.RequestID("acme", "alice", "report-2026-11")
	fmt.Println(a == b, len(a))
	// Output: true 36
}
