package local

import (
	"context"
	"fmt"

	"github.com/streamer/streamer/bus"
	"github.com/streamer/streamer/bus/pattern"
	"github.com/streamer/streamer/events"
)

// routed is one published event and the rules that want it.
type routed struct {
	d      delivery
	parsed pattern.Event
	rules  []*rule
}

// publishStored is Publish with an outbox. The caller holds b.mu for
// reading.
func (b *Bus) publishStored(ctx context.Context, evs []events.Event) error {
	var failed []bus.Failed
	rs := make([]routed, 0, len(evs))
	n := 0 // deliveries to store
	for i, e := range evs {
		if b.closed {
			failed = append(failed, failAll(evs[i:], ErrClosed)...)
			break
		}
		d, parsed, err := b.delivery(e)
		if err != nil {
			failed = append(failed, bus.Failed{Event: e, Err: err})
			continue
		}
		x := routed{d: d, parsed: parsed}
		for _, r := range b.order {
			if r.pattern.MatchEvent(parsed) {
				x.rules = append(x.rules, r)
			}
		}
		n += len(x.rules)
		rs = append(rs, x)
	}
	if n > 0 {
		if err := b.store(ctx, rs, n); err != nil {
			// Nothing is stored: the events some rule wanted are not
			// published; the others are.
			kept := rs[:0]
			for _, x := range rs {
				if len(x.rules) > 0 {
					failed = append(failed, bus.Failed{Event: x.d.Event, Err: err})
				} else {
					kept = append(kept, x)
				}
			}
			rs = kept
		}
	}
	for _, x := range rs {
		b.offerTails(x.d.JSON, x.parsed)
	}
	if len(failed) > 0 {
		return &bus.PublishError{Failed: failed}
	}
	return nil
}

// store waits for room in every rule rs go to, stores their n deliveries
// in one Outbox.Add and queues them. No transaction is open while it
// waits, and nothing is queued unless everything is stored.
func (b *Bus) store(ctx context.Context, rs []routed, n int) error {
	var rules []*rule // in first-routed order
	perRule := map[*rule][]delivery{}
	entries := make([]OutboxEntry, 0, n)
	for _, x := range rs {
		for _, r := range x.rules {
			if _, seen := perRule[r]; !seen {
				rules = append(rules, r)
				perRule[r] = nil
			}
			entries = append(entries, entry(r.Name, x.d))
		}
	}
	for _, r := range rules {
		if err := r.queue.waitRoom(ctx, b.closing, b.cfg.QueueSize); err != nil {
			return err
		}
	}
	// storeMu: the queues get the deliveries in the outbox's order.
	b.storeMu.Lock()
	defer b.storeMu.Unlock()
	ids, err := b.cfg.Outbox.Add(ctx, entries)
	if err != nil {
		return err
	}
	if len(ids) != len(entries) {
		return fmt.Errorf("local bus: outbox stored %d deliveries and returned %d IDs", len(entries), len(ids))
	}
	k := 0
	for _, x := range rs {
		for _, r := range x.rules {
			d := x.d
			d.id = ids[k]
			k++
			perRule[r] = append(perRule[r], d)
		}
	}
	for _, r := range rules {
		r.queue.push(perRule[r]...)
	}
	return nil
}
