package processor_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"reflect"
	"testing"

	awsevents "github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambdacontext"

	"github.com/streamer/streamer/events"
	"github.com/streamer/streamer/processor"
)

const fixtureRequest = "0b9c2f5e-3c1d-5a4e-9f00-1d2e3f4a5b6c"

// loadFixture reads an EventBridge event in the exact shape Lambda
// receives it and checks that it round-trips through awsevents'
// type unchanged (so the fixture is what the type describes).
func loadFixture(t *testing.T, file string) awsevents.EventBridgeEvent {
	t.Helper()
	raw, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	var ev awsevents.EventBridgeEvent
	if err := json.Unmarshal(raw, &ev); err != nil {
		t.Fatal(err)
	}
	back, err := json.Marshal(ev)
	if err != nil {
		t.Fatal(err)
	}
	var a, b any
	if err := json.Unmarshal(raw, &a); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(back, &b); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(a, b) {
		t.Fatalf("fixture does not round-trip:\n%s\n%s", bytes.TrimSpace(raw), back)
	}
	return ev
}

// storeFixtureRequest appends the fixture's submitted event (same ID, meta
// and data) to a fresh store, as the router would have.
func storeFixtureRequest(t *testing.T) (*processor.Processor, events.Store) {
	t.Helper()
	ev, err := events.Decode(loadFixture(t, "testdata/eventbridge-submitted.json").Detail)
	if err != nil {
		t.Fatal(err)
	}
	store := newStore(t)
	in := events.Event{ID: ev.ID, Type: ev.Type, Meta: ev.Meta, Data: ev.Data}
	if _, err := store.Append(context.Background(), ev.StreamID, 0, in); err != nil {
		t.Fatal(err)
	}
	return newProcessor(t, store, demoRouter(t), nil), store
}

func TestHandleEventBridgeEnvelope(t *testing.T) {
	p, store := storeFixtureRequest(t)
	ev := loadFixture(t, "testdata/eventbridge-submitted.json")
	ctx := lambdacontext.NewContext(testCtx(t), &lambdacontext.LambdaContext{AwsRequestID: "lambda-req-1"})
	if err := p.HandleEventBridge(ctx, ev); err != nil {
		t.Fatal(err)
	}
	evs := loadAll(t, store, fixtureRequest)
	if w := payload[*events.Started](t, evs[1]).Worker; w != "test/lambda-req-1" {
		t.Fatalf("worker %q", w)
	}
	c := payload[*events.Completed](t, last(t, evs))
	if string(c.Result) != `{"hello":"bus"}` {
		t.Fatalf("result %s", c.Result)
	}
	if evs[1].Meta.CorrelationID != "c-42" || evs[1].Meta.CausationID != "01a22029-0873-7748-be2e-dbe570447830" {
		t.Fatalf("meta %+v", evs[1].Meta)
	}
	// EventBridge delivers at least once: a duplicate does nothing.
	if err := p.HandleEventBridge(ctx, ev); err != nil {
		t.Fatal(err)
	}
	if n := len(loadAll(t, store, fixtureRequest)); n != len(evs) {
		t.Fatalf("duplicate delivery appended: %d events, was %d", n, len(evs))
	}
}

func TestHandleEventBridgeRef(t *testing.T) {
	p, store := storeFixtureRequest(t)
	if err := p.HandleEventBridge(testCtx(t), loadFixture(t, "testdata/eventbridge-ref.json")); err != nil {
		t.Fatal(err)
	}
	evs := loadAll(t, store, fixtureRequest)
	if last(t, evs).Type != events.RequestCompleted {
		t.Fatalf("events %v", typesOf(evs))
	}
	// A ref to an event that is not request.submitted is ignored (a ref to
	// progress must never start a new attempt); the type is the store's,
	// whatever the detail claims.
	ref := loadFixture(t, "testdata/eventbridge-ref.json")
	ref.Detail = json.RawMessage(`{"type":"request.submitted","ref":{"stream":"request/` + fixtureRequest + `","version":3}}`)
	if err := p.HandleEventBridge(testCtx(t), ref); err != nil {
		t.Fatal(err)
	}
	if n := len(loadAll(t, store, fixtureRequest)); n != len(evs) {
		t.Fatal("a ref to a later event changed the request")
	}
	// A ref to an event that does not exist is an error (retried).
	ref.Detail = json.RawMessage(`{"ref":{"stream":"request/` + fixtureRequest + `","version":99}}`)
	if err := p.HandleEventBridge(testCtx(t), ref); !errors.Is(err, events.ErrStreamNotFound) {
		t.Fatalf("missing ref: %v", err)
	}
}

func TestHandleEventBridgeOtherTypesAndBadDetails(t *testing.T) {
	p, store := storeFixtureRequest(t)
	ev := loadFixture(t, "testdata/eventbridge-submitted.json")
	var env map[string]any
	if err := json.Unmarshal(ev.Detail, &env); err != nil {
		t.Fatal(err)
	}
	env["type"], env["version"] = events.RequestCancelRequested, 2
	env["data"] = map[string]any{"reason": "x"}
	ev.Detail, _ = json.Marshal(env)
	ev.DetailType = events.RequestCancelRequested
	if err := p.HandleEventBridge(testCtx(t), ev); err != nil {
		t.Fatal(err)
	}
	if n := len(loadAll(t, store, fixtureRequest)); n != 1 {
		t.Fatalf("an event of another type ran the request: %d events", n)
	}
	for _, detail := range []string{``, `[]`, `"x"`, `{"ref":{"stream":"connection/c1","version":1}}`,
		`{"ref":{"stream":"request/a","version":0}}`, `{"id":"x"}`, `{"ref":"request/a"}`} {
		ev.Detail = json.RawMessage(detail)
		if err := p.HandleEventBridge(testCtx(t), ev); !errors.Is(err, processor.ErrInvalidDetail) {
			t.Fatalf("detail %q: %v", detail, err)
		}
	}
}

// An infrastructure failure is returned, so that Lambda retries.
func TestHandleEventBridgeStoreFailure(t *testing.T) {
	p, store := storeFixtureRequest(t)
	ev := loadFixture(t, "testdata/eventbridge-submitted.json")
	if err := store.(interface{ Close() error }).Close(); err != nil {
		t.Fatal(err)
	}
	if err := p.HandleEventBridge(testCtx(t), ev); err == nil {
		t.Fatal("a closed store gave no error")
	}
}
