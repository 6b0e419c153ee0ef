// Package client is the Go client of streamer's WebSocket protocol (package
// protocol, docs/protocol.md): it submits requests, follows their events and
// sends the reserved actions (subscribe, cancel, status, ping) over one
// connection, used by the CLI (`streamer request`) and the end-to-end tests.
//
// The one guarantee a caller must know: whatever the network does — duplicate
// frames, replays out of order, a socket dropped in the middle of a burst —
// a follower (Request, Follow) sees every version of a request's stream after
// the one it started from exactly once and in order, until the request's
// terminal event. The client reconnects by itself with exponential backoff
// and jitter, re-subscribes every followed request from the last version it
// delivered, and resubmits unanswered submissions with the same idempotency
// key, so a resubmission never creates a second request. A handshake refused
// with 401 or 403 ends the client (ErrUnauthorized); it is never retried.
//
// One goroutine per connection reads and dispatches frames; callbacks
// (RequestOptions.OnProgress, OnEvent, Follow's onEvent) run on the goroutine
// that called Request or Follow, so they may call the client's other methods.
package client
