// Package feed is streamer's change feed contract, modelled on Lambda's
// DynamoDB Streams event source mapping: a consumer receives batches of
// events, at least once, in version order per stream, and reports a partial
// batch failure by naming the first failed event of each stream it could not
// process. The feed then delivers that event and every later event of the
// same stream again (other streams move on), up to a bounded number of
// attempts, after which the event goes to a failure destination with its
// error, exactly as Lambda's on-failure destination keeps the record.
//
// Three feeds implement the contract: the local tailer over the SQLite log
// (feed/local), the Lambda adapter for awsevents.DynamoDBEvent (feed/lambda)
// and the DynamoDB Streams poller that drives that same Lambda handler
// (feed/streams).
package feed

import (
	"context"

	"github.com/streamer/streamer/events"
)

// Consumer processes batches of events from a feed.
type Consumer interface {
	// Name identifies the consumer (its checkpoint key locally).
	Name() string
	// Handle processes evs, which are in version order per stream. It
	// returns nil when every event was processed, or one Failure per stream
	// that failed, naming the first event of that stream that was not
	// processed; that event and every later event of its stream in the batch
	// count as not processed and are delivered again. Handle must be
	// idempotent: any event may be delivered more than once.
	Handle(ctx context.Context, evs []events.Event) []Failure
}

// Failure names the first event of a stream a consumer could not process.
type Failure struct {
	EventID string // events.Event.ID of the first unprocessed event of its stream
	Stream  string
	Version int64
	Err     error
}

// ConsumerFunc adapts a function to a Consumer.
type ConsumerFunc struct {
	ConsumerName string
	Fn           func(ctx context.Context, evs []events.Event) []Failure
}

func (c ConsumerFunc) Name() string { return c.ConsumerName }

func (c ConsumerFunc) Handle(ctx context.Context, evs []events.Event) []Failure {
	return c.Fn(ctx, evs)
}

// FailStream builds the Failure for ev.
func FailStream(ev events.Event, err error) Failure {
	return Failure{EventID: ev.ID, Stream: ev.StreamID, Version: ev.Version, Err: err}
}
