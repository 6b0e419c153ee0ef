// Package bus puts streamer's events on an event bus so that other
// services subscribe to them with rules: EventBridge on AWS (bus/eventbridge)
// and an in-process bus with the same event patterns locally (bus/local).
//
// Every event is one bus entry: source "streamer" (configurable),
// detail-type the event type, detail the event's JSON envelope (events.Encode)
// or, for an event too large for the bus, a reference (RefDetail) that
// subscribers resolve through the event store or the audit API
// (bus/subscriber does both). PublishAfter decorates a feed consumer (the
// projector) so that a batch's events are published once it has been
// applied, and a failed publish makes the feed deliver them again.
//
// The one guarantee a caller must know: delivery is at least once. An event
// may reach a subscriber more than once (a retried batch, a re-delivered
// feed record); the envelope's id is the same every time, and subscribers
// dedupe on it. Events of one stream are published in version order, but
// the bus does not promise to deliver them in order, and streams interleave
// freely. docs/eventbridge.md is the subscriber's contract.
package bus
