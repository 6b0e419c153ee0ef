package dynamodb_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/aws/smithy-go"

	"github.com/streamer/streamer/events"
	ddbstore "github.com/streamer/streamer/events/dynamodb"
)

// fastRetries keeps the fault tests quick while still backing off.
var fastRetries = ddbstore.WithRetryPolicy(ddbstore.RetryPolicy{MaxAttempts: 5, BaseDelay: time.Millisecond, MaxDelay: 10 * time.Millisecond})

// faultyStore is a Store on a fresh table whose client answers the first
// n calls of op with f (see injector), counting every call.
func faultyStore(t *testing.T, op string, n int, f fault) (*ddbstore.Store, *injector, *calls) {
	t.Helper()
	in := inject(op, n, f)
	c := &calls{}
	return ddbstore.New(client(t, in.apiOption, countCalls(c)), newTable(t), fastRetries), in, c
}

// TestThrottledAppendSucceedsOnce: DynamoDB throttles the write twice; the
// Store backs off, sends the same write again, and the append lands
// exactly once.
func TestThrottledAppendSucceedsOnce(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name string
		op   string
		f    fault
		evs  func() []events.Event
	}{
		{"PutItem ThrottlingException", "PutItem", throttling, func() []events.Event { return []events.Event{submitted()} }},
		{"PutItem ProvisionedThroughputExceededException", "PutItem", overLimit, func() []events.Event { return []events.Event{submitted()} }},
		{"TransactWriteItems ThrottlingException", "TransactWriteItems", throttling, func() []events.Event { return []events.Event{submitted(), started(1)} }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, in, _ := faultyStore(t, tc.op, 2, tc.f)
			stream := newStreamName()
			stored, err := s.Append(ctx, stream, 0, tc.evs()...)
			if err != nil {
				t.Fatalf("append: %v", err)
			}
			if in.calledTimes() != 3 {
				t.Fatalf("%s sent %d times, want 3 (two throttled, one through)", tc.op, in.calledTimes())
			}
			got := loadAll(t, s, stream)
			if len(got) != len(stored) || got[0].ID != stored[0].ID {
				t.Fatalf("stream holds %d events, want the %d appended once", len(got), len(stored))
			}
		})
	}
}

// TestThrottledReadsAreRetried: Query and GetItem are retried too.
func TestThrottledReadsAreRetried(t *testing.T) {
	ctx := context.Background()
	s, in, _ := faultyStore(t, "Query", 3, throttling)
	stream := newStreamName()
	if _, err := s.Append(ctx, stream, 0, submitted(), started(1)); err != nil {
		t.Fatal(err)
	}
	if got := loadAll(t, s, stream); len(got) != 2 || in.calledTimes() != 4 {
		t.Fatalf("loaded %d events with %d queries, want 2 with 4", len(got), in.calledTimes())
	}
	g, gin, _ := faultyStore(t, "GetItem", 1, overLimit)
	if _, err := g.Append(ctx, stream, 0, submitted()); err != nil {
		t.Fatal(err)
	}
	if _, err := g.Append(ctx, stream, 1, started(1)); err != nil || gin.calledTimes() != 2 {
		t.Fatalf("append after a throttled head read: %v, %d GetItem calls", err, gin.calledTimes())
	}
}

// TestThrottlingOutlastsTheRetries: when every attempt is throttled, the
// append fails with ErrTransient after the policy's attempts and writes
// nothing.
func TestThrottlingOutlastsTheRetries(t *testing.T) {
	ctx := context.Background()
	s, in, _ := faultyStore(t, "TransactWriteItems", 1000, throttling)
	stream := newStreamName()
	_, err := s.Append(ctx, stream, 0, submitted(), started(1))
	if !errors.Is(err, events.ErrTransient) {
		t.Fatalf("error %v, want ErrTransient", err)
	}
	var se *events.StoreError
	var api smithy.APIError
	if !errors.As(err, &se) || se.Op != "append" || !errors.As(err, &api) || api.ErrorCode() != "ThrottlingException" {
		t.Fatalf("error %v: want a StoreError wrapping the ThrottlingException", err)
	}
	if in.calledTimes() != 5 {
		t.Fatalf("%d attempts, want the policy's 5", in.calledTimes())
	}
	if _, err := s.Load(ctx, stream, 1, 0); !errors.Is(err, events.ErrStreamNotFound) {
		t.Fatalf("load after the failed append: %v, want ErrStreamNotFound", err)
	}
}

// TestThrottlingRespectsContext: a deadline ends the backoff.
func TestThrottlingRespectsContext(t *testing.T) {
	in := inject("PutItem", 1000, throttling)
	s := ddbstore.New(client(t, in.apiOption), newTable(t),
		ddbstore.WithRetryPolicy(ddbstore.RetryPolicy{MaxAttempts: 100, BaseDelay: 50 * time.Millisecond, MaxDelay: time.Second}))
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := s.Append(ctx, newStreamName(), 0, submitted())
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("error %v, want context.DeadlineExceeded", err)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Fatalf("append returned %v after the deadline", d)
	}
}

// TestAmbiguousWriteSucceedsOnce: the write reaches DynamoDB and commits,
// but its answer is lost (a 500 in its place). The retry then finds its
// own event at the version and reports success, not a conflict, and the
// stream holds the events once.
//
// Known moto divergence: moto ignores TransactWriteItems'
// ClientRequestToken, so there the retried transaction fails its
// conditions and the Store's check of the event ID at the first version
// recognises the earlier commit. On AWS the token (the same on every
// attempt) makes the retry itself succeed within DynamoDB's 10-minute
// idempotency window; the ID check remains the backstop for PutItem and
// for retries after the window.
func TestAmbiguousWriteSucceedsOnce(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		op  string
		evs []events.Event
	}{
		{"PutItem", []events.Event{submitted()}},
		{"TransactWriteItems", []events.Event{submitted(), started(1), progress(5, "")}},
	} {
		t.Run(tc.op, func(t *testing.T) {
			s, in, _ := faultyStore(t, tc.op, 1, lostReply)
			stream := newStreamName()
			stored, err := s.Append(ctx, stream, 0, tc.evs...)
			if err != nil {
				t.Fatalf("append whose first reply was lost: %v", err)
			}
			if in.calledTimes() != 2 {
				t.Fatalf("%s sent %d times, want 2", tc.op, in.calledTimes())
			}
			got := loadAll(t, s, stream)
			if len(got) != len(tc.evs) || got[0].ID != stored[0].ID {
				t.Fatalf("stream holds %d events, want %d", len(got), len(tc.evs))
			}
			// A real conflict after a lost reply is still a conflict.
			s2, _, _ := faultyStore(t, tc.op, 1, lostReply)
			other := newStreamName()
			if _, err := s2.Append(ctx, other, 0, submitted()); err != nil {
				t.Fatal(err)
			}
			if _, err := s2.Append(ctx, other, 0, tc.evs...); !errors.Is(err, events.ErrVersionConflict) {
				t.Fatalf("append onto a taken version: %v, want ErrVersionConflict", err)
			}
		})
	}
}

// TestOversizedEventRejectedBeforeAnyCall: an event over the limit never
// reaches DynamoDB.
func TestOversizedEventRejectedBeforeAnyCall(t *testing.T) {
	c := &calls{}
	s := ddbstore.New(client(t, countCalls(c)), newTable(t))
	for _, evs := range [][]events.Event{
		{bigProgress(1, 401*1024)},
		{submitted(), started(1), bigProgress(1, 401*1024)},
	} {
		_, err := s.Append(context.Background(), newStreamName(), 2, evs...)
		if !errors.Is(err, events.ErrEventTooLarge) {
			t.Fatalf("error %v, want ErrEventTooLarge", err)
		}
		var se *events.StoreError
		if !errors.As(err, &se) {
			t.Fatalf("error %v is not a StoreError", err)
		}
	}
	many := make([]events.Event, events.MaxAppendEvents+1)
	for i := range many {
		many[i] = progress(1, "")
	}
	if _, err := s.Append(context.Background(), newStreamName(), 2, many...); !errors.Is(err, events.ErrTooManyEvents) {
		t.Fatalf("error %v, want ErrTooManyEvents", err)
	}
	if _, err := s.Append(context.Background(), "orders/1", 0, submitted()); !errors.Is(err, events.ErrInvalidEvent) {
		t.Fatalf("error %v, want ErrInvalidEvent", err)
	}
	if n := c.total(); n != 0 {
		t.Fatalf("rejected appends made %d DynamoDB calls", n)
	}
}

// TestItemOverDynamoDBLimit: data whose envelope fits MaxEventSize (JSON
// compacts it) but whose stored bytes would not fit a 400 KB item is
// rejected before the write.
func TestItemOverDynamoDBLimit(t *testing.T) {
	c := &calls{}
	s := ddbstore.New(client(t, countCalls(c)), newTable(t))
	ctx := context.Background()
	stream := newStreamName()
	if _, err := s.Append(ctx, stream, 0, submitted(), started(1)); err != nil {
		t.Fatal(err)
	}
	padded := progress(1, "")
	padded.Data = append(append([]byte(`{"percentage": 1`), make([]byte, 405*1024)...), '}')
	for i := 16; i < len(padded.Data)-1; i++ {
		padded.Data[i] = ' '
	}
	before := c.get("PutItem")
	_, err := s.Append(ctx, stream, 2, padded)
	if !errors.Is(err, events.ErrEventTooLarge) {
		t.Fatalf("error %v, want ErrEventTooLarge", err)
	}
	if c.get("PutItem") != before {
		t.Fatal("the oversized item was sent to DynamoDB")
	}
}

// TestInvalidUTF8Rejected: DynamoDB strings are UTF-8; bytes that are not
// would be altered on the way, breaking the hash, so they are refused.
func TestInvalidUTF8Rejected(t *testing.T) {
	s := newStore(t)
	e := submitted()
	e.Meta.TraceID = "bad\xffbyte"
	if _, err := s.Append(context.Background(), newStreamName(), 0, e); !errors.Is(err, events.ErrInvalidEvent) {
		t.Fatalf("error %v, want ErrInvalidEvent", err)
	}
}
