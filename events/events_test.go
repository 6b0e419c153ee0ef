package events_test

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/streamer/streamer/events"
)

var meta = events.Meta{Actor: "u1", Tenant: "t1"}

func prep(t *testing.T, stream string, head events.Head, evs ...events.Event) ([]events.Event, []events.State, error) {
	t.Helper()
	return events.Prepare(stream, head, evs, time.Date(2026, 11, 28, 3, 0, 0, 123456789, time.UTC))
}

func TestPrepareStampsAndChains(t *testing.T) {
	stream := events.RequestStream("r1")
	out, states, err := prep(t, stream, events.Head{},
		events.MustNew(events.RequestSubmitted, events.Submitted{Action: "echo", Owner: "u1"}, meta),
		events.MustNew(events.RequestStarted, events.Started{Attempt: 1}, meta),
		events.MustNew(events.RequestProgressed, events.Progress{Percentage: 30}, meta),
	)
	if err != nil {
		t.Fatal(err)
	}
	if states[2] != (events.State{Status: events.StatusRunning, Percentage: 30, Attempt: 1}) {
		t.Fatalf("state after progress = %+v", states[2])
	}
	for i, e := range out {
		if e.Version != int64(i+1) || e.StreamID != stream || e.ID == "" {
			t.Fatalf("event %d not stamped: %+v", i, e)
		}
		if e.Time.Nanosecond()%1000 != 0 || e.Time.Location() != time.UTC {
			t.Fatalf("time %v is not UTC microseconds", e.Time)
		}
	}
	if err := events.Verify(out); err != nil {
		t.Fatal(err)
	}
	// Continue from the head the backend would read.
	head := events.Head{Version: 3, Hash: out[2].Hash, State: states[2]}
	more, _, err := prep(t, stream, head, events.MustNew(events.RequestCompleted, events.Completed{}, meta))
	if err != nil {
		t.Fatal(err)
	}
	if more[0].PrevHash != out[2].Hash || more[0].Version != 4 {
		t.Fatalf("continuation: %+v", more[0])
	}
	if err := events.Verify(append(out, more...)); err != nil {
		t.Fatal(err)
	}
}

func TestTransitions(t *testing.T) {
	ev := func(typ string, p any) events.Event { return events.MustNew(typ, p, meta) }
	sub := ev(events.RequestSubmitted, events.Submitted{Action: "a", Owner: "u"})
	start := func(n int) events.Event { return ev(events.RequestStarted, events.Started{Attempt: n}) }
	prog := func(p float64) events.Event { return ev(events.RequestProgressed, events.Progress{Percentage: p}) }
	cases := []struct {
		name string
		evs  []events.Event
		rule events.Rule // "" = accepted
		want events.State
	}{
		{"happy path", []events.Event{sub, start(1), prog(0), prog(50), prog(50), prog(100), ev(events.RequestCompleted, events.Completed{})}, "", events.State{Status: events.StatusCompleted, Percentage: 100, Attempt: 1}},
		{"retry attempt keeps progress floor", []events.Event{sub, start(1), prog(40), start(2), prog(40)}, "", events.State{Status: events.StatusRunning, Percentage: 40, Attempt: 2}},
		{"fail from queued", []events.Event{sub, ev(events.RequestFailed, events.Failed{Code: "invalid"})}, "", events.State{Status: events.StatusFailed}},
		{"cancel while running", []events.Event{sub, start(1), ev(events.RequestCancelRequested, events.CancelRequested{}), prog(20), ev(events.RequestCancelled, events.Cancelled{})}, "", events.State{Status: events.StatusCancelled, Percentage: 20, Attempt: 1, CancelRequested: true}},
		{"progress before start", []events.Event{sub, prog(1)}, events.RuleProgressNotRunning, events.State{}},
		{"percentage down", []events.Event{sub, start(1), prog(10), prog(9)}, events.RulePercentageDown, events.State{}},
		{"after terminal", []events.Event{sub, ev(events.RequestTimedOut, events.TimedOut{Deadline: time.Now()}), start(1)}, events.RuleAfterTerminal, events.State{}},
		{"attempt repeats", []events.Event{sub, start(1), start(1)}, events.RuleAttemptNotGrowing, events.State{}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			out, states, err := prep(t, events.RequestStream("x"), events.Head{}, tc.evs...)
			if tc.rule == "" {
				if err != nil {
					t.Fatal(err)
				}
				if got := states[len(states)-1]; got != tc.want {
					t.Fatalf("state %+v, want %+v", got, tc.want)
				}
				folded, err := events.Fold(out)
				if err != nil || folded != tc.want {
					t.Fatalf("Fold = %+v, %v; want %+v", folded, err, tc.want)
				}
				return
			}
			var te *events.TransitionError
			if !errors.As(err, &te) || te.Rule != tc.rule || !errors.Is(err, events.ErrInvalidTransition) {
				t.Fatalf("err = %v, want rule %s", err, tc.rule)
			}
			if !strings.Contains(err.Error(), string(tc.rule)) {
				t.Fatalf("message %q does not name the rule", err)
			}
		})
	}
}

func TestPayloadValidation(t *testing.T) {
	cases := []struct {
		name string
		typ  string
		data string
	}{
		{"percentage over 100", events.RequestProgressed, `{"percentage":100.5}`},
		{"negative percentage", events.RequestProgressed, `{"percentage":-1}`},
		{"missing action", events.RequestSubmitted, `{"owner":"u"}`},
		{"failed without code", events.RequestFailed, `{"message":"x"}`},
		{"close reason unknown", events.ConnectionClosed, `{"reason":"bored"}`},
		{"data not an object", events.RequestSubmitted, `["action"]`},
		{"wrong field type", events.RequestStarted, `{"attempt":"one"}`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			stream := events.RequestStream("v")
			if strings.HasPrefix(tc.typ, "connection.") {
				stream = events.ConnectionStream("v")
			}
			_, err := events.DecodePayload(events.Event{StreamID: stream, Type: tc.typ, SchemaVersion: events.CurrentSchema(tc.typ), Data: json.RawMessage(tc.data)})
			if !errors.Is(err, events.ErrInvalidEvent) {
				t.Fatalf("err = %v, want ErrInvalidEvent", err)
			}
		})
	}
}

func TestVerifyNamesFirstBrokenVersion(t *testing.T) {
	evs := make([]events.Event, 0, 6)
	evs = append(evs, events.MustNew(events.RequestSubmitted, events.Submitted{Action: "a", Owner: "u"}, meta), events.MustNew(events.RequestStarted, events.Started{Attempt: 1}, meta))
	for p := 10.0; p <= 40; p += 10 {
		evs = append(evs, events.MustNew(events.RequestProgressed, events.Progress{Percentage: p}, meta))
	}
	good, _, err := prep(t, events.RequestStream("c"), events.Head{}, evs...)
	if err != nil {
		t.Fatal(err)
	}
	clone := func() []events.Event { return append([]events.Event(nil), good...) }
	cases := []struct {
		name   string
		mutate func([]events.Event) []events.Event
		at     int64
	}{
		{"data changed", func(e []events.Event) []events.Event { e[3].Data = []byte(`{"percentage":99}`); return e }, 4},
		{"meta changed", func(e []events.Event) []events.Event { e[1].Meta.Actor = "mallory"; return e }, 2},
		{"hash recomputed over changed data", func(e []events.Event) []events.Event {
			e[2].Data = []byte(`{"percentage":11}`)
			e[2].Hash, _ = events.ComputeHash(e[2].PrevHash, e[2])
			return e
		}, 4},
		{"event deleted", func(e []events.Event) []events.Event { return append(e[:2], e[3:]...) }, 3},
		{"time changed", func(e []events.Event) []events.Event { e[5].Time = e[5].Time.Add(time.Second); return e }, 6},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := events.Verify(tc.mutate(clone()))
			var ce *events.ChainError
			if !errors.As(err, &ce) || ce.Version != tc.at {
				t.Fatalf("Verify = %v, want broken at %d", err, tc.at)
			}
		})
	}
	// Re-encoding JSON data (key order, spacing) does not break the chain.
	re := clone()
	re[2].Data = []byte(` { "percentage" : 10 } `)
	if err := events.Verify(re); err != nil {
		t.Fatalf("whitespace-only change broke the chain: %v", err)
	}
}

func TestCodecRoundTrip(t *testing.T) {
	out, _, err := prep(t, events.ConnectionStream("c1"), events.Head{},
		events.MustNew(events.ConnectionOpened, events.Opened{User: "u", Tenant: "t", Source: "websocket"}, events.Meta{Actor: "u", TraceID: "tr"}))
	if err != nil {
		t.Fatal(err)
	}
	b, err := events.Encode(out[0])
	if err != nil {
		t.Fatal(err)
	}
	got, err := events.Decode(b)
	if err != nil {
		t.Fatal(err)
	}
	if got.ID != out[0].ID || !got.Time.Equal(out[0].Time) || got.Hash != out[0].Hash || string(got.Data) != string(out[0].Data) || got.Meta != out[0].Meta {
		t.Fatalf("round trip:\n got %+v\nwant %+v", got, out[0])
	}
	if err := events.Verify([]events.Event{got}); err != nil {
		t.Fatalf("decoded event does not verify: %v", err)
	}
	for _, bad := range []string{``, `{}`, `[]`, `{"id":"x","stream":"request/1","version":1,"type":"request.submitted","schemaVersion":1,"time":"2026-01-01T00:00:00Z","data":[]}`,
		`{"id":"x","stream":"request/1","version":1,"type":"connection.opened","schemaVersion":1,"time":"2026-01-01T00:00:00Z","data":{}}`,
		`{"id":"x","stream":"request/1","version":1,"type":"request.submitted","schemaVersion":9,"time":"2026-01-01T00:00:00Z","data":{}}`,
		`{"id":"x","stream":"request/1","version":1,"type":"request.submitted","schemaVersion":1,"time":"2026-01-01T00:00:00Z","data":{}} {}`} {
		if _, err := events.Decode([]byte(bad)); !errors.Is(err, events.ErrInvalidEvent) {
			t.Errorf("Decode(%q) = %v, want ErrInvalidEvent", bad, err)
		}
	}
}

func TestUpcasters(t *testing.T) {
	cases := []struct {
		name string
		e    events.Event
		want any
	}{
		{"progress v1", events.Event{Type: events.RequestProgressed, SchemaVersion: 1, Data: []byte(`{"percent":42,"status":"half way"}`)}, &events.Progress{Percentage: 42, Message: "half way"}},
		{"failed v1", events.Event{Type: events.RequestFailed, SchemaVersion: 1, Data: []byte(`{"error":"disk full","attempt":2}`)}, &events.Failed{Code: "handler_error", Message: "disk full", Attempt: 2}},
		{"current shape untouched", events.Event{Type: events.RequestProgressed, SchemaVersion: 2, Data: []byte(`{"percentage":7}`)}, &events.Progress{Percentage: 7}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tc.e.StreamID = events.RequestStream("u")
			got, err := events.DecodePayload(tc.e)
			if err != nil {
				t.Fatal(err)
			}
			gj, _ := json.Marshal(got)
			wj, _ := json.Marshal(tc.want)
			if string(gj) != string(wj) {
				t.Fatalf("got %s, want %s", gj, wj)
			}
		})
	}
	if _, err := events.Upcast(events.Event{Type: events.RequestProgressed, SchemaVersion: 1, Data: []byte(`{"status":"no percent"}`)}); !errors.Is(err, events.ErrInvalidEvent) {
		t.Fatalf("broken v1 shape: %v", err)
	}
	if _, err := events.Upcast(events.Event{Type: events.RequestProgressed, SchemaVersion: 3, Data: []byte(`{}`)}); !errors.Is(err, events.ErrInvalidEvent) {
		t.Fatalf("future schema: %v", err)
	}
}

func TestParseStream(t *testing.T) {
	for _, bad := range []string{"", "request/", "request/a/b", "orders/1", "connection/", strings.Repeat("r", 600)} {
		if _, _, err := events.ParseStream(bad); !errors.Is(err, events.ErrInvalidEvent) {
			t.Errorf("ParseStream(%q) = %v", bad, err)
		}
	}
	kind, id, err := events.ParseStream("connection/abc")
	if err != nil || kind != events.KindConnection || id != "abc" {
		t.Fatalf("ParseStream = %v %v %v", kind, id, err)
	}
}

func TestPrepareLimits(t *testing.T) {
	stream := events.RequestStream("l")
	if _, _, err := prep(t, stream, events.Head{}); !errors.Is(err, events.ErrInvalidEvent) {
		t.Fatalf("empty append: %v", err)
	}
	big := events.MustNew(events.RequestSubmitted, events.Submitted{Action: "a", Owner: "u", Payload: json.RawMessage(`"` + strings.Repeat("x", events.MaxEventSize) + `"`)}, meta)
	if _, _, err := prep(t, stream, events.Head{}, big); !errors.Is(err, events.ErrEventTooLarge) {
		t.Fatalf("oversized: %v", err)
	}
}
