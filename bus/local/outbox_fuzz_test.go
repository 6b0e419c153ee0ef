package local

import (
	"bytes"
	"errors"
	"testing"
)

// FuzzRecovered: any outbox row decodes to the delivery it stored — its
// body byte for byte, an event that matches the row's columns — or is
// marked bad with ErrBadOutboxEntry; never a panic.
func FuzzRecovered(f *testing.F) {
	good := `{"version":"0","id":"0190a000-0000-7000-8000-000000000009","detail-type":"request.progress","source":"streamer",` +
		`"account":"000000000000","time":"2024-05-01T12:00:00Z","region":"local","resources":[],"detail":` +
		`{"id":"0190a000-0000-7000-8000-000000000001","stream":"request/r1","version":3,"type":"request.progress","schemaVersion":2,` +
		`"time":"2024-05-01T12:00:00.123Z","meta":{"tenant":"acme"},"data":{"percentage":60.5,"message":"page \u003c3\u003e"},"prevHash":"a","hash":"b"}}`
	f.Add("0190a000-0000-7000-8000-000000000001", "request/r1", int64(3), "request.progress", []byte(good))
	f.Add("0190a000-0000-7000-8000-000000000001", "request/r1", int64(4), "request.progress", []byte(good))
	f.Add("e", "request/x", int64(1), "request.completed", []byte(`{"detail":`))
	f.Add("e", "request/x", int64(1), "request.completed", []byte(`{"detail-type":"request.completed","detail":{"ref":{"stream":"request/x","version":1}}}`))
	f.Add("", "", int64(0), "", []byte(`null`))
	f.Fuzz(func(t *testing.T, eventID, stream string, version int64, typ string, body []byte) {
		d := recovered(OutboxEntry{ID: 7, Rule: "r", EventID: eventID, Stream: stream, Version: version, Type: typ, Body: body})
		if d.id != 7 || !bytes.Equal(d.JSON, body) {
			t.Fatalf("recovered entry 7 as %d with body %q", d.id, d.JSON)
		}
		if d.bad != nil {
			if !errors.Is(d.bad, ErrBadOutboxEntry) {
				t.Fatalf("error %v does not match ErrBadOutboxEntry", d.bad)
			}
			if d.Event.ID != eventID || d.Event.StreamID != stream || d.Event.Version != version || d.Event.Type != typ {
				t.Fatalf("a bad entry lost its columns: %+v", d.Event)
			}
			return
		}
		e := d.Event
		if e.ID != eventID || e.StreamID != stream || e.Version != version || e.Type != typ || d.EventBridge.DetailType != typ {
			t.Fatalf("entry (%s %s@%d %s) recovered as %s %s@%d %s", eventID, stream, version, typ, e.ID, e.StreamID, e.Version, e.Type)
		}
	})
}
