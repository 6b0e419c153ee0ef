package subscriber_test

import (
	"context"
	"encoding/json"
	"errors"
	"path/filepath"
	"testing"
	"time"

	awsevents "github.com/aws/aws-lambda-go/events"

	"github.com/streamer/streamer/bus"
	"github.com/streamer/streamer/bus/bustest"
	"github.com/streamer/streamer/bus/subscriber"
	"github.com/streamer/streamer/events"
	evsqlite "github.com/streamer/streamer/events/sqlite"
)

func newRun(t *testing.T) (*evsqlite.Store, bustest.Run) {
	t.Helper()
	store, err := evsqlite.Open(filepath.Join(t.TempDir(), "events.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	run, err := bustest.AppendRun(context.Background(), store, 4)
	if err != nil {
		t.Fatal(err)
	}
	return store, run
}

func onBus(t *testing.T, e events.Event, ref bool) awsevents.EventBridgeEvent {
	t.Helper()
	detail, err := bus.Detail(e)
	if ref {
		detail, err = bus.RefDetailOf(e)
	}
	if err != nil {
		t.Fatal(err)
	}
	return bus.EventBridgeEvent(e, "eb-id", "streamer", "123456789012", "us-east-1", detail)
}

func TestDecodeEveryEvent(t *testing.T) {
	_, run := newRun(t)
	for _, e := range run.Events {
		got, err := subscriber.Decode(onBus(t, e, false))
		if err != nil {
			t.Fatalf("%s: %v", e.Type, err)
		}
		if got.ID != e.ID || got.StreamID != e.StreamID || got.Version != e.Version || got.Hash != e.Hash || !got.Time.Equal(e.Time) || got.Meta != e.Meta {
			t.Fatalf("%s: decoded %+v, want %+v", e.Type, got, e)
		}
	}
}

func TestDecodeUpcasts(t *testing.T) {
	e := events.Event{ID: events.NewID(), StreamID: events.RequestStream("r"), Version: 3, Type: events.RequestProgressed, SchemaVersion: 1,
		Time: time.Now().UTC(), Data: json.RawMessage(`{"percent":30,"status":"rendering"}`), Hash: "h"}
	got, p, err := subscriber.Payload[*events.Progress](onBus(t, e, false))
	if err != nil {
		t.Fatal(err)
	}
	if got.SchemaVersion != 2 || p.Percentage != 30 || p.Message != "rendering" {
		t.Fatalf("upcast: schema %d, payload %+v", got.SchemaVersion, p)
	}
}

func TestReferences(t *testing.T) {
	store, run := newRun(t)
	e := run.Events[4] // request.completed of the first request
	ev := onBus(t, e, true)
	_, err := subscriber.Decode(ev)
	var ref *subscriber.RefError
	if !errors.As(err, &ref) || !errors.Is(err, subscriber.ErrRef) || ref.Stream != e.StreamID || ref.Version != e.Version || ref.ID != e.ID || ref.Type != e.Type {
		t.Fatalf("decode reference: %v", err)
	}
	got, err := subscriber.Resolve(context.Background(), ev, store)
	if err != nil || got.ID != e.ID || string(got.Data) != string(e.Data) {
		t.Fatalf("resolve: %v", err)
	}
	// Resolve passes full events through.
	if got, err := subscriber.Resolve(context.Background(), onBus(t, run.Events[0], false), store); err != nil || got.ID != run.Events[0].ID {
		t.Fatalf("resolve a full event: %v", err)
	}
	// A reference to something else than what the store holds.
	wrong := e
	wrong.ID = events.NewID()
	if _, err := subscriber.Resolve(context.Background(), onBus(t, wrong, true), store); !errors.Is(err, subscriber.ErrNotStreamerEvent) {
		t.Fatalf("resolve a mismatched reference: %v", err)
	}

	var handled []string
	h := subscriber.Handler(store, func(_ context.Context, e events.Event, p *events.Completed) error {
		handled = append(handled, string(p.Result))
		return nil
	})
	if err := h(context.Background(), ev); err != nil || len(handled) != 1 {
		t.Fatalf("handler on a reference: %v", err)
	}
	if err := subscriber.Handler(nil, func(context.Context, events.Event, *events.Completed) error { return nil })(context.Background(), ev); !errors.As(err, &ref) {
		t.Fatalf("handler without a store on a reference: %v", err)
	}
	if err := h(context.Background(), onBus(t, run.Events[0], false)); err == nil {
		t.Fatal("a Completed handler accepted a request.submitted")
	}
}

func TestDecodeRejects(t *testing.T) {
	_, run := newRun(t)
	good := onBus(t, run.Events[0], false)
	for _, tc := range []struct {
		name string
		mod  func(*awsevents.EventBridgeEvent)
	}{
		{"empty detail", func(ev *awsevents.EventBridgeEvent) { ev.Detail = nil }},
		{"array detail", func(ev *awsevents.EventBridgeEvent) { ev.Detail = json.RawMessage(`[]`) }},
		{"foreign detail", func(ev *awsevents.EventBridgeEvent) {
			ev.Detail = json.RawMessage(`{"instance-id":"i-1","state":"running"}`)
		}},
		{"detail-type mismatch", func(ev *awsevents.EventBridgeEvent) { ev.DetailType = events.RequestCompleted }},
		{"ref without stream", func(ev *awsevents.EventBridgeEvent) {
			ev.Detail = json.RawMessage(`{"id":"x","type":"request.submitted","ref":{"version":1}}`)
		}},
		{"ref type mismatch", func(ev *awsevents.EventBridgeEvent) {
			ev.Detail = json.RawMessage(`{"id":"x","type":"request.completed","ref":{"stream":"request/r","version":1}}`)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ev := good
			tc.mod(&ev)
			if _, err := subscriber.Decode(ev); !errors.Is(err, subscriber.ErrNotStreamerEvent) {
				t.Fatalf("error %v, want ErrNotStreamerEvent", err)
			}
		})
	}
}
