package events

import (
	"encoding/json"
	"fmt"
	"sync"
)

// Upcaster lifts the data of one event type from schema version From to
// From+1. Upcasters run when a payload is decoded, never when it is stored:
// the log keeps the bytes that were written, so the audit chain still
// verifies, and old logs stay readable forever.
type Upcaster struct {
	Type string
	From int
	Up   func(data json.RawMessage) (json.RawMessage, error)
}

var (
	upMu      sync.RWMutex
	upcasters = map[string]map[int]Upcaster{}
)

// RegisterUpcaster adds u to the registry. Registering two upcasters for the
// same type and version panics: that is a programming error.
func RegisterUpcaster(u Upcaster) {
	upMu.Lock()
	defer upMu.Unlock()
	if upcasters[u.Type] == nil {
		upcasters[u.Type] = map[int]Upcaster{}
	}
	if _, dup := upcasters[u.Type][u.From]; dup {
		panic(fmt.Sprintf("events: upcaster for %s schema %d registered twice", u.Type, u.From))
	}
	upcasters[u.Type][u.From] = u
}

// Upcast returns e with its Data lifted to the current schema version of its
// type. An event already current is returned unchanged. A schema version newer
// than this build knows, or a gap in the upcaster chain, is ErrInvalidEvent.
func Upcast(e Event) (Event, error) {
	info, ok := registry[e.Type]
	if !ok {
		return e, invalid("unknown event type %q", e.Type)
	}
	if e.SchemaVersion > info.current {
		return e, invalid("%s: schema version %d is newer than this build's %d", e.Type, e.SchemaVersion, info.current)
	}
	if e.SchemaVersion < 1 {
		return e, invalid("%s: schema version must be ≥ 1, got %d", e.Type, e.SchemaVersion)
	}
	upMu.RLock()
	defer upMu.RUnlock()
	for e.SchemaVersion < info.current {
		u, ok := upcasters[e.Type][e.SchemaVersion]
		if !ok {
			return e, invalid("%s: no upcaster from schema version %d", e.Type, e.SchemaVersion)
		}
		data, err := u.Up(e.Data)
		if err != nil {
			return e, fmt.Errorf("%w: upcast %s from schema %d: %v", ErrInvalidEvent, e.Type, e.SchemaVersion, err)
		}
		e.Data = data
		e.SchemaVersion++
	}
	return e, nil
}

// The shapes of earlier schema versions, kept readable.
func init() {
	// request.progress schema 1 carried an integer "percent" (0–100) and a
	// "status" text; schema 2 has "percentage" (float) and "message".
	RegisterUpcaster(Upcaster{Type: RequestProgressed, From: 1, Up: func(data json.RawMessage) (json.RawMessage, error) {
		var v1 struct {
			Percent  *float64       `json:"percent"`
			Status   string         `json:"status"`
			Metadata map[string]any `json:"metadata"`
		}
		if err := json.Unmarshal(data, &v1); err != nil {
			return nil, err
		}
		if v1.Percent == nil {
			return nil, fmt.Errorf("schema 1 progress without percent")
		}
		return json.Marshal(Progress{Percentage: *v1.Percent, Message: v1.Status, Metadata: v1.Metadata})
	}})
	// request.failed schema 1 carried a single "error" text; schema 2 has a
	// stable code, a message and a retryable flag.
	RegisterUpcaster(Upcaster{Type: RequestFailed, From: 1, Up: func(data json.RawMessage) (json.RawMessage, error) {
		var v1 struct {
			Error   string `json:"error"`
			Attempt int    `json:"attempt"`
		}
		if err := json.Unmarshal(data, &v1); err != nil {
			return nil, err
		}
		return json.Marshal(Failed{Code: "handler_error", Message: v1.Error, Retryable: false, Attempt: v1.Attempt})
	}})
}
