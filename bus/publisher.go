package bus

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/streamer/streamer/events"
)

// Publisher puts events on a bus.
type Publisher interface {
	// Publish publishes evs, in order. It returns nil when every event was
	// accepted by the bus, or a *PublishError naming each event that was not
	// (after the implementation's retries). Events not named were published:
	// partial success is normal, and re-publishing them is harmless because
	// subscribers dedupe by event ID.
	Publish(ctx context.Context, evs []events.Event) error
}

// ErrNotPublished is matched (errors.Is) by every *PublishError.
var ErrNotPublished = errors.New("events not published")

// PublishError names the events a Publish could not put on the bus.
type PublishError struct {
	Failed []Failed
}

// Failed is one event that was not published, and why.
type Failed struct {
	Event events.Event
	Err   error
}

func (e *PublishError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%d event(s) not published", len(e.Failed))
	for i, f := range e.Failed {
		if i == 3 {
			fmt.Fprintf(&b, "; and %d more", len(e.Failed)-i)
			break
		}
		fmt.Fprintf(&b, "; %s (%s@%d): %v", f.Event.ID, f.Event.StreamID, f.Event.Version, f.Err)
	}
	return b.String()
}

// Unwrap makes the error match ErrNotPublished and every cause.
func (e *PublishError) Unwrap() []error {
	errs := []error{ErrNotPublished}
	for _, f := range e.Failed {
		if f.Err != nil {
			errs = append(errs, f.Err)
		}
	}
	return errs
}

// IDs lists the IDs of the events that were not published.
func (e *PublishError) IDs() []string {
	ids := make([]string, len(e.Failed))
	for i, f := range e.Failed {
		ids[i] = f.Event.ID
	}
	return ids
}
