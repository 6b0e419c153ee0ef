package audit_test

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/streamer/streamer/audit"
	"github.com/streamer/streamer/events"
)

var t0 = time.Date(2026, 11, 28, 3, 0, 0, 0, time.UTC)

// chain builds a request stream in memory with events.Prepare, the
// backend-independent half of an append: one event per second from t0.
func chain(t *testing.T, id string, evs ...events.Event) []events.Event {
	t.Helper()
	var (
		out  []events.Event
		head events.Head
	)
	for i, e := range evs {
		stored, states, err := events.Prepare(events.RequestStream(id), head, []events.Event{e}, t0.Add(time.Duration(i)*time.Second))
		if err != nil {
			t.Fatalf("prepare event %d: %v", i+1, err)
		}
		out = append(out, stored...)
		head = events.Head{Version: stored[0].Version, Hash: stored[0].Hash, State: states[0]}
	}
	return out
}

var m = events.Meta{Actor: "alice", Tenant: "acme"}

func sampleEvents() []events.Event {
	v1 := events.MustNew(events.RequestProgressed, map[string]any{"percent": 10, "status": "warming up"}, m)
	v1.SchemaVersion = 1
	return []events.Event{
		events.MustNew(events.RequestSubmitted, events.Submitted{Action: "generate_report", Owner: "alice", Tenant: "acme"}, m),
		events.MustNew(events.RequestStarted, events.Started{Attempt: 1, Worker: "worker-3"}, m),
		v1,
		events.MustNew(events.RequestProgressed, events.Progress{Percentage: 42, Message: "generating rows"}, m),
		events.MustNew(events.RequestCancelRequested, events.CancelRequested{Reason: "no longer needed", By: "alice"}, m),
		events.MustNew(events.RequestFailed, events.Failed{Code: "handler_error", Message: "upstream timeout", Retryable: true}, m),
	}
}

func TestAsOfIsAPrefix(t *testing.T) {
	evs := chain(t, "r1", sampleEvents()...)
	for _, c := range []struct {
		at   time.Time
		want int
	}{
		{t0.Add(-time.Nanosecond), 0},
		{t0, 1},
		{t0.Add(2500 * time.Millisecond), 3},
		{t0.Add(time.Hour), 6},
	} {
		if got := audit.AsOf(evs, c.at); len(got) != c.want {
			t.Errorf("AsOf(%v) = %d events, want %d", c.at, len(got), c.want)
		}
	}
	// An appender whose clock is behind stamps version 3 before version 2:
	// at version 3's time version 2 had not been appended, so neither had 3.
	skewed := append([]events.Event(nil), evs...)
	skewed[2].Time = t0.Add(500 * time.Millisecond)
	if got := audit.AsOf(skewed, t0.Add(600*time.Millisecond)); len(got) != 1 {
		t.Fatalf("skewed clocks: %d events, want the prefix of 1", len(got))
	}
}

func TestReplay(t *testing.T) {
	evs := chain(t, "r1", sampleEvents()...)
	v, err := audit.Replay(evs[:4])
	if err != nil {
		t.Fatal(err)
	}
	if v.RequestID != "r1" || v.Status != "running" || v.Percentage != 42 || v.Message != "generating rows" || v.Version != 4 || v.Owner != "alice" {
		t.Fatalf("view %+v", v)
	}
	v, err = audit.Replay(evs)
	if err != nil || v.Status != "failed" || v.Error == nil || v.Error.Code != "handler_error" || !v.CancelRequested {
		t.Fatalf("final view %+v, %v", v, err)
	}
	if _, err := audit.Replay(nil); !errors.Is(err, audit.ErrNotFound) {
		t.Fatalf("empty replay: %v", err)
	}
	if _, err := audit.Replay(evs[1:]); !errors.Is(err, audit.ErrReplay) {
		t.Fatalf("replay without the first event: %v", err)
	}
	broken := append([]events.Event(nil), evs...)
	broken[1].Data = json.RawMessage(`{"attempt":0}`)
	if _, err := audit.Replay(broken); !errors.Is(err, audit.ErrReplay) || !strings.Contains(err.Error(), "version 2") {
		t.Fatalf("replay of an undecodable event: %v", err)
	}
}

func TestParties(t *testing.T) {
	evs := chain(t, "r1", sampleEvents()...)
	if tenant, owner := audit.Parties(evs[0]); tenant != "acme" || owner != "alice" {
		t.Fatalf("parties %q %q", tenant, owner)
	}
	noTenant := chain(t, "r2", events.MustNew(events.RequestSubmitted, events.Submitted{Action: "echo", Owner: "bob"}, events.Meta{Tenant: "globex"}))
	if tenant, owner := audit.Parties(noTenant[0]); tenant != "globex" || owner != "bob" {
		t.Fatalf("tenant from meta: %q %q", tenant, owner)
	}
	garbled := evs[0]
	garbled.Data = json.RawMessage(`{"owner":`)
	if tenant, owner := audit.Parties(garbled); tenant != "acme" || owner != "" {
		t.Fatalf("undecodable first event: %q %q, want the meta tenant and no owner", tenant, owner)
	}
	if _, owner := audit.Parties(evs[1]); owner != "" {
		t.Fatalf("a first event that is not a submission has owner %q", owner)
	}
}

func TestVerify(t *testing.T) {
	evs := chain(t, "r1", sampleEvents()...)
	if r := audit.Verify(evs); !r.OK || r.Version != 6 || r.String() != "chain ok (6 events)" {
		t.Fatalf("intact chain: %+v %q", r, r)
	}
	tampered := append([]events.Event(nil), evs...)
	tampered[3].Data = json.RawMessage(`{"percentage":99}`)
	r := audit.Verify(tampered)
	if r.OK || r.BrokenAt != 4 || r.Version != 6 || r.String() != "chain BROKEN at version 4: hash does not match the event's content" {
		t.Fatalf("tampered chain: %+v %q", r, r)
	}
	if r := audit.Verify(append(evs[:2:2], evs[3:]...)); r.OK || r.BrokenAt != 3 {
		t.Fatalf("deleted event: %+v", r)
	}
}

func TestEntries(t *testing.T) {
	evs := chain(t, "r1", sampleEvents()...)
	entries := audit.Entries(evs)
	want := []string{
		"submitted generate_report by alice",
		"started (attempt 1, worker-3)",
		"10% warming up",
		"42% generating rows",
		"cancel requested by alice: no longer needed",
		"failed: handler_error upstream timeout (retryable)",
	}
	back := make([]events.Event, len(entries))
	for i, en := range entries {
		if en.Summary != want[i] {
			t.Errorf("summary %d = %q, want %q", i+1, en.Summary, want[i])
		}
		// Through JSON, as the API serves it: still verifies.
		b, err := json.Marshal(en)
		if err != nil {
			t.Fatal(err)
		}
		var dec audit.Entry
		if err := json.Unmarshal(b, &dec); err != nil {
			t.Fatal(err)
		}
		back[i] = dec.Event()
	}
	if err := events.Verify(back); err != nil {
		t.Fatalf("entries do not verify: %v", err)
	}
	up := entries[2]
	if up.SchemaVersion != 2 || string(up.Data) != `{"percentage":10,"message":"warming up"}` || up.Stored == nil ||
		up.Stored.SchemaVersion != 1 || string(up.Stored.Data) != `{"percent":10,"status":"warming up"}` || up.Warning != "" {
		t.Fatalf("upcast entry %+v", up)
	}
	if entries[3].Stored != nil {
		t.Fatalf("a current entry has a stored form")
	}

	notJSON := evs[3]
	notJSON.Data = json.RawMessage(`{"percentage":`)
	if en := audit.NewEntry(notJSON); string(en.Data) != "null" || en.Warning == "" || !strings.HasPrefix(en.Summary, "unreadable") {
		t.Fatalf("entry of data that is not JSON: %+v", en)
	}
	old := evs[2]
	old.Data = json.RawMessage(`{"status":"no percent"}`) // schema 1 without its required field
	if en := audit.NewEntry(old); en.SchemaVersion != 1 || en.Stored != nil || !strings.Contains(en.Warning, "as stored") {
		t.Fatalf("entry that cannot be upcast: %+v", en)
	}
}

func TestSummaries(t *testing.T) {
	deadline := t0.Add(time.Hour)
	for _, c := range []struct {
		e    events.Event
		want string
	}{
		{events.MustNew(events.RequestCompleted, events.Completed{}, m), "completed"},
		{events.MustNew(events.RequestCancelled, events.Cancelled{Reason: "user"}, m), "cancelled: user"},
		{events.MustNew(events.RequestCancelled, events.Cancelled{}, m), "cancelled"},
		{events.MustNew(events.RequestTimedOut, events.TimedOut{Deadline: deadline}, m), "timed out (deadline 2026-11-28T04:00:00Z)"},
		{events.MustNew(events.RequestProgressed, events.Progress{Percentage: 42.5}, m), "42.5%"},
		{events.MustNew(events.RequestFailed, events.Failed{Code: "bad_input"}, m), "failed: bad_input"},
	} {
		if got := audit.Summary(c.e); got != c.want {
			t.Errorf("%s: %q, want %q", c.e.Type, got, c.want)
		}
	}
}

func TestCheckID(t *testing.T) {
	for _, id := range []string{"", "a/b", "a\x00b", "\xff", strings.Repeat("x", 505)} {
		if err := audit.CheckID(id); !errors.Is(err, audit.ErrInvalidID) {
			t.Errorf("CheckID(%q) = %v", id, err)
		}
	}
	if err := audit.CheckID(strings.Repeat("x", 504)); err != nil {
		t.Errorf("504 bytes: %v", err)
	}
}
