package events

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"time"
)

// Encode renders e as its JSON envelope: the shape used on the wire (HTTP
// API, EventBridge detail, WebSocket frames) and documented in docs/events.md.
func Encode(e Event) ([]byte, error) {
	if len(e.Data) == 0 {
		e.Data = json.RawMessage(`{}`)
	}
	return json.Marshal(e)
}

// encodedLen is len(Encode(e)) for an event whose non-empty Data json.Marshal
// compacts to dataLen bytes, worked out without marshalling. It reports
// false, and Encode must be run, when dataLen is not known (-1) or e.Time is
// one that Time.MarshalJSON refuses (a year outside 0…9999) or that this
// function does not handle (not UTC).
func encodedLen(e Event, dataLen int) (int, bool) {
	var tb, nb [64]byte
	ts := e.Time.AppendFormat(tb[:0], time.RFC3339Nano)
	if dataLen < 0 || len(e.Data) == 0 || len(ts) < len("0000-") || ts[4] != '-' || ts[len(ts)-1] != 'Z' {
		return 0, false
	}
	m := e.Meta
	n := len(`{"id":,"stream":,"version":,"type":,"schemaVersion":,"time":"","meta":{},"data":,"prevHash":,"hash":}`) +
		jsonStringLen(e.ID) + jsonStringLen(e.StreamID) + len(strconv.AppendInt(nb[:0], e.Version, 10)) +
		jsonStringLen(e.Type) + len(strconv.AppendInt(nb[:0], int64(e.SchemaVersion), 10)) + len(ts) +
		dataLen + jsonStringLen(e.PrevHash) + jsonStringLen(e.Hash)
	fields := 0
	for _, f := range [...]struct{ name, v string }{{"actor", m.Actor}, {"tenant", m.Tenant},
		{"correlationId", m.CorrelationID}, {"causationId", m.CausationID}, {"traceId", m.TraceID}, {"source", m.Source}} {
		if f.v != "" { // omitempty
			n += len(`"":`) + len(f.name) + jsonStringLen(f.v)
			fields++
		}
	}
	if fields > 1 {
		n += fields - 1 // commas
	}
	return n, true
}

// Decode parses a JSON envelope from outside (a Lambda payload, an
// EventBridge detail, a file) and checks it is well formed: known type on a
// stream of the right kind, version ≥ 1, schema version this build can read,
// data a JSON object, a UTC time. It does not upcast; DecodePayload does.
func Decode(b []byte) (Event, error) {
	var e Event
	dec := json.NewDecoder(bytes.NewReader(b))
	if err := dec.Decode(&e); err != nil {
		return Event{}, fmt.Errorf("%w: decode envelope: %v", ErrInvalidEvent, err)
	}
	if dec.More() {
		return Event{}, invalid("decode envelope: trailing data after the JSON object")
	}
	if err := checkEnvelope(e); err != nil {
		return Event{}, err
	}
	e.Time = e.Time.UTC()
	return e, nil
}

func checkEnvelope(e Event) error {
	if e.ID == "" {
		return invalid("envelope: id is required")
	}
	if e.Version < 1 {
		return invalid("envelope: version must be ≥ 1, got %d", e.Version)
	}
	if e.Time.IsZero() {
		return invalid("envelope: time is required")
	}
	if err := checkTypeAndStream(e.StreamID, e.Type); err != nil {
		return err
	}
	info := registry[e.Type]
	if e.SchemaVersion < 1 || e.SchemaVersion > info.current {
		return invalid("envelope: %s schema version %d not in 1..%d", e.Type, e.SchemaVersion, info.current)
	}
	return checkObject(e.Data)
}

func checkTypeAndStream(stream, typ string) error {
	kind, _, err := ParseStream(stream)
	if err != nil {
		return err
	}
	info, ok := registry[typ]
	if !ok {
		return invalid("unknown event type %q", typ)
	}
	if info.kind != kind {
		return invalid("event type %s does not belong on %s stream %q", typ, kind, stream)
	}
	return nil
}

func checkObject(data json.RawMessage) error {
	trimmed := bytes.TrimSpace(data)
	if len(trimmed) == 0 || trimmed[0] != '{' || !json.Valid(trimmed) {
		return invalid("data must be a JSON object")
	}
	return nil
}

// DecodePayload upcasts e and unmarshals its data into the typed payload of
// its type (*Submitted, *Progress, …), validating required fields.
func DecodePayload(e Event) (any, error) {
	up, err := Upcast(e)
	if err != nil {
		return nil, err
	}
	p := registry[up.Type].decode()
	if err := json.Unmarshal(up.Data, p); err != nil {
		return nil, fmt.Errorf("%w: %s data: %v", ErrInvalidEvent, up.Type, err)
	}
	if err := p.validate(); err != nil {
		return nil, err
	}
	return p, nil
}

// PayloadAs decodes e's payload into the concrete type T, e.g.
// PayloadAs[*Progress](e).
func PayloadAs[T any](e Event) (T, error) {
	var zero T
	p, err := DecodePayload(e)
	if err != nil {
		return zero, err
	}
	t, ok := p.(T)
	if !ok {
		return zero, fmt.Errorf("%w: %s payload is %T, not %T", ErrInvalidEvent, e.Type, p, zero)
	}
	return t, nil
}

// stampTime is the store's clock reading for an append: UTC, no monotonic
// part, microsecond precision so that every backend round-trips it exactly.
func stampTime(now time.Time) time.Time {
	return now.UTC().Truncate(time.Microsecond)
}
