package events

import (
	"errors"
	"fmt"
)

// Sentinel errors. Every error returned by a Store or by Prepare matches one
// of these with errors.Is.
var (
	// ErrVersionConflict: the stream was not at the expected version.
	ErrVersionConflict = errors.New("version conflict")
	// ErrStreamNotFound: the stream has no events.
	ErrStreamNotFound = errors.New("stream not found")
	// ErrInvalidTransition: the events break a lifecycle rule; the
	// *TransitionError names the rule.
	ErrInvalidTransition = errors.New("invalid transition")
	// ErrInvalidEvent: an event is malformed (unknown type, bad stream name,
	// payload missing a required field, data that is not a JSON object).
	ErrInvalidEvent = errors.New("invalid event")
	// ErrEventTooLarge: one event, or one Append call, exceeds the size
	// limits shared by every backend (MaxEventSize, MaxAppendSize).
	ErrEventTooLarge = errors.New("event too large")
	// ErrTooManyEvents: one Append call holds more than MaxAppendEvents.
	ErrTooManyEvents = errors.New("too many events in one append")
	// ErrChainBroken: the audit hash chain of a stream does not verify.
	ErrChainBroken = errors.New("hash chain broken")
	// ErrTransient: a backend failure that may succeed when retried
	// (throttling, timeouts); conflicts are never transient.
	ErrTransient = errors.New("transient store error")
)

// StoreError is the structured error every Store returns. It wraps one of
// the sentinels (or a context error) and says which operation, stream and
// version it concerned.
type StoreError struct {
	Op      string // "append", "load", "scan"
	Stream  string
	Version int64 // the expected version for append, the from-version for load
	Err     error
}

func (e *StoreError) Error() string {
	if e.Stream == "" {
		return fmt.Sprintf("%s: %v", e.Op, e.Err)
	}
	return fmt.Sprintf("%s %s@%d: %v", e.Op, e.Stream, e.Version, e.Err)
}

func (e *StoreError) Unwrap() error { return e.Err }

// TransitionError says which lifecycle rule an event broke. It matches
// ErrInvalidTransition with errors.Is.
type TransitionError struct {
	Rule    Rule   // stable rule name, e.g. "progress-before-start"
	Stream  string // stream the event was for
	Version int64  // version the event would have had
	Type    string // the rejected event's type
	Status  string // lifecycle status of the stream before the event
	Detail  string // human explanation
}

func (e *TransitionError) Error() string {
	return fmt.Sprintf("invalid transition: rule %s: %s %s at version %d (status %q): %s",
		e.Rule, e.Stream, e.Type, e.Version, e.Status, e.Detail)
}

func (e *TransitionError) Unwrap() error { return ErrInvalidTransition }

// ChainError names the first version at which a stream's hash chain breaks.
// It matches ErrChainBroken with errors.Is.
type ChainError struct {
	Stream  string
	Version int64  // first broken version
	Reason  string // what did not match
}

func (e *ChainError) Error() string {
	return fmt.Sprintf("hash chain broken: %s at version %d: %s", e.Stream, e.Version, e.Reason)
}

func (e *ChainError) Unwrap() error { return ErrChainBroken }

// invalid builds an ErrInvalidEvent with a reason.
func invalid(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrInvalidEvent, fmt.Sprintf(format, args...))
}
