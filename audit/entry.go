package audit

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/streamer/streamer/events"
)

// Entry is one event of a request's history as the HTTP API and `streamer
// audit --json` show it: the envelope with its data upcast to the current
// schema, a human summary, and the chain fields.
type Entry struct {
	ID            string          `json:"id"`
	Stream        string          `json:"stream"`
	Version       int64           `json:"version"`
	Type          string          `json:"type"`
	Time          time.Time       `json:"time"`
	Actor         string          `json:"actor"`
	SchemaVersion int             `json:"schemaVersion"` // of Data: the current schema when upcasting succeeded
	Data          json.RawMessage `json:"data"`          // null when the stored data is not JSON (a damaged log)
	Meta          events.Meta     `json:"meta"`
	Summary       string          `json:"summary"`
	PrevHash      string          `json:"prevHash"`
	Hash          string          `json:"hash"`
	// Stored holds the schema version and data as stored when upcasting
	// changed them. The hash covers the stored form, so a verifier uses
	// Stored when it is present.
	Stored *Stored `json:"stored,omitempty"`
	// Warning says why the data is shown as stored (it could not be
	// upcast) or not at all.
	Warning string `json:"warning,omitempty"`
}

// Stored is the stored form of an upcast event's data.
type Stored struct {
	SchemaVersion int             `json:"schemaVersion"`
	Data          json.RawMessage `json:"data"`
}

// NewEntry builds the entry of e.
func NewEntry(e events.Event) Entry {
	en := Entry{
		ID: e.ID, Stream: e.StreamID, Version: e.Version, Type: e.Type, Time: e.Time.UTC(),
		Actor: e.Meta.Actor, SchemaVersion: e.SchemaVersion, Meta: e.Meta,
		Summary: Summary(e), PrevHash: e.PrevHash, Hash: e.Hash,
	}
	if !json.Valid(e.Data) {
		en.Data = json.RawMessage("null")
		en.Warning = "stored data is not valid JSON"
		return en
	}
	en.Data = compact(e.Data)
	up, err := events.Upcast(e)
	switch {
	case err != nil:
		en.Warning = fmt.Sprintf("data shown as stored: %v", err)
	case up.SchemaVersion != e.SchemaVersion:
		en.Stored = &Stored{SchemaVersion: e.SchemaVersion, Data: en.Data}
		en.SchemaVersion, en.Data = up.SchemaVersion, compact(up.Data)
	}
	return en
}

// compact copies raw JSON without insignificant whitespace; the bytes of
// strings and numbers are kept, so the canonical encoding (and the hash)
// of the data does not change.
func compact(raw json.RawMessage) json.RawMessage {
	var b bytes.Buffer
	if err := json.Compact(&b, raw); err != nil {
		return append(json.RawMessage(nil), raw...)
	}
	return b.Bytes()
}

// Event returns the event as stored, as far as the entry shows it: the
// input of events.Verify. An entry of data that was not JSON gives "null"
// data, which does not verify.
func (en Entry) Event() events.Event {
	e := events.Event{
		ID: en.ID, StreamID: en.Stream, Version: en.Version, Type: en.Type, SchemaVersion: en.SchemaVersion,
		Time: en.Time.UTC(), Meta: en.Meta, Data: en.Data, PrevHash: en.PrevHash, Hash: en.Hash,
	}
	if en.Stored != nil {
		e.SchemaVersion, e.Data = en.Stored.SchemaVersion, en.Stored.Data
	}
	return e
}

// Summary is a one-line human description of e: "submitted echo by alice",
// "started (attempt 1, worker-3)", "42% generating rows", "completed",
// "failed: handler_error upstream timeout", …
func Summary(e events.Event) string {
	p, err := events.DecodePayload(e)
	if err != nil {
		return "unreadable: " + err.Error()
	}
	switch p := p.(type) {
	case *events.Submitted:
		s := "submitted " + p.Action
		if p.Owner != "" {
			s += " by " + p.Owner
		}
		return s
	case *events.Started:
		s := "started (attempt " + strconv.Itoa(p.Attempt)
		if p.Worker != "" {
			s += ", " + p.Worker
		}
		return s + ")"
	case *events.Progress:
		return strings.TrimSpace(strconv.FormatFloat(p.Percentage, 'f', -1, 64) + "% " + p.Message)
	case *events.Completed:
		return "completed"
	case *events.Failed:
		s := strings.TrimSpace("failed: " + p.Code + " " + p.Message)
		if p.Retryable {
			s += " (retryable)"
		}
		return s
	case *events.CancelRequested:
		s := "cancel requested"
		if p.By != "" {
			s += " by " + p.By
		}
		if p.Reason != "" {
			s += ": " + p.Reason
		}
		return s
	case *events.Cancelled:
		if p.Reason != "" {
			return "cancelled: " + p.Reason
		}
		return "cancelled"
	case *events.TimedOut:
		return "timed out (deadline " + p.Deadline.UTC().Format(time.RFC3339) + ")"
	case *events.Opened:
		return "opened by " + p.User
	case *events.Subscribed:
		return fmt.Sprintf("subscribed to %s from version %d", p.RequestID, p.FromVersion)
	case *events.Unsubscribed:
		return "unsubscribed from " + p.RequestID
	case *events.Closed:
		return "closed: " + p.Reason
	}
	return e.Type
}

// Entries builds the entries of evs.
func Entries(evs []events.Event) []Entry {
	out := make([]Entry, len(evs))
	for i, e := range evs {
		out[i] = NewEntry(e)
	}
	return out
}
