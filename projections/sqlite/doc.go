// Package sqlite is the embedded projections backend: the request and
// connection views of every generation, their indexes and the generations'
// Meta record, in SQLite tables (modernc.org/sqlite, driver "sqlite"). It
// passes projections/viewtest, like the DynamoDB backend.
//
// The tables live in any SQLite file — the event store's or their own — and
// are prefixed view_ so they share a file with anything. Every generation
// shares the tables and is a value of their leading gen column, so opening a
// generation creates nothing and dropping one is a DELETE.
//
// The one guarantee a caller must know: every write is a single statement
// or an immediate transaction whose first statement is the guarded write, so
// the version guard and the generation fence are checked atomically with the
// write, whichever process holds the other connections.
package sqlite
