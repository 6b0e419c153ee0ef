// Package subscriber is for services that subscribe to streamer's events
// on EventBridge: it decodes the awsevents.EventBridgeEvent a rule delivers
// (to a Lambda, or read from an SQS target) into streamer's events.Event,
// upcast to the current schema of its type, and into typed payloads.
//
// An event that was too large for the bus arrives as a reference: Decode
// returns a *RefError naming its stream and version, and Resolve loads it
// from an events.Store.
//
// The one guarantee a caller must know: delivery is at least once, so the
// same event (same Event.ID) may be decoded more than once; dedupe on ID.
package subscriber
