package projections

import "fmt"

// Step is what the version guard says to do with one event.
type Step int

const (
	// Apply: the event is the next one (view version + 1).
	Apply Step = iota
	// Skip: the view already reflects the event (a duplicate or a retry).
	Skip
	// Gap: events between the view and this one are missing; load them from
	// the log and apply them first.
	Gap
)

func (s Step) String() string {
	switch s {
	case Apply:
		return "apply"
	case Skip:
		return "skip"
	case Gap:
		return "gap"
	}
	return fmt.Sprintf("Step(%d)", int(s))
}

// Guard is the version guard of every view: an event at or below the view's
// version is skipped, the event right after it is applied, and anything
// further is a gap the caller must fill from the log before applying.
func Guard(viewVersion, eventVersion int64) Step {
	switch {
	case eventVersion <= viewVersion:
		return Skip
	case eventVersion == viewVersion+1:
		return Apply
	default:
		return Gap
	}
}
