package eventbridge_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/streamer/streamer/bus"
	"github.com/streamer/streamer/bus/bustest"
	"github.com/streamer/streamer/bus/eventbridge"
	"github.com/streamer/streamer/bus/subscriber"
	"github.com/streamer/streamer/events"
	"github.com/streamer/streamer/feed"
	"github.com/streamer/streamer/internal/awsrest"
	"github.com/streamer/streamer/schemas"
)

// projector stands in for the projector PublishAfter decorates: it
// processes everything.
var projector = feed.ConsumerFunc{ConsumerName: "projector", Fn: func(context.Context, []events.Event) []feed.Failure { return nil }}

// publishRun drives the run's events through PublishAfter(projector, pub)
// as the change feed would, until the feed has nothing left to retry.
func publishRun(t *testing.T, pub bus.Publisher, run bustest.Run) int {
	t.Helper()
	rounds, err := bustest.Drive(context.Background(), bus.PublishAfter(projector, pub), run.Events, 7, 200)
	if err != nil {
		t.Fatalf("drive the feed: %v", err)
	}
	return rounds
}

// checkCompleted asserts the Done-when of the issue: the queue of a rule on
// request.completed received exactly the completed requests of the run —
// none missing, nothing else — and duplicates only with the same event ID.
// Every received detail validates against its schema and decodes.
func checkCompleted(t *testing.T, tg target, run bustest.Run) {
	t.Helper()
	got := map[string]string{} // stream → ID of the completed event received
	dups := 0
	for _, ev := range tg.received(t) {
		if ev.Source != bus.DefaultSource || ev.DetailType != events.RequestCompleted {
			t.Fatalf("unexpected delivery: %s", describe(ev))
		}
		if err := schemas.ValidateDetail(ev.DetailType, ev.Detail); err != nil {
			t.Fatalf("schema: %v", err)
		}
		e, err := subscriber.Decode(ev)
		if err != nil {
			t.Fatalf("decode %s: %v", describe(ev), err)
		}
		if prev, ok := got[e.StreamID]; ok {
			if prev != e.ID {
				t.Fatalf("%s delivered two different completed events: %s and %s", e.StreamID, prev, e.ID)
			}
			dups++
		}
		got[e.StreamID] = e.ID
		if want, ok := run.Completed[e.StreamID]; !ok || want != e.ID {
			t.Fatalf("received %s of %s, which is not a completed event of the run", e.ID, e.StreamID)
		}
		p, err := events.PayloadAs[*events.Completed](e)
		if err != nil || !strings.Contains(string(p.Result), "example.com") {
			t.Fatalf("completed payload %v: %v", p, err)
		}
	}
	for stream := range run.Completed {
		if _, ok := got[stream]; !ok {
			t.Errorf("completed request %s never reached the queue", stream)
		}
	}
	t.Logf("%d completed requests received, %d duplicate deliveries", len(got), dups)
}

// TestCompletedRequestsReachTheQueue: a rule on request.completed delivers
// exactly the completed requests of a run to its SQS queue.
func TestCompletedRequestsReachTheQueue(t *testing.T) {
	_, run := newRun(t, 24)
	tg := newTarget(t, `{"source":["streamer"],"detail-type":["request.completed"]}`)
	f := &faults{}
	pub, err := eventbridge.New(f.over(t), eventbridge.Config{BusName: tg.bus})
	if err != nil {
		t.Fatal(err)
	}
	publishRun(t, pub, run)
	checkCompleted(t, tg, run)
	calls, entries, failed := f.counts()
	if failed != 0 {
		t.Fatalf("%d entries failed without faults", failed)
	}
	sum := 0
	for _, n := range entries {
		if n > bus.MaxBatchEntries {
			t.Fatalf("a PutEvents call carried %d entries", n)
		}
		sum += n
	}
	if sum != len(run.Events) {
		t.Fatalf("%d entries sent in %d calls, want each of the %d events once", sum, calls, len(run.Events))
	}
}

// TestFaultsEveryEventDelivered: PutEvents answers with partial failures
// (entries not accepted, and entries accepted but reported failed) and
// with throttling; every event of the run still reaches a rule matching
// all of streamer's events, and duplicates carry the same event ID.
func TestFaultsEveryEventDelivered(t *testing.T) {
	for _, tc := range []struct {
		name string
		f    *faults
	}{
		{"partial failures", &faults{dropCalls: 6, dropEvery: 3}},
		{"ambiguous failures", &faults{lieCalls: 6, lieEvery: 2}},
		{"throttling", &faults{throttle: 4}},
		{"all at once", &faults{dropCalls: 4, dropEvery: 2, lieCalls: 4, lieEvery: 3, throttle: 3}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, run := newRun(t, 5)
			tg := newTarget(t, `{"source":["streamer"]}`)
			pub, err := eventbridge.New(tc.f.over(t), eventbridge.Config{BusName: tg.bus, Backoff: fastBackoff, MaxBackoff: 10 * fastBackoff})
			if err != nil {
				t.Fatal(err)
			}
			publishRun(t, pub, run)
			byID := run.ByID()
			seen := map[string]int{}
			for _, ev := range tg.received(t) {
				if err := schemas.ValidateDetail(ev.DetailType, ev.Detail); err != nil {
					t.Fatalf("schema: %v", err)
				}
				e, err := subscriber.Decode(ev)
				if err != nil {
					t.Fatalf("decode: %v", err)
				}
				orig, ok := byID[e.ID]
				if !ok || orig.StreamID != e.StreamID || orig.Version != e.Version || orig.Hash != e.Hash {
					t.Fatalf("received %s (%s@%d), not an event of the run", e.ID, e.StreamID, e.Version)
				}
				seen[e.ID]++
			}
			dups := 0
			for _, e := range run.Events {
				if seen[e.ID] == 0 {
					t.Errorf("event %s (%s@%d %s) was never delivered", e.ID, e.StreamID, e.Version, e.Type)
				}
				dups += max(0, seen[e.ID]-1)
			}
			_, _, failed := tc.f.counts()
			if tc.f.throttle != 0 || tc.f.dropCalls != 0 || tc.f.lieCalls != 0 {
				t.Fatalf("not every planned fault was injected: %+v", tc.f)
			}
			t.Logf("%d events, %d entries failed by the faults, %d duplicate deliveries", len(run.Events), failed, dups)
		})
	}
}

// TestPermanentEntryFailureIsReported: an entry EventBridge rejects as
// invalid is not retried and Publish names exactly that event; the others
// of the batch are published.
func TestPermanentEntryFailureIsReported(t *testing.T) {
	_, run := newRun(t, 4)
	tg := newTarget(t, `{"source":["streamer"]}`)
	bad := run.Events[3]
	f := &faults{permanentID: bad.ID}
	pub, err := eventbridge.New(f.over(t), eventbridge.Config{BusName: tg.bus, Backoff: fastBackoff})
	if err != nil {
		t.Fatal(err)
	}
	err = pub.Publish(context.Background(), run.Events[:8])
	var pe *bus.PublishError
	if !errors.As(err, &pe) || !errors.Is(err, bus.ErrNotPublished) {
		t.Fatalf("error %v, want a *bus.PublishError", err)
	}
	var ee *eventbridge.EntryError
	if ids := pe.IDs(); len(ids) != 1 || ids[0] != bad.ID || !errors.As(err, &ee) || ee.Code != "InvalidArgument" {
		t.Fatalf("failed %v (%v), want only %s with InvalidArgument", pe.IDs(), err, bad.ID)
	}
	if calls, _, _ := f.counts(); calls != 1 {
		t.Fatalf("%d PutEvents calls, want 1: a permanent error is not retried", calls)
	}
	if got := len(tg.received(t)); got != 7 {
		t.Fatalf("%d events delivered, want the 7 others", got)
	}
}

// TestThrottlingOutlastsTheRetries: when every call is throttled, Publish
// gives up after Retries and names every event; nothing was delivered.
func TestThrottlingOutlastsTheRetries(t *testing.T) {
	_, run := newRun(t, 2)
	tg := newTarget(t, `{"source":["streamer"]}`)
	f := &faults{throttle: 1000}
	pub, err := eventbridge.New(f.over(t), eventbridge.Config{BusName: tg.bus, Retries: 3, Backoff: fastBackoff})
	if err != nil {
		t.Fatal(err)
	}
	err = pub.Publish(context.Background(), run.Events)
	var pe *bus.PublishError
	var api *awsrest.APIError
	if !errors.As(err, &pe) || len(pe.Failed) != len(run.Events) || !errors.As(err, &api) || api.Code != "ThrottlingException" || api.StatusCode != 400 {
		t.Fatalf("error %v: want every event failed with the ThrottlingException", err)
	}
	if calls, _, _ := f.counts(); calls != 4*((len(run.Events)+9)/10) {
		t.Fatalf("%d calls for %d events, want 1 + 3 retries per batch of ten", calls, len(run.Events))
	}
	if got := len(tg.received(t)); got != 0 {
		t.Fatalf("%d events delivered", got)
	}
}

// TestOversizeEventIsPublishedAsReference: with the legacy 256 KiB limit,
// an event whose entry is larger goes on the bus as a reference that the
// subscriber resolves from the store; with the 1 MiB limit the same event
// goes whole.
func TestOversizeEventIsPublishedAsReference(t *testing.T) {
	ctx := context.Background()
	store, _ := newRun(t, 0)
	stream := events.RequestStream(events.NewID())
	meta := events.Meta{Actor: "alice", Tenant: "acme"}
	stored, err := store.Append(ctx, stream, 0,
		events.MustNew(events.RequestSubmitted, events.Submitted{Action: "echo", Owner: "alice", Tenant: "acme"}, meta),
		events.MustNew(events.RequestStarted, events.Started{Attempt: 1}, meta),
		events.MustNew(events.RequestProgressed, events.Progress{Percentage: 50, Message: strings.Repeat("x", 300_000)}, meta))
	if err != nil {
		t.Fatal(err)
	}
	big := stored[2]

	tg := newTarget(t, `{"source":["streamer"],"detail-type":["request.progress"]}`)
	f := &faults{}
	pub, err := eventbridge.New(f.over(t), eventbridge.Config{BusName: tg.bus, MaxEntrySize: bus.LegacyMaxEntrySize})
	if err != nil {
		t.Fatal(err)
	}
	if err := pub.Publish(ctx, stored); err != nil {
		t.Fatal(err)
	}
	got := tg.received(t)
	if len(got) != 1 {
		t.Fatalf("%d deliveries, want the one progress event", len(got))
	}
	if len(got[0].Detail) > 1024 {
		t.Fatalf("detail of %d bytes: not a reference", len(got[0].Detail))
	}
	if err := schemas.ValidateDetail(got[0].DetailType, got[0].Detail); err != nil {
		t.Fatalf("schema: %v", err)
	}
	_, err = subscriber.Decode(got[0])
	var ref *subscriber.RefError
	if !errors.As(err, &ref) || ref.Stream != stream || ref.Version != 3 || ref.ID != big.ID {
		t.Fatalf("decode: %v, want a RefError to %s@3", err, stream)
	}
	e, err := subscriber.Resolve(ctx, got[0], store)
	if err != nil || e.ID != big.ID || string(e.Data) != string(big.Data) {
		t.Fatalf("resolve: %v", err)
	}

	// The 1 MiB limit takes the event whole (on a bus without rules: moto's
	// SQS refuses messages over 256 KiB).
	whole := &faults{}
	pub, err = eventbridge.New(whole.over(t), eventbridge.Config{BusName: newBus(t)})
	if err != nil {
		t.Fatal(err)
	}
	if err := pub.Publish(ctx, []events.Event{big}); err != nil {
		t.Fatal(err)
	}
	if len(whole.details) != 1 || len(whole.details[0]) < 300_000 {
		t.Fatalf("sent %d details, want the whole event", len(whole.details))
	}
}

// TestBatchesRespectTheRequestSize: entries are packed in order into calls
// of at most ten entries and MaxRequestSize bytes.
func TestBatchesRespectTheRequestSize(t *testing.T) {
	_, run := newRun(t, 4)
	for _, tc := range []struct {
		name    string
		maxReq  int
		minCall int
	}{
		{"ten per call", 0, (len(run.Events) + 9) / 10},
		{"size bound", 4096, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tg := newTarget(t, `{"source":["streamer"]}`)
			f := &faults{}
			pub, err := eventbridge.New(f.over(t), eventbridge.Config{BusName: tg.bus, MaxEntrySize: tc.maxReq, MaxRequestSize: tc.maxReq})
			if err != nil {
				t.Fatal(err)
			}
			if err := pub.Publish(context.Background(), run.Events); err != nil {
				t.Fatal(err)
			}
			calls, entries, _ := f.counts()
			if tc.minCall > 0 && calls != tc.minCall {
				t.Fatalf("%d calls, want %d", calls, tc.minCall)
			}
			for i, n := range entries {
				if n > bus.MaxBatchEntries || (tc.maxReq > 0 && f.sizes[i] > tc.maxReq) {
					t.Fatalf("call %d: %d entries, %d bytes", i, n, f.sizes[i])
				}
			}
			if tc.maxReq > 0 && calls <= (len(run.Events)+9)/10 {
				t.Fatalf("%d calls: the size bound did not split any batch", calls)
			}
			if got := len(tg.received(t)); got != len(run.Events) {
				t.Fatalf("%d delivered, want %d", got, len(run.Events))
			}
		})
	}
}

func TestConfigValidate(t *testing.T) {
	if err := (eventbridge.Config{}).Validate(); err != nil {
		t.Fatalf("zero config: %v", err)
	}
	err := eventbridge.Config{MaxEntrySize: 100, MaxRequestSize: 50, Retries: -1, Backoff: -1, Source: strings.Repeat("s", 300)}.Validate()
	for _, want := range []string{"Source", "MaxEntrySize", "MaxRequestSize", "Retries", "Backoff"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error %v does not mention %s", err, want)
		}
	}
	if _, err := eventbridge.New(nil, eventbridge.Config{}); err == nil {
		t.Error("New(nil) succeeded")
	}
}
