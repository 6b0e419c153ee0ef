// Package eventbridge publishes streamer's events to Amazon EventBridge with
// PutEvents: one entry per event (source "streamer", detail-type the event
// type, detail the envelope), batches of at most ten entries within the size
// limit, failed entries and throttled calls retried with backoff and jitter,
// and events too large for the bus published as a reference.
//
// The one guarantee a caller must know: Publish returns nil only when
// EventBridge accepted every event; otherwise its *bus.PublishError names
// each event it did not accept after the retries, and nothing else is lost.
//
// # No SDK service client
//
// The Publisher calls PutEvents through API, an interface of this
// package, and Client implements it as one SigV4-signed HTTP request (AWS
// JSON 1.1: POST /, X-Amz-Target AWSEvents.PutEvents) over
// internal/awsrest, instead of aws-sdk-go-v2's service/eventbridge client.
// Linking that package costs every cold start of the projector Lambda its
// package initialisation — about 2 ms measured with GODEBUG=inittrace=1
// (service/eventbridge/schemas 1.3–1.4 ms, its endpoint tables 0.3 ms, and
// the rest), for one small call. Neither this package nor app/awsbus imports
// service/eventbridge outside tests.
//
// What keeps Client honest is the differential tests (differential_test.go,
// endpoint_test.go), which run the real SDK client side by side with it:
// for the same entries both send the same target, content type and a body
// equal once decoded (member names, left-out empty members, escaping, Time
// in epoch seconds with the SDK's millisecond rounding; fuzzed over any
// strings and times); the same 200 responses decode to the same results
// and the same error responses to the same error codes and messages
// (fuzzed too); the endpoint is the one the SDK's resolver gives for
// regions of every partition, or the configured base endpoint; and
// through moto, the entries each client sends reach an SQS target as the
// same events. Known differences, none seen by the Publisher: a 200 body
// with data after the JSON value is an error here (ErrBadResponse, which is
// retried) where the SDK ignores the rest, and invalid UTF-8 in a response
// string becomes U+FFFD. FIPS, dual-stack and global endpoints are not
// supported.
package eventbridge
