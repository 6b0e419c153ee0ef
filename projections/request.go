package projections

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/streamer/streamer/events"
)

// Request statuses, as the lifecycle rules name them.
const (
	StatusQueued    = events.StatusQueued
	StatusRunning   = events.StatusRunning
	StatusCompleted = events.StatusCompleted
	StatusFailed    = events.StatusFailed
	StatusCancelled = events.StatusCancelled
	StatusTimedOut  = events.StatusTimedOut
)

// ErrorCodeTimedOut is RequestView.Error.Code of a timed-out request.
const ErrorCodeTimedOut = "timed_out"

// RequestView is the read view of one request stream: what the status API,
// `request --follow` and the WebSocket `status` action show. It is the fold
// of the stream's events 1..Version.
type RequestView struct {
	RequestID       string          `json:"requestId"`
	Action          string          `json:"action"`
	Status          string          `json:"status"` // queued|running|completed|failed|cancelled|timed_out
	Percentage      float64         `json:"percentage"`
	Message         string          `json:"message,omitempty"` // latest non-empty progress message, or the cancel reason
	Result          json.RawMessage `json:"result,omitempty"`  // handler result of a completed request
	Error           *RequestError   `json:"error,omitempty"`   // why a request failed or timed out
	Owner           string          `json:"owner"`
	Tenant          string          `json:"tenant"`
	Attempt         int             `json:"attempt"`
	CancelRequested bool            `json:"cancelRequested"`
	SubmittedAt     time.Time       `json:"submittedAt,omitzero"`
	StartedAt       time.Time       `json:"startedAt,omitzero"`   // start of the current attempt
	UpdatedAt       time.Time       `json:"updatedAt,omitzero"`   // time of the last applied event
	CompletedAt     time.Time       `json:"completedAt,omitzero"` // time of the terminal event
	Version         int64           `json:"version"`              // last applied event version
}

// RequestError is the error of a failed or timed-out request.
type RequestError struct {
	Code      string `json:"code"`
	Message   string `json:"message"`
	Retryable bool   `json:"retryable"`
}

// Terminal reports whether the request has ended.
func (v RequestView) Terminal() bool {
	switch v.Status {
	case StatusCompleted, StatusFailed, StatusCancelled, StatusTimedOut:
		return true
	}
	return false
}

// ApplyRequest folds e onto v and returns the new view; v is not modified.
// e must be the next event of v's stream (Guard(v.Version, e.Version) ==
// Apply, and for an empty view the request's first event); anything else is
// ErrOutOfOrder. The payload is decoded with events.DecodePayload, so events
// written in older schema versions are upcast first.
func ApplyRequest(v RequestView, e events.Event) (RequestView, error) {
	kind, id, err := events.ParseStream(e.StreamID)
	if err != nil {
		return v, err
	}
	if kind != events.KindRequest {
		return v, fmt.Errorf("%w: %s is not a request stream", ErrOutOfOrder, e.StreamID)
	}
	if err := checkNext(v.RequestID, v.Version, id, e); err != nil {
		return v, err
	}
	p, err := events.DecodePayload(e)
	if err != nil {
		return v, fmt.Errorf("apply %s@%d: %w", e.StreamID, e.Version, err)
	}
	at := e.Time.UTC()
	switch p := p.(type) {
	case *events.Submitted:
		v.RequestID, v.Action, v.Owner, v.Tenant = id, p.Action, p.Owner, p.Tenant
		if v.Tenant == "" {
			v.Tenant = e.Meta.Tenant
		}
		v.Status, v.SubmittedAt = StatusQueued, at
	case *events.Started:
		v.Status, v.Attempt, v.StartedAt = StatusRunning, p.Attempt, at
	case *events.Progress:
		v.Percentage = p.Percentage
		if p.Message != "" {
			v.Message = p.Message
		}
	case *events.Completed:
		v.Status, v.Percentage, v.CompletedAt = StatusCompleted, 100, at
		v.Result = cloneRaw(p.Result)
	case *events.Failed:
		v.Status, v.CompletedAt = StatusFailed, at
		v.Error = &RequestError{Code: p.Code, Message: p.Message, Retryable: p.Retryable}
		v.Attempt = max(v.Attempt, p.Attempt)
	case *events.CancelRequested:
		v.CancelRequested = true
	case *events.Cancelled:
		v.Status, v.CompletedAt = StatusCancelled, at
		if p.Reason != "" {
			v.Message = p.Reason
		}
	case *events.TimedOut:
		v.Status, v.CompletedAt = StatusTimedOut, at
		v.Error = &RequestError{Code: ErrorCodeTimedOut, Message: fmt.Sprintf("no outcome before the deadline %s", p.Deadline.UTC().Format(time.RFC3339))}
	default:
		return v, fmt.Errorf("%w: %s is not a request event", events.ErrInvalidEvent, e.Type)
	}
	v.UpdatedAt, v.Version = at, e.Version
	return v, nil
}

// checkNext verifies that e (of entity id) directly follows a view of
// entity viewID at version.
func checkNext(viewID string, version int64, id string, e events.Event) error {
	if version > 0 && viewID != id {
		return fmt.Errorf("%w: event of %s applied to the view of %q", ErrOutOfOrder, e.StreamID, viewID)
	}
	if Guard(version, e.Version) != Apply {
		return fmt.Errorf("%w: %s@%d onto a view at version %d", ErrOutOfOrder, e.StreamID, e.Version, version)
	}
	return nil
}

// cloneRaw copies raw JSON so a view never aliases an event's buffer; empty
// becomes nil.
func cloneRaw(b json.RawMessage) json.RawMessage {
	if len(b) == 0 {
		return nil
	}
	return append(json.RawMessage(nil), b...)
}
