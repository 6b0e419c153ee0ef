// Command subscriber is an example Lambda function for an EventBridge rule
// on streamer's completed requests:
//
//	{"source": ["streamer"], "detail-type": ["request.completed"]}
//
// It decodes each event with bus/subscriber and logs the completed
// request. Deliveries are at least once, so it remembers the event IDs it
// has seen in this instance and skips repeats; a real subscriber keeps
// them in a table with a conditional write. An event too large for the bus
// arrives as a reference, which it logs (give it an events.Store and use
// subscriber.Resolve to load such events).
package main

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"os"
	"sync"

	awsevents "github.com/aws/aws-lambda-go/events"
	awslambda "github.com/aws/aws-lambda-go/lambda"

	"github.com/streamer/streamer/bus/subscriber"
	"github.com/streamer/streamer/events"
)

// seen holds the IDs of the events this instance has handled.
var seen sync.Map

func handle(ctx context.Context, ev awsevents.EventBridgeEvent) error {
	e, completed, err := subscriber.Payload[*events.Completed](ev)
	var ref *subscriber.RefError
	switch {
	case errors.As(err, &ref):
		slog.InfoContext(ctx, "completed request too large for the bus", "event_id", ref.ID, "stream", ref.Stream, "version", ref.Version)
		return nil
	case err != nil:
		// Not a streamer event of this type: returning an error would make
		// EventBridge retry it for nothing.
		slog.ErrorContext(ctx, "undecodable event", "eventbridge_id", ev.ID, "detail_type", ev.DetailType, "error", err)
		return nil
	}
	if _, dup := seen.LoadOrStore(e.ID, true); dup {
		slog.InfoContext(ctx, "duplicate delivery skipped", "event_id", e.ID)
		return nil
	}
	_, requestID, _ := events.ParseStream(e.StreamID)
	slog.InfoContext(ctx, "request completed",
		"request_id", requestID, "event_id", e.ID, "version", e.Version, "tenant", e.Meta.Tenant,
		"owner", e.Meta.Actor, "time", e.Time, "result_bytes", len(completed.Result), "result_is_json", json.Valid(completed.Result))
	return nil
}

func main() {
	slog.SetDefault(slog.New(slog.NewJSONHandler(os.Stdout, nil)))
	awslambda.Start(handle)
}
