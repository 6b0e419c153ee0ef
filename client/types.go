package client

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/streamer/streamer/protocol"
)

// Sentinel errors. Calls wrap them; test with errors.Is.
var (
	// ErrClosed: the client was closed (Close, or the context given to Dial
	// ended); every pending and later call fails with it.
	ErrClosed = errors.New("client closed")
	// ErrUnauthorized: the server refused the WebSocket handshake with 401 or
	// 403. Terminal: the client does not retry.
	ErrUnauthorized = errors.New("handshake refused: unauthorized")
	// ErrReconnectFailed: ReconnectPolicy.MaxAttempts redials failed in a row.
	ErrReconnectFailed = errors.New("reconnect failed")

	// ErrRequestFailed, ErrRequestCancelled and ErrRequestTimedOut classify a
	// request that ended without completing (Result.Err, *RequestError).
	ErrRequestFailed    = errors.New("request failed")
	ErrRequestCancelled = errors.New("request cancelled")
	ErrRequestTimedOut  = errors.New("request timed out")
)

// Request statuses of Result.Status.
const (
	StatusCompleted = "completed"
	StatusFailed    = "failed"
	StatusCancelled = "cancelled"
	StatusTimedOut  = "timed_out"
)

// Terminal event types: a request's stream ends with exactly one of them.
const (
	EventSubmitted = "request.submitted"
	EventProgress  = "request.progress"
	EventCompleted = "request.completed"
	EventFailed    = "request.failed"
	EventCancelled = "request.cancelled"
	EventTimedOut  = "request.timed_out"
)

// IsTerminal reports whether eventType ends a request.
func IsTerminal(eventType string) bool {
	switch eventType {
	case EventCompleted, EventFailed, EventCancelled, EventTimedOut:
		return true
	}
	return false
}

// Event is one event of a request stream as the server sent it.
type Event struct {
	RequestID string          `json:"requestId"`
	Version   int64           `json:"version"`
	Type      string          `json:"event"` // e.g. request.progress
	Time      time.Time       `json:"time"`
	Data      json.RawMessage `json:"data,omitempty"`
	// Truncated: the event was over the protocol's message limit and came
	// without Data; read it from the HTTP audit API.
	Truncated bool `json:"truncated,omitempty"`
}

// Frame is the event as a wire frame (type "event"), as the CLI prints it.
func (e Event) Frame() protocol.Outbound {
	f := protocol.Outbound{Type: protocol.TypeEvent, RequestID: e.RequestID, Version: e.Version, Event: e.Type, Data: e.Data, Truncated: e.Truncated}
	if !e.Time.IsZero() {
		t := e.Time
		f.Time = &t
	}
	return f
}

// Progress is a request.progress event, decoded.
type Progress struct {
	RequestID  string
	Version    int64
	Percentage float64
	Message    string
}

// Progress decodes a request.progress event; ok is false for other events
// and for data that is not a progress object.
func (e Event) Progress() (Progress, bool) {
	if e.Type != EventProgress {
		return Progress{}, false
	}
	var d struct {
		Percentage float64 `json:"percentage"`
		Message    string  `json:"message"`
	}
	if err := json.Unmarshal(e.Data, &d); err != nil {
		return Progress{}, false
	}
	return Progress{RequestID: e.RequestID, Version: e.Version, Percentage: d.Percentage, Message: d.Message}, true
}

// Submission is the server's first answer to a handler action: "queued"
// (async; follow it) or "response" (sync; final).
type Submission struct {
	Type           string // protocol.TypeQueued or protocol.TypeResponse
	RequestID      string
	Version        int64
	Duplicate      bool            // queued: the idempotency key named an existing request
	Status         string          // response: completed | failed
	Result         json.RawMessage // response: the result when completed
	Error          *protocol.Error // response: the error when failed
	Truncated      bool            // response: over the message limit, sent without Result
	IdempotencyKey string          // the key sent (generated when the caller gave none)
}

// Queued reports whether the request runs asynchronously.
func (s Submission) Queued() bool { return s.Type == protocol.TypeQueued }

// Outcome is the Result of a sync response; nil for a queued request.
func (s Submission) Outcome() *Result {
	if s.Queued() {
		return nil
	}
	r := &Result{RequestID: s.RequestID, Status: s.Status, Result: s.Result, Error: s.Error, Version: s.Version, Truncated: s.Truncated}
	if r.Status != StatusCompleted && r.Error == nil {
		r.Error = protocol.Errorf(protocol.CodeHandlerError, "request %s", r.Status)
	}
	return r
}

// Result is how a request ended.
type Result struct {
	RequestID string
	Status    string          // completed | failed | cancelled | timed_out
	Result    json.RawMessage // completed: the handler's result
	Error     *protocol.Error // failed: code, message, retryable
	Version   int64           // version of the terminal event (or of the sync response)
	Events    []Event         // every event seen, deduplicated, in version order
	// Truncated: the terminal frame was over the protocol's message limit
	// and came without its bulky part, so Result (or Error's details) is
	// missing; read the whole event from the audit API
	// (GET /requests/{id}/events).
	Truncated bool

	reason string // cancelled: the reason given
}

// Err is nil for a completed request, else a *RequestError that matches
// ErrRequestFailed, ErrRequestCancelled or ErrRequestTimedOut (and, for a
// failure, the *protocol.Error) with errors.Is / errors.As.
func (r *Result) Err() error {
	if r == nil || r.Status == StatusCompleted {
		return nil
	}
	return &RequestError{RequestID: r.RequestID, Status: r.Status, Err: r.Error, Reason: r.reason}
}

// RequestError is a request that ended without completing.
type RequestError struct {
	RequestID string
	Status    string          // failed | cancelled | timed_out
	Err       *protocol.Error // failed: the handler's error
	Reason    string          // cancelled: the reason given
}

func (e *RequestError) Error() string {
	switch e.Status {
	case StatusFailed:
		if e.Err != nil {
			return fmt.Sprintf("request %s failed: %v", e.RequestID, e.Err)
		}
		return fmt.Sprintf("request %s failed", e.RequestID)
	case StatusCancelled:
		if e.Reason != "" {
			return fmt.Sprintf("request %s cancelled: %s", e.RequestID, e.Reason)
		}
		return fmt.Sprintf("request %s cancelled", e.RequestID)
	case StatusTimedOut:
		return fmt.Sprintf("request %s timed out", e.RequestID)
	}
	return fmt.Sprintf("request %s ended with status %q", e.RequestID, e.Status)
}

// Unwrap gives the status sentinel and, for a failure, the *protocol.Error.
func (e *RequestError) Unwrap() []error {
	var s error
	switch e.Status {
	case StatusFailed:
		s = ErrRequestFailed
	case StatusCancelled:
		s = ErrRequestCancelled
	case StatusTimedOut:
		s = ErrRequestTimedOut
	}
	out := make([]error, 0, 2)
	if s != nil {
		out = append(out, s)
	}
	if e.Err != nil {
		out = append(out, e.Err)
	}
	return out
}

// HandshakeError is a WebSocket handshake the server answered with an HTTP
// status other than 101. 401 and 403 match ErrUnauthorized.
type HandshakeError struct {
	StatusCode int
	Message    string // the reason the response body gave, if any
	Err        error
}

func (e *HandshakeError) Error() string {
	if e.Message != "" {
		return fmt.Sprintf("handshake refused with HTTP %d: %s", e.StatusCode, e.Message)
	}
	return fmt.Sprintf("handshake refused with HTTP %d", e.StatusCode)
}

// Unwrap gives ErrUnauthorized for 401 and 403, and the dial error.
func (e *HandshakeError) Unwrap() []error {
	out := []error{}
	if e.unauthorized() {
		out = append(out, ErrUnauthorized)
	}
	if e.Err != nil {
		out = append(out, e.Err)
	}
	return out
}

func (e *HandshakeError) unauthorized() bool {
	return e.StatusCode == 401 || e.StatusCode == 403
}

// resultOf builds the Result of a terminal event.
func resultOf(end Event, events []Event) *Result {
	r := &Result{RequestID: end.RequestID, Version: end.Version, Events: events, Truncated: end.Truncated}
	switch end.Type {
	case EventCompleted:
		r.Status = StatusCompleted
		var d struct {
			Result json.RawMessage `json:"result"`
		}
		if json.Unmarshal(end.Data, &d) == nil {
			r.Result = d.Result
		}
	case EventFailed:
		r.Status = StatusFailed
		e := &protocol.Error{Code: protocol.CodeHandlerError, Message: "request failed"}
		if json.Unmarshal(end.Data, e) != nil || e.Code == "" {
			e.Code = protocol.CodeHandlerError
		}
		r.Error = e
	case EventCancelled:
		r.Status = StatusCancelled
		var d struct {
			Reason string `json:"reason"`
		}
		if json.Unmarshal(end.Data, &d) == nil {
			r.reason = d.Reason
		}
	case EventTimedOut:
		r.Status = StatusTimedOut
	}
	return r
}
