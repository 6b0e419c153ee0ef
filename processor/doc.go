// Package processor runs async requests: it appends request.started, runs
// the handler through the handler.Router with a Reporter bound to the
// request's stream, and appends how the request ended. Two triggers drive
// it: on AWS the EventBridge rule on request.submitted invokes the
// processor Lambda (HandleEventBridge → Run); locally the change feed's
// Consumer queues submitted requests for a worker pool (Start, Submit,
// Stop, Resume).
//
// The one guarantee a caller must know: every decision is an append at the
// stream's expected version, checked by events.Prepare, so any number of
// processors may race on a request — at most one attempt's end is ever
// written, and a request interrupted by a shutdown or a store failure is
// left as it is in the log (never marked failed) for re-delivery, which
// Run absorbs idempotently.
//
// docs/handlers.md documents the Reporter's coalescing policy,
// cancellation, the silence timeout and attempts.
package processor
