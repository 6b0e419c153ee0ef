package handler

import (
	"errors"
	"fmt"
)

// Router errors.
var (
	// ErrUnknownAction: no handler is registered for the action.
	ErrUnknownAction = errors.New("handler: unknown action")
	// ErrDuplicateAction: Register was given a second handler for an action.
	ErrDuplicateAction = errors.New("handler: action already registered")
	// ErrReservedAction: the action is one of the protocol's reserved
	// actions (subscribe, unsubscribe, cancel, status, ping).
	ErrReservedAction = errors.New("handler: reserved action")
	// ErrInvalidAction: the action name cannot be routed (empty, too long,
	// starting with '$', or holding spaces or control characters).
	ErrInvalidAction = errors.New("handler: invalid action name")
	// ErrNotProgressHandler: a handler that is not a ProgressHandler
	// returned ErrAsyncRequired on the async path too, so nothing can run
	// it.
	ErrNotProgressHandler = errors.New("handler: async processing required but the handler is not a ProgressHandler")
)

// Reporter errors, returned to the handler by Reporter implementations.
var (
	// ErrInvalidPercentage: a percentage outside 0–100 (or NaN).
	ErrInvalidPercentage = errors.New("handler: percentage must be within 0..100")
	// ErrPercentageDecreased: a percentage below the one the handler
	// reported before. Nothing is appended.
	ErrPercentageDecreased = errors.New("handler: percentage must not decrease")
	// ErrRequestEnded: the request has already ended (completed, failed,
	// cancelled, timed out) or another attempt took it over; nothing more
	// is appended for this attempt. The error also wraps the reason, e.g.
	// ErrCancelled.
	ErrRequestEnded = errors.New("handler: request already ended")
)

// Causes of a cancelled handler context: context.Cause(ctx) returns one of
// them (wrapped) when the processor stopped the handler.
var (
	// ErrCancelled: the client asked to cancel the request.
	ErrCancelled = errors.New("handler: request cancelled")
	// ErrTimedOut: the request's deadline passed, or the handler was silent
	// (neither reported nor returned) for the processor's silence timeout.
	ErrTimedOut = errors.New("handler: request timed out")
	// ErrSuperseded: the request ended elsewhere, or a newer attempt of it
	// started on another worker.
	ErrSuperseded = errors.New("handler: request ended or taken over elsewhere")
)

// ValidationError is a handler's Validate refusing a payload. Its message
// is the handler's own (it is shown to the client with code
// validation_failed).
type ValidationError struct {
	Action string
	Err    error
}

func (e *ValidationError) Error() string { return e.Err.Error() }

func (e *ValidationError) Unwrap() error { return e.Err }

// PanicError is a panic inside a handler (or a middleware) turned into an
// error by the Router or the Recover middleware.
type PanicError struct {
	Action    string
	RequestID string
	Value     any    // what was passed to panic
	Stack     []byte // the panicking goroutine's stack
}

func (e *PanicError) Error() string {
	return fmt.Sprintf("handler %s panicked: %v", e.Action, e.Value)
}

// Unwrap returns the panic value when it is an error, so a handler that
// panics with an error can still be matched with errors.Is.
func (e *PanicError) Unwrap() error {
	err, _ := e.Value.(error)
	return err
}
