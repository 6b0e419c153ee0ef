// Package sqlite is the embedded events.Store: one SQLite file in WAL mode,
// driven by the pure-Go modernc.org/sqlite driver, that passes the same
// conformance suite (events/storetest) as the DynamoDB backend. It is what
// `streamer dev` and the tests run on.
//
// Every event is a row of the events table, unique on (stream, version) and
// on its ID, carrying besides the event the lifecycle State after it, so an
// append reads only the stream's last row before calling events.Prepare. All
// writes go through one dedicated connection, so appends serialise in Go
// rather than failing with SQLITE_BUSY; reads use a separate pool and never
// block writers (WAL).
//
// Each row also has a global position, the local change feed's cursor
// (ReadFrom, LastPosition, Subscribe). The one guarantee a caller must know:
// positions are assigned inside the write transaction and SQLite admits one
// writer at a time, so positions grow in commit order and a reader never
// sees position N+1 committed before position N. A tailer that remembers the
// last position it processed and asks for everything after it therefore
// never skips an event that commits later. It need not, and must not,
// assume positions are gapless.
package sqlite
