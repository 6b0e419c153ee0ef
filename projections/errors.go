package projections

import "errors"

// Sentinel errors. View stores return errors that match them with errors.Is.
var (
	// ErrNotFound: no view with that ID in the generation.
	ErrNotFound = errors.New("view not found")
	// ErrViewConflict: a guarded write found a stored version other than the
	// expected one (or the Meta record's revision moved on). Nothing was
	// written; reload and retry.
	ErrViewConflict = errors.New("view version conflict")
	// ErrFenced: the store was opened with a fence (a Meta epoch) and the
	// generations have changed since — a rebuild started, switched or was
	// aborted. Nothing was written; resolve the write targets again.
	ErrFenced = errors.New("view generation fenced")
	// ErrInvalidCursor: a list cursor that this store did not hand out.
	ErrInvalidCursor = errors.New("invalid list cursor")
	// ErrOutOfOrder: an event handed to ApplyRequest or ApplyConnection that
	// does not directly follow the view's version, or belongs to another
	// stream. Use Guard first.
	ErrOutOfOrder = errors.New("event out of order for view")
)
