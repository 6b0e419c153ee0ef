package handler

import (
	"context"
	"encoding/json"
	"errors"
	"time"

	"github.com/streamer/streamer/auth"
)

// ErrAsyncRequired, returned by Process, turns the call into an async
// request: the request is queued and ProcessWithProgress runs on a worker.
var ErrAsyncRequired = errors.New("handler: async processing required")

// DefaultAsyncThreshold: a handler whose EstimatedDuration exceeds it is
// run asynchronously without calling Process first.
const DefaultAsyncThreshold = 5 * time.Second

// Request is what a handler works on.
type Request struct {
	ID              string          // request ID (stream request/<ID>)
	Action          string          // the handler's action
	Payload         json.RawMessage // the client's payload, as sent
	Principal       auth.Principal  // who submitted it
	ConnectionID    string          // socket it came from, if any
	ClientRequestID string          // the client's own reference, if any
	Attempt         int             // 1 for the first attempt (async only; 0 inline)
	SubmittedAt     time.Time
}

// Response is a sync handler's answer.
type Response struct {
	Result json.RawMessage // any JSON; becomes request.completed's result
}

// Handler does the work of one action.
type Handler interface {
	Action() string
	// EstimatedDuration over the router's threshold makes the action async.
	EstimatedDuration() time.Duration
	// Validate refuses a bad payload before anything is stored; its error
	// message is shown to the client (code validation_failed).
	Validate(req *Request) error
	// Process answers inline, or returns ErrAsyncRequired.
	Process(ctx context.Context, req *Request) (*Response, error)
}

// ProgressHandler is a Handler that can run asynchronously.
type ProgressHandler interface {
	Handler
	// ProcessWithProgress does the work, reporting through r. It ends the
	// request with r.Complete or r.Fail; returning an error without either
	// fails the request with that error; ctx is cancelled when the
	// request is cancelled or its deadline passes.
	ProcessWithProgress(ctx context.Context, req *Request, r Reporter) error
}

// Reporter appends progress for one request. Implementations coalesce
// (docs/handlers.md states the policy) and are safe for one goroutine.
type Reporter interface {
	// Report records progress: percentage 0–100, never decreasing; an
	// empty message keeps the previous one.
	Report(ctx context.Context, percentage float64, message string) error
	// ReportWithMetadata is Report with handler metadata attached.
	ReportWithMetadata(ctx context.Context, percentage float64, message string, metadata map[string]any) error
	// Complete ends the request successfully with result (any JSON value).
	Complete(ctx context.Context, result json.RawMessage) error
	// Fail ends the request with a stable code and a message.
	Fail(ctx context.Context, code, message string, retryable bool) error
}
