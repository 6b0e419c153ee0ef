package bustest

import (
	"context"
	"fmt"

	"github.com/streamer/streamer/events"
	"github.com/streamer/streamer/feed"
)

// Drive feeds evs to c the way the change feed does: batches of at most
// batchSize events in order; for each feed.Failure, the failed event and
// the later events of its stream stay pending and are delivered again first
// in the next batch, while other streams move on. It returns the number of
// Handle calls, or an error when events are still pending after maxRounds
// calls.
func Drive(ctx context.Context, c feed.Consumer, evs []events.Event, batchSize, maxRounds int) (int, error) {
	pending := append([]events.Event(nil), evs...)
	rounds := 0
	for len(pending) > 0 {
		if rounds == maxRounds {
			return rounds, fmt.Errorf("%d events still pending after %d batches", len(pending), maxRounds)
		}
		rounds++
		n := min(batchSize, len(pending))
		batch := pending[:n]
		failures := c.Handle(ctx, batch)
		failedFrom := map[string]int64{}
		for _, f := range failures {
			if v, ok := failedFrom[f.Stream]; !ok || f.Version < v {
				failedFrom[f.Stream] = f.Version
			}
		}
		var again []events.Event
		for _, e := range batch {
			if v, ok := failedFrom[e.StreamID]; ok && e.Version >= v {
				again = append(again, e)
			}
		}
		// Later events of a failed stream wait behind its failed event.
		var rest []events.Event
		for _, e := range pending[n:] {
			if _, ok := failedFrom[e.StreamID]; ok {
				again = append(again, e)
				continue
			}
			rest = append(rest, e)
		}
		pending = append(again, rest...)
		if ctx.Err() != nil {
			return rounds, ctx.Err()
		}
	}
	return rounds, nil
}
