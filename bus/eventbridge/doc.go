// Package eventbridge publishes streamer's events to Amazon EventBridge with
// PutEvents: one entry per event (source "streamer", detail-type the event
// type, detail the envelope), batches of at most ten entries within the size
// limit, failed entries and throttled calls retried with backoff and jitter,
// and events too large for the bus published as a reference.
//
// The one guarantee a caller must know: Publish returns nil only when
// EventBridge accepted every event; otherwise its *bus.PublishError names
// each event it did not accept after the retries, and nothing else is lost.
package eventbridge
