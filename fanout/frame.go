package fanout

import (
	"fmt"

	"github.com/streamer/streamer/events"
	"github.com/streamer/streamer/protocol"
)

// frame is the message posted for one event. bare is the same frame
// without its data and marked truncated: what is posted when the full frame
// is over the message limit (ours or the API's) or its data could not be
// brought to the current schema, so the client still sees the version and
// knows to fetch the event.
type frame struct {
	full []byte // nil when only bare can be posted
	bare []byte
}

// buildFrame encodes the event frame of e (protocol.EventFrame: the same
// frame a replay sends). The returned error says why only the bare frame is
// available.
func buildFrame(e events.Event) (frame, error) {
	out, err := protocol.EventFrame(e)
	if err != nil {
		_, id, _ := events.ParseStream(e.StreamID)
		t := e.Time.UTC()
		bare := protocol.Outbound{Type: protocol.TypeEvent, RequestID: id, Version: e.Version, Event: e.Type, Time: &t, Truncated: true}
		return frame{bare: bare.Marshal()}, err
	}
	// EventFrame decoded the data, so it is valid JSON and Marshal cannot
	// fail on it.
	full := out.Marshal()
	out.Data, out.Truncated = nil, true
	f := frame{bare: out.Marshal()}
	if len(full) > protocol.MaxMessageSize {
		return f, fmt.Errorf("frame of %d bytes exceeds the %d byte message limit", len(full), protocol.MaxMessageSize)
	}
	f.full = full
	return f, nil
}
