package protocol

import (
	"encoding/json"
	"fmt"

	"github.com/streamer/streamer/events"
)

// EventFrame builds the "event" frame of one request event, replayed or
// live: its request ID, version, type, time and payload. The payload is
// sent in the current schema of its type, so clients only ever see one
// shape per event type: as stored when it is current (byte for byte, as
// the live fan-out sends it), else upcast by events.DecodePayload.
func EventFrame(e events.Event) (Outbound, error) {
	kind, id, err := events.ParseStream(e.StreamID)
	if err != nil {
		return Outbound{}, fmt.Errorf("event frame: %w", err)
	}
	if kind != events.KindRequest {
		return Outbound{}, fmt.Errorf("event frame: %s is not a request stream: %w", e.StreamID, events.ErrInvalidEvent)
	}
	p, err := events.DecodePayload(e)
	if err != nil {
		return Outbound{}, fmt.Errorf("event frame %s@%d: %w", e.StreamID, e.Version, err)
	}
	data := e.Data
	if e.SchemaVersion != events.CurrentSchema(e.Type) {
		if data, err = json.Marshal(p); err != nil {
			return Outbound{}, fmt.Errorf("event frame %s@%d: encode payload: %w", e.StreamID, e.Version, err)
		}
	}
	t := e.Time.UTC()
	return Outbound{Type: TypeEvent, RequestID: id, Version: e.Version, Event: e.Type, Time: &t, Data: data}, nil
}
