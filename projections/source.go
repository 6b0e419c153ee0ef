package projections

import (
	"context"

	"github.com/streamer/streamer/events"
)

// Source is the event log as Rebuild replays it: every event, each
// stream's in version order, with a checkpoint after each so that an
// interrupted rebuild continues where it stopped.
type Source interface {
	// Replay calls fn for every event after checkpoint ("" for the start of
	// the log), with next, the checkpoint to resume from after that event.
	// A Replay from a checkpoint never misses an event that followed it; it
	// may deliver again some that preceded it (the version guard skips
	// them). It must deliver every event that was in the log when it was
	// called. fn is never called concurrently; an error from fn stops the
	// replay and is returned.
	Replay(ctx context.Context, checkpoint string, fn func(e events.Event, next string) error) error
	// Remaining estimates how many events a Replay from checkpoint would
	// deliver, for the progress figure; -1 when the source cannot tell.
	Remaining(ctx context.Context, checkpoint string) (int64, error)
}

// ScanSource replays an events.Store through its Scan. Scan has no
// position, so its checkpoints are always "": a rebuild interrupted while
// replaying it starts its scan again (the views already written are kept and
// their events skipped). Backends with a global order offer a resumable
// Source (projections/sqlite.LogSource for the embedded store).
func ScanSource(s events.Store, opts events.ScanOptions) Source {
	return scanSource{s: s, opts: opts}
}

type scanSource struct {
	s    events.Store
	opts events.ScanOptions
}

func (src scanSource) Replay(ctx context.Context, _ string, fn func(events.Event, string) error) error {
	return src.s.Scan(ctx, src.opts, func(e events.Event) error { return fn(e, "") })
}

func (scanSource) Remaining(context.Context, string) (int64, error) { return -1, nil }
