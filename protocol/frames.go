package protocol

import (
	"encoding/json"
	"time"
)

// Reserved actions; every other action names a handler and submits a
// request.
const (
	ActionSubscribe   = "subscribe"
	ActionUnsubscribe = "unsubscribe"
	ActionCancel      = "cancel"
	ActionStatus      = "status"
	ActionPing        = "ping"
)

// IsReserved reports whether action is one of the reserved actions.
func IsReserved(action string) bool {
	switch action {
	case ActionSubscribe, ActionUnsubscribe, ActionCancel, ActionStatus, ActionPing:
		return true
	}
	return false
}

// Limits of the protocol, as API Gateway WebSocket APIs have them.
const (
	MaxMessageSize  = 128 * 1024 // one client or server message
	MaxFrameSize    = 32 * 1024  // one WebSocket frame (API Gateway's; messages may span frames)
	MaxIDLength     = 128        // requestId, clientRequestId, idempotencyKey
	MaxActionLength = 64
	MaxReasonLength = 1024
)

// Inbound is a client frame. Which fields matter depends on Action:
//
//	handler action  payload, idempotencyKey, clientRequestId
//	subscribe       requestId, fromVersion
//	unsubscribe     requestId
//	cancel          requestId, reason
//	status          requestId
//	ping            —
//
// clientRequestId may be sent with any action and is echoed in the direct
// reply, so a client can match replies to what it sent. Unknown fields are
// ignored (forward compatibility).
type Inbound struct {
	Action          string          `json:"action"`
	ClientRequestID string          `json:"clientRequestId,omitempty"`
	IdempotencyKey  string          `json:"idempotencyKey,omitempty"`
	Payload         json.RawMessage `json:"payload,omitempty"`
	RequestID       string          `json:"requestId,omitempty"`
	FromVersion     int64           `json:"fromVersion,omitempty"`
	Reason          string          `json:"reason,omitempty"`
}

// Server frame types (Outbound.Type).
const (
	TypeQueued   = "queued"   // an async request was accepted (or already existed)
	TypeResponse = "response" // a sync request finished: result or error
	TypeEvent    = "event"    // one event of a request stream (live or replayed)
	TypeAck      = "ack"      // subscribe / unsubscribe / cancel accepted
	TypeStatus   = "status"   // answer to status: the request view
	TypePong     = "pong"     // answer to ping
	TypeError    = "error"    // the frame was refused; see Code
)

// Outbound is a server frame. Every frame about a request carries RequestID
// and Version: the version of the request stream the frame reflects (the
// event's own version for "event" frames, the stream's head for acks and
// status). Clients keep the highest Version seen per request and drop
// event frames at or below it.
type Outbound struct {
	Type            string `json:"type"`
	Action          string `json:"action,omitempty"`
	RequestID       string `json:"requestId,omitempty"`
	Version         int64  `json:"version,omitempty"`
	ClientRequestID string `json:"clientRequestId,omitempty"`

	// queued
	Duplicate bool `json:"duplicate,omitempty"` // the idempotency key named an existing request

	// Truncated: the frame was over MaxMessageSize, so Data, Result and the
	// request view's result were left out; read them over the HTTP API.
	Truncated bool `json:"truncated,omitempty"`

	// response: Status is completed or failed; Result or Error.
	Status string          `json:"status,omitempty"`
	Result json.RawMessage `json:"result,omitempty"`

	// event (Time is also the server time of a pong)
	Event string          `json:"event,omitempty"` // event type, e.g. request.progress
	Time  *time.Time      `json:"time,omitempty"`  // event time (UTC)
	Data  json.RawMessage `json:"data,omitempty"`  // event payload (current schema)

	// status: the request view (docs/protocol.md lists its fields)
	Request json.RawMessage `json:"request,omitempty"`

	// error (and failed responses)
	Error *Error `json:"error,omitempty"`
}

// Marshal encodes f. Outbound frames are built from known types and never
// fail to encode; a failure is a programming error and panics.
func (f Outbound) Marshal() []byte {
	b, err := json.Marshal(f)
	if err != nil {
		panic("protocol: encode outbound frame: " + err.Error())
	}
	return b
}

// MarshalBounded encodes f within MaxMessageSize, the most API Gateway's
// @connections API posts in one message. A frame over the limit is sent
// without its bulky parts (Data, Result, and the "result" of a status
// frame's request view) and with Truncated set; what is left of a frame —
// type, IDs, version, event type, error — is always small.
func (f Outbound) MarshalBounded() []byte {
	b := f.Marshal()
	if len(b) <= MaxMessageSize {
		return b
	}
	f.Data, f.Result, f.Truncated = nil, nil, true
	if f.Request != nil {
		var view map[string]json.RawMessage
		if json.Unmarshal(f.Request, &view) == nil {
			delete(view, "result")
			f.Request, _ = json.Marshal(view)
		}
		if len(f.Marshal()) > MaxMessageSize {
			f.Request = nil
		}
	}
	return f.Marshal()
}

// ErrorFrame builds the error frame answering in (which may be nil when the
// frame could not be decoded).
func ErrorFrame(in *Inbound, e *Error) Outbound {
	f := Outbound{Type: TypeError, Error: e}
	if in != nil {
		f.Action, f.RequestID, f.ClientRequestID = in.Action, in.RequestID, in.ClientRequestID
	}
	return f
}
