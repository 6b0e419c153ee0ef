// Package ddbretry is the one retry policy and error classification of
// streamer's DynamoDB adapters (the event store and the view store): which
// failures are transient (throttling, transaction conflicts, 5xx, dropped
// connections), how long to back off (exponential with full jitter), and
// when to give up (events.ErrTransient). Failed conditions are never
// retried here: they are answers, not failures.
package ddbretry
