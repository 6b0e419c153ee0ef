package processor

import (
	"context"
	"slices"

	"github.com/streamer/streamer/events"
	"github.com/streamer/streamer/feed"
)

// ConsumerName is the feed consumer name (and local checkpoint key) of
// the processor.
const ConsumerName = "processor"

// Consumer returns the local trigger: a feed consumer that queues every
// request whose request.submitted is in a batch, unless the same batch
// already shows the request started or ended (a sync request is appended
// as submitted, started and completed together), and applies (Cancel)
// every request.cancel_requested in the batch: the running attempt is
// woken, a request not running here is ended as cancelled. It blocks while the queue is full; it returns a failure only for
// the requests it could not queue (ctx ended, pool stopped), so those are
// delivered again.
func (p *Processor) Consumer() feed.Consumer {
	return feed.ConsumerFunc{ConsumerName: ConsumerName, Fn: p.handleBatch}
}

func (p *Processor) handleBatch(ctx context.Context, evs []events.Event) []feed.Failure {
	type candidate struct {
		submitted events.Event
		skip      bool
	}
	byID := map[string]*candidate{}
	var order []string
	var failures []feed.Failure // cancels that could not be applied
	cancelFailed := map[string]bool{}
	for _, e := range evs {
		kind, id, err := events.ParseStream(e.StreamID)
		if err != nil || kind != events.KindRequest {
			continue
		}
		if e.Type == events.RequestCancelRequested && !cancelFailed[id] {
			if err := p.Cancel(ctx, id); err != nil {
				p.log.WarnContext(ctx, "processor: could not apply a cancel; it will be delivered again", "requestId", id, "err", err)
				failures = append(failures, feed.FailStream(e, err))
				cancelFailed[id] = true
			}
		}
		switch c := byID[id]; {
		case e.Type == events.RequestSubmitted && c == nil:
			byID[id] = &candidate{submitted: e}
			order = append(order, id)
		case c != nil && (e.Type == events.RequestStarted || events.IsTerminal(e.Type)):
			c.skip = true
		}
	}
	for i, id := range order {
		if byID[id].skip {
			continue
		}
		if err := p.Submit(ctx, id); err != nil {
			n := 0
			for _, rest := range order[i:] {
				if c := byID[rest]; !c.skip {
					// From the submitted event on: it comes before any
					// cancel of the same stream in this batch.
					failures = slices.DeleteFunc(failures, func(f feed.Failure) bool { return f.Stream == c.submitted.StreamID })
					failures = append(failures, feed.FailStream(c.submitted, err))
					n++
				}
			}
			p.log.WarnContext(ctx, "processor: could not queue requests; they will be delivered again", "requests", n, "err", err)
			return failures
		}
	}
	return failures
}
