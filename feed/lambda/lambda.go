// Package lambda adapts a feed.Consumer to a Lambda function fed by a
// DynamoDB Streams event source mapping with ReportBatchItemFailures: it
// turns an awsevents.DynamoDBEvent into our events, calls the consumer, and
// answers with awsevents.DynamoDBEventResponse naming, for each failed stream,
// the sequence number of its first unprocessed record. Lambda then retries
// from the lowest reported sequence number (records after it, including
// other streams', are delivered again — harmless, consumers are idempotent)
// until the mapping's retry limit, then sends the batch to its on-failure
// destination.
//
// The same function is driven in tests and by `streamer dev --aws-endpoint`
// through feed/streams, which builds the exact payload Lambda sends.
package lambda

import (
	"context"
	"fmt"
	"log/slog"

	awsevents "github.com/aws/aws-lambda-go/events"

	"github.com/streamer/streamer/events"
	"github.com/streamer/streamer/feed"
)

// DecodeFunc turns a stream record's NewImage into an event
// (events/dynamodb.UnmarshalStreamImage).
type DecodeFunc func(map[string]awsevents.DynamoDBAttributeValue) (events.Event, error)

// Handler is the Lambda handler signature for DynamoDB Streams with partial
// batch responses.
type Handler func(ctx context.Context, ev awsevents.DynamoDBEvent) (awsevents.DynamoDBEventResponse, error)

// NewHandler returns the Lambda handler that feeds c.
//
// Records that are not INSERTs are skipped with a warning: events are
// immutable, so a MODIFY or REMOVE on the events table is an operator action
// (or tampering, which the audit chain reveals), never a new event. A record
// whose image does not decode is reported as a failure — it is retried and
// then lands in the failure destination, never dropped silently — and so are
// the later records of its stream in the batch.
func NewHandler(c feed.Consumer, decode DecodeFunc, logger *slog.Logger) Handler {
	if logger == nil {
		logger = slog.Default()
	}
	return func(ctx context.Context, in awsevents.DynamoDBEvent) (awsevents.DynamoDBEventResponse, error) {
		var resp awsevents.DynamoDBEventResponse
		evs := make([]events.Event, 0, len(in.Records))
		seqOf := make(map[string]string, len(in.Records)) // event ID → sequence number
		poisoned := map[string]bool{}                     // streams with an undecodable record
		for _, r := range in.Records {
			if r.EventName != "INSERT" {
				logger.WarnContext(ctx, "skipping non-INSERT record on the events table",
					"eventName", r.EventName, "sequenceNumber", r.Change.SequenceNumber, "keys", keyString(r.Change.Keys))
				continue
			}
			e, err := decode(r.Change.NewImage)
			if err != nil {
				stream := streamKey(r.Change.Keys)
				logger.ErrorContext(ctx, "undecodable stream record", "sequenceNumber", r.Change.SequenceNumber, "keys", keyString(r.Change.Keys), "err", err)
				if !poisoned[stream] {
					resp.BatchItemFailures = append(resp.BatchItemFailures, awsevents.DynamoDBBatchItemFailure{ItemIdentifier: r.Change.SequenceNumber})
				}
				poisoned[stream] = true
				continue
			}
			if poisoned[e.StreamID] {
				continue // waits behind its stream's failed record
			}
			seqOf[e.ID] = r.Change.SequenceNumber
			evs = append(evs, e)
		}
		if len(evs) == 0 {
			return resp, nil
		}
		for _, f := range c.Handle(ctx, evs) {
			seq, ok := seqOf[f.EventID]
			if !ok {
				// A consumer naming an event it was not given is a bug; fail
				// the whole batch so nothing is lost.
				return awsevents.DynamoDBEventResponse{}, fmt.Errorf("consumer %s reported unknown event %s (%s@%d)", c.Name(), f.EventID, f.Stream, f.Version)
			}
			logger.WarnContext(ctx, "consumer failed a stream", "consumer", c.Name(), "stream", f.Stream, "version", f.Version, "err", f.Err)
			resp.BatchItemFailures = append(resp.BatchItemFailures, awsevents.DynamoDBBatchItemFailure{ItemIdentifier: seq})
		}
		return resp, nil
	}
}

func streamKey(keys map[string]awsevents.DynamoDBAttributeValue) string {
	if a, ok := keys["stream"]; ok && a.DataType() == awsevents.DataTypeString {
		return a.String()
	}
	return ""
}

func keyString(keys map[string]awsevents.DynamoDBAttributeValue) string {
	s, v := streamKey(keys), ""
	if a, ok := keys["version"]; ok && a.DataType() == awsevents.DataTypeNumber {
		v = a.Number()
	}
	return s + "@" + v
}
