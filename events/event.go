package events

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"
)

// Event is the immutable envelope of one state change. The store stamps ID,
// StreamID, Version, Time, PrevHash and Hash when the event is appended;
// callers set Type, Data and Meta (and SchemaVersion only to write an old
// payload shape on purpose).
type Event struct {
	ID            string          `json:"id"`            // UUIDv7, time ordered
	StreamID      string          `json:"stream"`        // "request/<id>" or "connection/<id>"
	Version       int64           `json:"version"`       // 1-based, gapless per stream
	Type          string          `json:"type"`          // e.g. "request.progress"
	SchemaVersion int             `json:"schemaVersion"` // shape of Data; upcasters lift old shapes
	Time          time.Time       `json:"time"`          // UTC, stamped at append
	Meta          Meta            `json:"meta"`
	Data          json.RawMessage `json:"data"`     // a JSON object, stored byte for byte
	PrevHash      string          `json:"prevHash"` // Hash of version-1; "" for version 1
	Hash          string          `json:"hash"`     // hex SHA-256, see ComputeHash
}

// Meta says who caused an event and how it relates to others.
type Meta struct {
	Actor         string `json:"actor,omitempty"`         // subject (user ID, or "system:<component>")
	Tenant        string `json:"tenant,omitempty"`        // tenant of the actor
	CorrelationID string `json:"correlationId,omitempty"` // ties together everything one client action caused
	CausationID   string `json:"causationId,omitempty"`   // ID of the event or command that caused this one
	TraceID       string `json:"traceId,omitempty"`       // distributed trace ID
	Source        string `json:"source,omitempty"`        // component that appended it ("router", "processor", …)
}

// Stream kinds and their name prefixes.
const (
	RequestStreamPrefix    = "request/"
	ConnectionStreamPrefix = "connection/"
)

// RequestStream is the stream name of request id.
func RequestStream(id string) string { return RequestStreamPrefix + id }

// ConnectionStream is the stream name of connection id.
func ConnectionStream(id string) string { return ConnectionStreamPrefix + id }

// StreamKind is "request" or "connection" for a valid stream name.
type StreamKind string

const (
	KindRequest    StreamKind = "request"
	KindConnection StreamKind = "connection"
)

// MaxStreamIDLength bounds stream names (DynamoDB allows 2048 bytes for a
// partition key; we keep well below it).
const MaxStreamIDLength = 512

// ParseStream splits a stream name into its kind and entity ID.
func ParseStream(stream string) (StreamKind, string, error) {
	if !utf8.ValidString(stream) {
		return "", "", invalid("stream name is not valid UTF-8")
	}
	if len(stream) > MaxStreamIDLength {
		return "", "", invalid("stream name longer than %d bytes", MaxStreamIDLength)
	}
	for _, k := range []struct {
		prefix string
		kind   StreamKind
	}{{RequestStreamPrefix, KindRequest}, {ConnectionStreamPrefix, KindConnection}} {
		if id, ok := strings.CutPrefix(stream, k.prefix); ok {
			if id == "" || strings.ContainsAny(id, "/\x00") {
				return "", "", invalid("stream %q: entity ID must be non-empty and contain no '/'", stream)
			}
			return k.kind, id, nil
		}
	}
	return "", "", invalid("stream %q: name must start with %q or %q", stream, RequestStreamPrefix, ConnectionStreamPrefix)
}

// New builds an event of type typ with payload marshalled as its data and the
// current schema version of that type.
func New(typ string, payload any, meta Meta) (Event, error) {
	info, ok := registry[typ]
	if !ok {
		return Event{}, invalid("unknown event type %q", typ)
	}
	data, err := json.Marshal(payload)
	if err != nil {
		return Event{}, fmt.Errorf("new %s: %w", typ, err)
	}
	return Event{Type: typ, SchemaVersion: info.current, Data: data, Meta: meta}, nil
}

// MustNew is New for payloads known to be valid (tests, examples); it panics
// on error.
func MustNew(typ string, payload any, meta Meta) Event {
	e, err := New(typ, payload, meta)
	if err != nil {
		panic(err)
	}
	return e
}

// requestIDSpace is the UUIDv5 name space of deterministic request IDs.
var requestIDSpace = uuid.MustParse("5d0c6c7e-7a8b-4e55-9b0e-8f3c2d1a6b40")

// RequestID derives the request ID of a submission from the tenant, the user
// and the client's idempotency key: the same triple always gives the same ID,
// so a repeated submit appends "request.submitted" at expected version 0 onto
// a stream that already exists and fails with ErrVersionConflict instead of
// creating a second request. Fields are length-prefixed so that no two
// different triples collide by concatenation.
func RequestID(tenant, user, idempotencyKey string) string {
	name := fmt.Sprintf("%d:%s|%d:%s|%d:%s", len(tenant), tenant, len(user), user, len(idempotencyKey), idempotencyKey)
	return uuid.NewSHA1(requestIDSpace, []byte(name)).String()
}

// NewID returns a fresh time-ordered UUIDv7 string.
func NewID() string {
	id, err := uuid.NewV7()
	if err != nil { // only when the system's random source fails
		return uuid.NewString()
	}
	return id.String()
}
