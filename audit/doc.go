// Package audit reads the history of a request from the event log: the
// timeline of its events (upcast to the current payload shapes, with a
// one-line human summary each), the request as it was at any moment
// (replayed from the log, never from the views), and the result of
// verifying its hash chain. The HTTP API (package httpapi) and
// `streamer audit` are both built on it, so they always agree.
//
// The one guarantee a caller must know: everything here is computed from
// the events as stored. Entries keep the stored schema version and data
// beside the upcast ones, so the chain can be verified from an entry alone
// (Entry.Event), and as-of replays use only events appended at or before
// the given time.
package audit
