// Package fanout is the second reader of the change feed: it pushes every
// request event to every WebSocket connection that should see it — the
// connections subscribed to the request and the open connections of the
// request's owner — through the @connections API (connections.Poster).
//
// The guarantee a caller must know: per connection, the events of one
// request are posted in version order, each at most once per delivered batch;
// posts to different connections run in parallel, so one slow or stuck
// socket never delays the others. Delivery to a client is best effort: a
// post that still fails after its retries is dropped (logged), never retried
// by the feed, and the client recovers by subscribing again with the last
// version it saw (docs/fanout.md). Handle reports a feed failure only when
// the batch is unsafe to acknowledge: the targets of a request could not be
// read, a `gone` connection could not be recorded, or the context ended
// before a delivery finished.
package fanout
