package events

import (
	"encoding/json"
	"math"
	"time"
)

// Request event types.
const (
	RequestSubmitted       = "request.submitted"
	RequestStarted         = "request.started"
	RequestProgressed      = "request.progress"
	RequestCompleted       = "request.completed"
	RequestFailed          = "request.failed"
	RequestCancelRequested = "request.cancel_requested"
	RequestCancelled       = "request.cancelled"
	RequestTimedOut        = "request.timed_out"
)

// Connection event types.
const (
	ConnectionOpened       = "connection.opened"
	ConnectionSubscribed   = "connection.subscribed"
	ConnectionUnsubscribed = "connection.unsubscribed"
	ConnectionClosed       = "connection.closed"
)

// Submitted is the data of request.submitted: the first event of every
// request stream.
type Submitted struct {
	Action          string          `json:"action"`                    // handler action, e.g. "generate_report"
	Payload         json.RawMessage `json:"payload,omitempty"`         // the client's payload, as sent
	Owner           string          `json:"owner"`                     // user who submitted
	Tenant          string          `json:"tenant"`                    // owner's tenant
	ConnectionID    string          `json:"connectionId,omitempty"`    // socket it came from, if any
	IdempotencyKey  string          `json:"idempotencyKey,omitempty"`  // client's key (request ID derives from it)
	ClientRequestID string          `json:"clientRequestId,omitempty"` // client's own reference
	Deadline        *time.Time      `json:"deadline,omitempty"`        // when silence becomes request.timed_out
}

// Started is the data of request.started. A request may start more than once
// (a worker crashed and the work was re-delivered); Attempt must grow.
type Started struct {
	Attempt int    `json:"attempt"`          // 1 for the first attempt
	Worker  string `json:"worker,omitempty"` // which worker / Lambda request ID took it
}

// Progress is the data of request.progress (schema 2).
type Progress struct {
	Percentage float64        `json:"percentage"`        // 0–100, never decreasing
	Message    string         `json:"message,omitempty"` // human text
	Metadata   map[string]any `json:"metadata,omitempty"`
}

// Completed is the data of request.completed.
type Completed struct {
	Result json.RawMessage `json:"result,omitempty"` // handler's result, any JSON
}

// Failed is the data of request.failed (schema 2).
type Failed struct {
	Code      string `json:"code"`    // stable error code, e.g. "handler_error"
	Message   string `json:"message"` // human text
	Retryable bool   `json:"retryable"`
	Attempt   int    `json:"attempt,omitempty"`
}

// CancelRequested is the data of request.cancel_requested.
type CancelRequested struct {
	Reason string `json:"reason,omitempty"`
	By     string `json:"by,omitempty"` // user who asked
}

// Cancelled is the data of request.cancelled.
type Cancelled struct {
	Reason string `json:"reason,omitempty"`
}

// TimedOut is the data of request.timed_out.
type TimedOut struct {
	Deadline   time.Time `json:"deadline"`            // the deadline that passed
	LastSeenAt time.Time `json:"lastSeenAt,omitzero"` // last event before the silence
}

// Opened is the data of connection.opened.
type Opened struct {
	User   string `json:"user"`
	Tenant string `json:"tenant"`
	Source string `json:"source,omitempty"` // "websocket", client IP / user agent summary
	// Permissions are the token's permissions at $connect (auth.PermAuditRead, …).
	Permissions []string `json:"permissions,omitempty"`
}

// Subscribed is the data of connection.subscribed.
type Subscribed struct {
	RequestID   string `json:"requestId"`
	FromVersion int64  `json:"fromVersion"` // last version the client had; 0 for everything
}

// Unsubscribed is the data of connection.unsubscribed.
type Unsubscribed struct {
	RequestID string `json:"requestId"`
}

// Close reasons of connection.closed.
const (
	CloseClient  = "client"  // the client closed the socket
	CloseGone    = "gone"    // @connections answered 410 Gone
	CloseIdle    = "idle"    // idle timeout
	CloseExpired = "expired" // maximum connection age reached
)

// Closed is the data of connection.closed.
type Closed struct {
	Reason string `json:"reason"` // client | gone | idle | expired
}

// typeInfo is what the registry knows of one event type.
type typeInfo struct {
	kind     StreamKind
	current  int                // current schema version
	decode   func() validatable // new zero payload of the current schema
	terminal bool
}

type validatable interface{ validate() error }

var registry = map[string]typeInfo{
	RequestSubmitted:       {KindRequest, 1, func() validatable { return &Submitted{} }, false},
	RequestStarted:         {KindRequest, 1, func() validatable { return &Started{} }, false},
	RequestProgressed:      {KindRequest, 2, func() validatable { return &Progress{} }, false},
	RequestCompleted:       {KindRequest, 1, func() validatable { return &Completed{} }, true},
	RequestFailed:          {KindRequest, 2, func() validatable { return &Failed{} }, true},
	RequestCancelRequested: {KindRequest, 1, func() validatable { return &CancelRequested{} }, false},
	RequestCancelled:       {KindRequest, 1, func() validatable { return &Cancelled{} }, true},
	RequestTimedOut:        {KindRequest, 1, func() validatable { return &TimedOut{} }, true},
	ConnectionOpened:       {KindConnection, 1, func() validatable { return &Opened{} }, false},
	ConnectionSubscribed:   {KindConnection, 1, func() validatable { return &Subscribed{} }, false},
	ConnectionUnsubscribed: {KindConnection, 1, func() validatable { return &Unsubscribed{} }, false},
	ConnectionClosed:       {KindConnection, 1, func() validatable { return &Closed{} }, true},
}

// Types lists every event type in a stable order.
func Types() []string {
	return []string{
		RequestSubmitted, RequestStarted, RequestProgressed, RequestCompleted, RequestFailed,
		RequestCancelRequested, RequestCancelled, RequestTimedOut,
		ConnectionOpened, ConnectionSubscribed, ConnectionUnsubscribed, ConnectionClosed,
	}
}

// CurrentSchema is the schema version new events of typ are written with
// (0 for an unknown type).
func CurrentSchema(typ string) int { return registry[typ].current }

// IsTerminal reports whether typ ends its stream.
func IsTerminal(typ string) bool { return registry[typ].terminal }

func (p *Submitted) validate() error {
	switch {
	case p.Action == "":
		return invalid("request.submitted: action is required")
	case p.Owner == "":
		return invalid("request.submitted: owner is required")
	}
	return nil
}

func (p *Started) validate() error {
	if p.Attempt < 1 {
		return invalid("request.started: attempt must be ≥ 1, got %d", p.Attempt)
	}
	return nil
}

func (p *Progress) validate() error {
	if math.IsNaN(p.Percentage) || p.Percentage < 0 || p.Percentage > 100 {
		return invalid("request.progress: percentage must be within 0..100, got %v", p.Percentage)
	}
	return nil
}

func (p *Completed) validate() error { return nil }

func (p *Failed) validate() error {
	if p.Code == "" {
		return invalid("request.failed: code is required")
	}
	return nil
}

func (p *CancelRequested) validate() error { return nil }
func (p *Cancelled) validate() error       { return nil }

func (p *TimedOut) validate() error {
	if p.Deadline.IsZero() {
		return invalid("request.timed_out: deadline is required")
	}
	return nil
}

func (p *Opened) validate() error {
	if p.User == "" {
		return invalid("connection.opened: user is required")
	}
	return nil
}

func (p *Subscribed) validate() error {
	if p.RequestID == "" {
		return invalid("connection.subscribed: requestId is required")
	}
	if p.FromVersion < 0 {
		return invalid("connection.subscribed: fromVersion must be ≥ 0")
	}
	return nil
}

func (p *Unsubscribed) validate() error {
	if p.RequestID == "" {
		return invalid("connection.unsubscribed: requestId is required")
	}
	return nil
}

func (p *Closed) validate() error {
	switch p.Reason {
	case CloseClient, CloseGone, CloseIdle, CloseExpired:
		return nil
	}
	return invalid("connection.closed: reason must be client, gone, idle or expired, got %q", p.Reason)
}
