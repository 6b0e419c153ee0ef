package bus

import (
	"encoding/json"
	"fmt"
	"time"

	awsevents "github.com/aws/aws-lambda-go/events"

	"github.com/streamer/streamer/events"
)

// DefaultSource is the source of streamer's bus entries unless configured
// otherwise (EVENT_SOURCE).
const DefaultSource = "streamer"

// ProcessorPattern is the event pattern of the rule that triggers the
// processor: every request.submitted from the default source. Use
// ProcessorPatternFor with another source.
const ProcessorPattern = `{"source":["streamer"],"detail-type":["request.submitted"]}`

// ProcessorPatternFor is ProcessorPattern for source.
func ProcessorPatternFor(source string) string {
	b, _ := json.Marshal(map[string][]string{"source": {source}, "detail-type": {events.RequestSubmitted}})
	// json.Marshal sorts keys: detail-type comes first; the pattern is the same.
	return string(b)
}

// CancelPattern is the event pattern of the local stack's rule that wakes
// a running attempt when its request gets request.cancel_requested
// (processor.Processor.Wake), from the default source. On AWS the
// processor Lambda that runs the request polls its log head instead: an
// EventBridge target would invoke another instance, not the running one.
const CancelPattern = `{"source":["streamer"],"detail-type":["request.cancel_requested"]}`

// Ref points at an event in the store: the stream and the version.
type Ref struct {
	Stream  string `json:"stream"`
	Version int64  `json:"version"`
}

// RefDetail is the detail of an event too large for the bus: its identity
// and a reference to resolve it by.
type RefDetail struct {
	ID      string    `json:"id"`
	Stream  string    `json:"stream"`
	Version int64     `json:"version"`
	Type    string    `json:"type"`
	Time    time.Time `json:"time"`
	Ref     Ref       `json:"ref"`
}

// Detail is the full detail of e: its JSON envelope.
func Detail(e events.Event) ([]byte, error) {
	b, err := events.Encode(e)
	if err != nil {
		return nil, fmt.Errorf("encode %s@%d: %w", e.StreamID, e.Version, err)
	}
	return b, nil
}

// RefDetailOf is the reference detail of e.
func RefDetailOf(e events.Event) ([]byte, error) {
	return json.Marshal(RefDetail{
		ID: e.ID, Stream: e.StreamID, Version: e.Version, Type: e.Type, Time: e.Time.UTC(),
		Ref: Ref{Stream: e.StreamID, Version: e.Version},
	})
}

// Size limits of an EventBridge entry.
const (
	// MaxEntrySize is EventBridge's limit on one PutEvents entry (and on
	// the sum of a request's entries) today: 1 MiB.
	MaxEntrySize = 1 << 20
	// LegacyMaxEntrySize is the limit before 2025, still in force on some
	// setups (and on event buses in other partitions): 256 KiB.
	LegacyMaxEntrySize = 256 << 10
	// MaxBatchEntries is the most entries one PutEvents request takes.
	MaxBatchEntries = 10
)

// EntrySize is the size EventBridge counts for a PutEvents entry: 14 bytes
// for Time when set, plus the UTF-8 bytes of Source, DetailType, Detail and
// every Resources element ("Calculating PutEvents event entry size" in the
// EventBridge user guide).
func EntrySize(source, detailType string, detail []byte, hasTime bool, resources []string) int {
	n := len(source) + len(detailType) + len(detail)
	if hasTime {
		n += 14
	}
	for _, r := range resources {
		n += len(r)
	}
	return n
}

// EventBridgeEvent is e as an EventBridge rule delivers it: the shape the
// local bus posts to its targets and that awsevents.EventBridgeEvent
// decodes. id is the bus's own id for this delivery (not e.ID).
func EventBridgeEvent(e events.Event, id, source, account, region string, detail []byte) awsevents.EventBridgeEvent {
	return awsevents.EventBridgeEvent{
		Version: "0", ID: id, DetailType: e.Type, Source: source, AccountID: account,
		Time: e.Time.UTC().Truncate(time.Second), Region: region, Resources: []string{}, Detail: detail,
	}
}
