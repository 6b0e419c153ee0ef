package projections_test

import (
	"fmt"
	"time"

	"github.com/streamer/streamer/events"
	"github.com/streamer/streamer/projections"
)

// The version guard: what a view at version 3 does with events 2, 4 and 6.
func ExampleGuard() {
	fmt.Println(projections.Guard(3, 2), projections.Guard(3, 4), projections.Guard(3, 6))
	// Output: skip apply gap
}

// A request view is the fold of its stream's events.
func ExampleApplyRequest() {
	m := events.Meta{Actor: "alice", Tenant: "acme"}
	stored, _, err := events.Prepare(events.RequestStream("r-1"), events.Head{}, []events.Event{
		events.MustNew(events.RequestSubmitted, events.Submitted{Action: "generate_report", Owner: "alice"}, m),
		events.MustNew(events.RequestStarted, events.Started{Attempt: 1}, m),
		events.MustNew(events.RequestProgressed, events.Progress{Percentage: 40, Message: "halfway there"}, m),
	}, time.Date(2026, 11, 28, 3, 0, 0, 0, time.UTC))
	if err != nil {
		panic(err)
	}
	var v projections.RequestView
	for _, e := range stored {
		if v, err = projections.ApplyRequest(v, e); err != nil {
			panic(err)
		}
	}
	fmt.Printf("%s %s %s %.0f%% %q v%d\n", v.RequestID, v.Tenant, v.Status, v.Percentage, v.Message, v.Version)
	// Output: r-1 acme running 40% "halfway there" v3
}
