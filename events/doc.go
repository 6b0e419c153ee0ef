// Package events is streamer's event model: the envelope every state change
// is recorded in, the typed payloads of request and connection events, the
// lifecycle rules enforced when events are appended, the audit hash chain,
// the JSON codec with schema upcasting, and the Store interface that the
// embedded (events/sqlite) and AWS (events/dynamodb) backends implement.
//
// The one guarantee a caller must know: an Append either writes all of its
// events, with gapless versions continuing the stream at exactly the expected
// version and a hash chain linking each to its predecessor, or it writes
// nothing and returns an error that matches one of the sentinels below with
// errors.Is.
package events
