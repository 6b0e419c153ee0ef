package projections_test

import (
	"encoding/json"
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/streamer/streamer/events"
	"github.com/streamer/streamer/projections"
)

var (
	t0   = time.Date(2026, 11, 28, 3, 0, 0, 123456000, time.UTC)
	meta = events.Meta{Actor: "alice", Tenant: "acme"}
)

// stamp gives evs the envelope the store would: stream, versions from 1,
// and one second apart from t0.
func stamp(t *testing.T, stream string, evs ...events.Event) []events.Event {
	t.Helper()
	var out []events.Event
	head := events.Head{}
	for i, e := range evs {
		stored, states, err := events.Prepare(stream, head, []events.Event{e}, t0.Add(time.Duration(i)*time.Second))
		if err != nil {
			t.Fatalf("prepare event %d: %v", i, err)
		}
		out = append(out, stored[0])
		head = events.Head{Version: stored[0].Version, Hash: stored[0].Hash, State: states[0]}
	}
	return out
}

func ev(typ string, p any) events.Event { return events.MustNew(typ, p, meta) }

func foldRequest(t *testing.T, evs []events.Event) projections.RequestView {
	t.Helper()
	var v projections.RequestView
	for _, e := range evs {
		var err error
		if v, err = projections.ApplyRequest(v, e); err != nil {
			t.Fatalf("apply %s@%d: %v", e.Type, e.Version, err)
		}
	}
	return v
}

func at(sec int) time.Time { return t0.Add(time.Duration(sec) * time.Second) }

func TestApplyRequest(t *testing.T) {
	sub := ev(events.RequestSubmitted, events.Submitted{Action: "generate_report", Owner: "alice", Tenant: "acme"})
	start := func(n int) events.Event { return ev(events.RequestStarted, events.Started{Attempt: n, Worker: "w"}) }
	prog := func(p float64, msg string) events.Event {
		return ev(events.RequestProgressed, events.Progress{Percentage: p, Message: msg})
	}
	base := projections.RequestView{RequestID: "r1", Action: "generate_report", Owner: "alice", Tenant: "acme", SubmittedAt: at(0)}
	with := func(f func(v *projections.RequestView)) projections.RequestView {
		v := base
		f(&v)
		return v
	}
	cases := []struct {
		name string
		evs  []events.Event
		want projections.RequestView
	}{
		{"queued", []events.Event{sub}, with(func(v *projections.RequestView) {
			v.Status, v.UpdatedAt, v.Version = "queued", at(0), 1
		})},
		{"completed with result", []events.Event{sub, start(1), prog(10, "warming up"), prog(60, ""), ev(events.RequestCompleted, events.Completed{Result: json.RawMessage(`{"rows": 3}`)})},
			with(func(v *projections.RequestView) {
				v.Status, v.Percentage, v.Message, v.Attempt = "completed", 100, "warming up", 1
				v.Result = json.RawMessage(`{"rows":3}`) // events.New marshals the payload compactly
				v.StartedAt, v.UpdatedAt, v.CompletedAt, v.Version = at(1), at(4), at(4), 5
			})},
		{"failed on the second attempt", []events.Event{sub, start(1), prog(40, "a"), start(2), ev(events.RequestFailed, events.Failed{Code: "boom", Message: "it broke", Retryable: true, Attempt: 2})},
			with(func(v *projections.RequestView) {
				v.Status, v.Percentage, v.Message, v.Attempt = "failed", 40, "a", 2
				v.Error = &projections.RequestError{Code: "boom", Message: "it broke", Retryable: true}
				v.StartedAt, v.UpdatedAt, v.CompletedAt, v.Version = at(3), at(4), at(4), 5
			})},
		{"cancelled", []events.Event{sub, start(1), ev(events.RequestCancelRequested, events.CancelRequested{By: "alice"}), ev(events.RequestCancelled, events.Cancelled{Reason: "user asked"})},
			with(func(v *projections.RequestView) {
				v.Status, v.Attempt, v.CancelRequested, v.Message = "cancelled", 1, true, "user asked"
				v.StartedAt, v.UpdatedAt, v.CompletedAt, v.Version = at(1), at(3), at(3), 4
			})},
		{"timed out while queued", []events.Event{sub, ev(events.RequestTimedOut, events.TimedOut{Deadline: at(60)})},
			with(func(v *projections.RequestView) {
				v.Status = "timed_out"
				v.Error = &projections.RequestError{Code: projections.ErrorCodeTimedOut, Message: "no outcome before the deadline " + at(60).Format(time.RFC3339)}
				v.UpdatedAt, v.CompletedAt, v.Version = at(1), at(1), 2
			})},
		{"schema 1 events are upcast", []events.Event{sub, start(1),
			{Type: events.RequestProgressed, SchemaVersion: 1, Data: []byte(`{"percent":30,"status":"old shape"}`)},
			{Type: events.RequestFailed, SchemaVersion: 1, Data: []byte(`{"error":"old failure","attempt":1}`)}},
			with(func(v *projections.RequestView) {
				v.Status, v.Percentage, v.Message, v.Attempt = "failed", 30, "old shape", 1
				v.Error = &projections.RequestError{Code: "handler_error", Message: "old failure"}
				v.StartedAt, v.UpdatedAt, v.CompletedAt, v.Version = at(1), at(3), at(3), 4
			})},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := foldRequest(t, stamp(t, events.RequestStream("r1"), tc.evs...))
			if !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("view:\n got %+v\nwant %+v", got, tc.want)
			}
			if got.Terminal() != (got.Status != "queued" && got.Status != "running") {
				t.Fatalf("Terminal() = %v for status %s", got.Terminal(), got.Status)
			}
		})
	}
}

func TestApplyRequestTenantFromMeta(t *testing.T) {
	evs := stamp(t, events.RequestStream("r1"), ev(events.RequestSubmitted, events.Submitted{Action: "echo", Owner: "alice"}))
	if v := foldRequest(t, evs); v.Tenant != "acme" {
		t.Fatalf("tenant %q, want the actor's tenant acme", v.Tenant)
	}
}

func TestApplyOutOfOrder(t *testing.T) {
	r := stamp(t, events.RequestStream("r1"),
		ev(events.RequestSubmitted, events.Submitted{Action: "echo", Owner: "alice"}),
		ev(events.RequestStarted, events.Started{Attempt: 1}),
		ev(events.RequestProgressed, events.Progress{Percentage: 5}))
	other := stamp(t, events.RequestStream("r2"), ev(events.RequestSubmitted, events.Submitted{Action: "echo", Owner: "bob"}))
	c := stamp(t, events.ConnectionStream("c1"), ev(events.ConnectionOpened, events.Opened{User: "alice"}))
	v1 := foldRequest(t, r[:1])
	cases := []struct {
		name string
		v    projections.RequestView
		e    events.Event
		want error
	}{
		{"gap", v1, r[2], projections.ErrOutOfOrder},
		{"duplicate", v1, r[0], projections.ErrOutOfOrder},
		{"first event missing", projections.RequestView{}, r[1], projections.ErrOutOfOrder},
		{"another stream", v1, func() events.Event { e := other[0]; e.Version = 2; return e }(), projections.ErrOutOfOrder},
		{"connection event", projections.RequestView{}, c[0], projections.ErrOutOfOrder},
		{"bad payload", v1, func() events.Event { e := r[1]; e.Data = []byte(`{"attempt":0}`); return e }(), events.ErrInvalidEvent},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := projections.ApplyRequest(tc.v, tc.e)
			if !errors.Is(err, tc.want) {
				t.Fatalf("error = %v, want %v", err, tc.want)
			}
			if !reflect.DeepEqual(got, tc.v) {
				t.Fatalf("a rejected event changed the view: %+v", got)
			}
		})
	}
	if _, err := projections.ApplyConnection(projections.ConnectionView{}, r[0], projections.TTL{}); !errors.Is(err, projections.ErrOutOfOrder) {
		t.Fatalf("request event onto a connection view: %v", err)
	}
}

func TestApplyConnection(t *testing.T) {
	evs := stamp(t, events.ConnectionStream("c1"),
		ev(events.ConnectionOpened, events.Opened{User: "alice", Tenant: "acme", Source: "websocket"}),
		ev(events.ConnectionSubscribed, events.Subscribed{RequestID: "r1", FromVersion: 0}),
		ev(events.ConnectionSubscribed, events.Subscribed{RequestID: "r2", FromVersion: 7}),
		ev(events.ConnectionUnsubscribed, events.Unsubscribed{RequestID: "r1"}),
		ev(events.ConnectionUnsubscribed, events.Unsubscribed{RequestID: "never"}),
		ev(events.ConnectionClosed, events.Closed{Reason: events.CloseGone}),
	)
	ttl := projections.TTL{MaxAge: time.Hour, Retention: 10 * time.Minute}
	var (
		v     projections.ConnectionView
		views []projections.ConnectionView
	)
	for _, e := range evs {
		var err error
		if v, err = projections.ApplyConnection(v, e, ttl); err != nil {
			t.Fatalf("apply %s: %v", e.Type, err)
		}
		views = append(views, v)
	}
	open := projections.ConnectionView{ConnectionID: "c1", User: "alice", Tenant: "acme", Status: "open",
		ConnectedAt: at(0), LastSeen: at(0), ExpiresAt: at(0).Add(70 * time.Minute), Version: 1}
	want := []projections.ConnectionView{open, open, open, open, open, open}
	want[1].Subscriptions, want[1].LastSeen, want[1].Version = map[string]int64{"r1": 0}, at(1), 2
	want[2].Subscriptions, want[2].LastSeen, want[2].Version = map[string]int64{"r1": 0, "r2": 7}, at(2), 3
	want[3].Subscriptions, want[3].LastSeen, want[3].Version = map[string]int64{"r2": 7}, at(3), 4
	want[4].Subscriptions, want[4].LastSeen, want[4].Version = map[string]int64{"r2": 7}, at(4), 5
	want[5].Status, want[5].CloseReason, want[5].LastSeen, want[5].Version = "closed", "gone", at(5), 6
	want[5].ExpiresAt = at(5).Add(10 * time.Minute)
	for i := range want {
		if !reflect.DeepEqual(views[i], want[i]) {
			t.Fatalf("after %s:\n got %+v\nwant %+v", evs[i].Type, views[i], want[i])
		}
	}
	// Earlier views were not changed by later applies (copy on write).
	if len(views[2].Subscriptions) != 2 || len(views[1].Subscriptions) != 1 {
		t.Fatalf("apply mutated an earlier view's subscriptions: %v %v", views[1].Subscriptions, views[2].Subscriptions)
	}
	// Unsubscribing the last one leaves nil, not an empty map.
	one := stamp(t, events.ConnectionStream("c2"),
		ev(events.ConnectionOpened, events.Opened{User: "bob"}),
		ev(events.ConnectionSubscribed, events.Subscribed{RequestID: "r1"}),
		ev(events.ConnectionUnsubscribed, events.Unsubscribed{RequestID: "r1"}))
	v = projections.ConnectionView{}
	for _, e := range one {
		v, _ = projections.ApplyConnection(v, e, projections.TTL{})
	}
	if v.Subscriptions != nil || v.Tenant != "acme" {
		t.Fatalf("subscriptions %#v tenant %q; want nil and the actor's tenant", v.Subscriptions, v.Tenant)
	}
	if want := at(0).Add(projections.DefaultMaxAge + projections.DefaultRetention); !v.ExpiresAt.Equal(want) {
		t.Fatalf("default expiry %v, want %v", v.ExpiresAt, want)
	}
}

func TestGuard(t *testing.T) {
	cases := []struct {
		view, event int64
		want        projections.Step
	}{
		{0, 1, projections.Apply}, {0, 2, projections.Gap}, {3, 1, projections.Skip}, {3, 3, projections.Skip},
		{3, 4, projections.Apply}, {3, 9, projections.Gap},
	}
	for _, tc := range cases {
		if got := projections.Guard(tc.view, tc.event); got != tc.want {
			t.Errorf("Guard(%d, %d) = %v, want %v", tc.view, tc.event, got, tc.want)
		}
	}
}

func TestJSONShape(t *testing.T) {
	v := projections.RequestView{RequestID: "r1", Action: "echo", Status: "queued", Owner: "alice", Tenant: "acme", SubmittedAt: at(0), Version: 1}
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"requestId":"r1","action":"echo","status":"queued","percentage":0,"owner":"alice","tenant":"acme","attempt":0,"cancelRequested":false,"submittedAt":"2026-11-28T03:00:00.123456Z","version":1}`
	if string(b) != want {
		t.Fatalf("JSON:\n got %s\nwant %s", b, want)
	}
}
