package schemas_test

import (
	"context"
	"encoding/json"
	"errors"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/streamer/streamer/bus"
	"github.com/streamer/streamer/bus/bustest"
	"github.com/streamer/streamer/events"
	evsqlite "github.com/streamer/streamer/events/sqlite"
	"github.com/streamer/streamer/schemas"
)

func TestEveryTypeHasASchema(t *testing.T) {
	got, err := schemas.Types()
	if err != nil {
		t.Fatal(err)
	}
	want := events.Types()
	sort.Strings(got)
	sort.Strings(want)
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Fatalf("schemas for %v, event types %v", got, want)
	}
}

// TestStoredEventsValidate: every event of a real run (all types, stamped
// by the SQLite store), in full and as a reference.
func TestStoredEventsValidate(t *testing.T) {
	store, err := evsqlite.Open(filepath.Join(t.TempDir(), "events.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	run, err := bustest.AppendRun(context.Background(), store, 4)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, e := range run.Events {
		full, err := bus.Detail(e)
		if err != nil {
			t.Fatal(err)
		}
		if err := schemas.ValidateDetail(e.Type, full); err != nil {
			t.Errorf("%s: %v", e.Type, err)
		}
		ref, err := bus.RefDetailOf(e)
		if err != nil {
			t.Fatal(err)
		}
		if err := schemas.ValidateDetail(e.Type, ref); err != nil {
			t.Errorf("%s reference: %v", e.Type, err)
		}
		seen[e.Type] = true
	}
	if len(seen) != len(events.Types()) {
		t.Fatalf("the run covered %d types, want %d", len(seen), len(events.Types()))
	}
}

// envelope builds a detail by hand, for shapes a store no longer writes
// and for broken ones.
func envelope(typ, stream string, schema int, data string) map[string]any {
	return map[string]any{
		"id": "01900000-0000-7000-8000-000000000001", "stream": stream, "version": 2, "type": typ, "schemaVersion": schema,
		"time": time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC).Format(time.RFC3339Nano), "meta": map[string]any{"actor": "a"},
		"data": json.RawMessage(data), "prevHash": strings.Repeat("a", 64), "hash": strings.Repeat("b", 64),
	}
}

func TestOldShapesValidate(t *testing.T) {
	for _, tc := range []struct{ typ, data string }{
		{events.RequestProgressed, `{"percent":30,"status":"rendering"}`},
		{events.RequestFailed, `{"error":"boom","attempt":1}`},
	} {
		b, _ := json.Marshal(envelope(tc.typ, "request/r", 1, tc.data))
		if err := schemas.ValidateDetail(tc.typ, b); err != nil {
			t.Errorf("%s schema 1: %v", tc.typ, err)
		}
	}
}

func TestInvalidDetailsFail(t *testing.T) {
	for _, tc := range []struct {
		name, detailType string
		mod              func(map[string]any)
		raw              string
	}{
		{name: "missing hash", detailType: events.RequestCompleted, mod: func(m map[string]any) { delete(m, "hash") }},
		{name: "type differs from detail-type", detailType: events.RequestCompleted, mod: func(m map[string]any) { m["type"] = events.RequestFailed }},
		{name: "request type on a connection stream", detailType: events.RequestCompleted, mod: func(m map[string]any) { m["stream"] = "connection/c" }},
		{name: "unknown data field", detailType: events.RequestCompleted, mod: func(m map[string]any) { m["data"] = json.RawMessage(`{"result":1,"extra":2}`) }},
		{name: "percentage over 100", detailType: events.RequestProgressed, mod: func(m map[string]any) {
			m["type"], m["schemaVersion"], m["data"] = events.RequestProgressed, 2, json.RawMessage(`{"percentage":101}`)
		}},
		{name: "schema 2 progress in schema 1 shape", detailType: events.RequestProgressed, mod: func(m map[string]any) {
			m["type"], m["schemaVersion"], m["data"] = events.RequestProgressed, 2, json.RawMessage(`{"percent":10}`)
		}},
		{name: "bad close reason", detailType: events.ConnectionClosed, mod: func(m map[string]any) {
			m["type"], m["stream"], m["data"] = events.ConnectionClosed, "connection/c", json.RawMessage(`{"reason":"tired"}`)
		}},
		{name: "bad time", detailType: events.RequestCompleted, mod: func(m map[string]any) { m["time"] = "yesterday" }},
		{name: "unknown envelope field", detailType: events.RequestCompleted, mod: func(m map[string]any) { m["extra"] = 1 }},
		{name: "ref with extra field", detailType: events.RequestCompleted,
			raw: `{"id":"x","stream":"request/r","version":2,"type":"request.completed","time":"2024-05-01T12:00:00Z","ref":{"stream":"request/r","version":2},"data":{}}`},
		{name: "ref of another type", detailType: events.RequestCompleted,
			raw: `{"id":"x","stream":"request/r","version":2,"type":"request.failed","time":"2024-05-01T12:00:00Z","ref":{"stream":"request/r","version":2}}`},
		{name: "not json", detailType: events.RequestCompleted, raw: `{`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := []byte(tc.raw)
			if tc.mod != nil {
				m := envelope(events.RequestCompleted, "request/r", 1, `{"result":1}`)
				tc.mod(m)
				b, _ = json.Marshal(m)
			}
			if err := schemas.ValidateDetail(tc.detailType, b); !errors.Is(err, schemas.ErrInvalidDetail) {
				t.Fatalf("error %v, want ErrInvalidDetail", err)
			}
		})
	}
	if err := schemas.ValidateDetail("request.unknown", []byte(`{}`)); !errors.Is(err, schemas.ErrUnknownType) {
		t.Fatalf("unknown type: %v", err)
	}
	if err := schemas.ValidateDetail("envelope", []byte(`{}`)); !errors.Is(err, schemas.ErrUnknownType) {
		t.Fatalf("envelope as a type: %v", err)
	}
}
