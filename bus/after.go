package bus

import (
	"context"
	"errors"

	"github.com/streamer/streamer/events"
	"github.com/streamer/streamer/feed"
)

// PublishAfter decorates next (the projector) so that a batch's events are
// published once next has processed them: a subscriber that sees an event
// and queries a view finds it applied.
//
// Handle runs next.Handle, then publishes, in order, the events of every
// stream next did not fail. An event that could not be published fails its
// stream from that event on (feed.FailStream): the feed delivers it and the
// stream's later events again, next re-applies them (idempotent thanks to
// its version guard) and they are published again. Events that were
// published before a failure may therefore be published twice; subscribers
// dedupe by event ID.
func PublishAfter(next feed.Consumer, pub Publisher) feed.Consumer {
	return &publishAfter{next: next, pub: pub}
}

type publishAfter struct {
	next feed.Consumer
	pub  Publisher
}

func (p *publishAfter) Name() string { return p.next.Name() }

func (p *publishAfter) Handle(ctx context.Context, evs []events.Event) []feed.Failure {
	failures := p.next.Handle(ctx, evs)
	// failedFrom[stream] is the first version of stream that is not done.
	failedFrom := make(map[string]int64, len(failures))
	for _, f := range failures {
		if v, ok := failedFrom[f.Stream]; !ok || f.Version < v {
			failedFrom[f.Stream] = f.Version
		}
	}
	var publish []events.Event
	for _, e := range evs {
		if v, ok := failedFrom[e.StreamID]; ok && e.Version >= v {
			continue
		}
		publish = append(publish, e)
	}
	if len(publish) == 0 {
		return failures
	}
	err := p.pub.Publish(ctx, publish)
	if err == nil {
		return failures
	}
	var pe *PublishError
	if !errors.As(err, &pe) {
		// The publisher did not say which events failed: all of them did.
		pe = &PublishError{}
		for _, e := range publish {
			pe.Failed = append(pe.Failed, Failed{Event: e, Err: err})
		}
	}
	// One failure per stream: the earliest unprocessed event, whether next
	// or the publisher failed it.
	for _, f := range pe.Failed {
		if v, ok := failedFrom[f.Event.StreamID]; ok && f.Event.Version >= v {
			continue
		}
		failedFrom[f.Event.StreamID] = f.Event.Version
		replaced := false
		for i := range failures {
			if failures[i].Stream == f.Event.StreamID {
				failures[i] = feed.FailStream(f.Event, f.Err)
				replaced = true
			}
		}
		if !replaced {
			failures = append(failures, feed.FailStream(f.Event, f.Err))
		}
	}
	return failures
}
