package events_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"testing"

	"github.com/streamer/streamer/events"
)

// FuzzDecode: any input either decodes to a well-formed envelope that
// re-encodes and decodes to the same event, or fails with ErrInvalidEvent.
func FuzzDecode(f *testing.F) {
	f.Add([]byte(`{"id":"0190","stream":"request/1","version":1,"type":"request.submitted","schemaVersion":1,"time":"2026-11-28T03:00:00.123456Z","meta":{"actor":"u"},"data":{"action":"echo","owner":"u"},"prevHash":"","hash":"ab"}`))
	f.Add([]byte(`{"id":"x","stream":"connection/c","version":2,"type":"connection.closed","schemaVersion":1,"time":"2026-11-28T03:00:00Z","data":{"reason":"gone"}}`))
	f.Add([]byte(`{"stream":"request/1"}`))
	f.Add([]byte(`[]`))
	f.Fuzz(func(t *testing.T, b []byte) {
		e, err := events.Decode(b)
		if err != nil {
			if !errors.Is(err, events.ErrInvalidEvent) {
				t.Fatalf("Decode error %v is not ErrInvalidEvent", err)
			}
			return
		}
		enc, err := events.Encode(e)
		if err != nil {
			t.Fatalf("re-encode: %v", err)
		}
		again, err := events.Decode(enc)
		if err != nil {
			t.Fatalf("re-decode of %s: %v", enc, err)
		}
		h1, err1 := events.ComputeHash("", e)
		h2, err2 := events.ComputeHash("", again)
		if (err1 == nil) != (err2 == nil) || h1 != h2 {
			t.Fatalf("hash changed across round trip: %s %v / %s %v", h1, err1, h2, err2)
		}
		// DecodePayload never panics.
		_, _ = events.DecodePayload(e)
	})
}

// FuzzUpcast: upcasting any schema-1 data either fails cleanly or yields a
// current-schema payload that decodes.
func FuzzUpcast(f *testing.F) {
	f.Add(events.RequestProgressed, []byte(`{"percent":42,"status":"x"}`))
	f.Add(events.RequestFailed, []byte(`{"error":"boom","attempt":1}`))
	f.Add(events.RequestProgressed, []byte(`{"percent":1e400}`))
	f.Add(events.RequestFailed, []byte(`null`))
	f.Fuzz(func(t *testing.T, typ string, data []byte) {
		e := events.Event{StreamID: events.RequestStream("f"), Type: typ, SchemaVersion: 1, Data: data}
		up, err := events.Upcast(e)
		if err != nil {
			if !errors.Is(err, events.ErrInvalidEvent) {
				t.Fatalf("Upcast error %v is not ErrInvalidEvent", err)
			}
			return
		}
		if up.SchemaVersion != events.CurrentSchema(typ) {
			t.Fatalf("upcast stopped at schema %d", up.SchemaVersion)
		}
		if up.SchemaVersion > 1 && !json.Valid(up.Data) {
			t.Fatalf("upcaster produced invalid JSON %q", up.Data)
		}
		if up.SchemaVersion == 1 && !bytes.Equal(up.Data, data) {
			t.Fatal("current-schema data was modified")
		}
	})
}
