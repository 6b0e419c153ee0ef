// Package dynamodb is the AWS events.Store: one DynamoDB table, one item
// per event, keyed by (stream, version). It passes the same conformance
// suite (events/storetest) as the embedded SQLite backend; its tests run it
// against moto.
//
// The one guarantee a caller must know: every write is conditional on its
// key being free (attribute_not_exists), and a multi-event append is a
// single TransactWriteItems, so an Append writes all of its events at
// exactly the expected version or none of them, and a concurrent writer
// that got there first makes it fail with events.ErrVersionConflict —
// never retried by the store. Throttling, transaction conflicts and 5xx
// errors are retried with exponential backoff and full jitter
// (RetryPolicy), then reported as events.ErrTransient. Every error is an
// *events.StoreError.
//
// # Table
//
// TableInput is the table's one definition: partition key stream (S), sort
// key version (N), on-demand billing, and a stream of NEW_IMAGE records
// that feeds the projector and the fan-out. CreateTable creates it.
//
// # Item layout
//
//	stream    S  stream name, e.g. "request/<id>"            (partition key)
//	version   N  1-based, gapless per stream                  (sort key)
//	id        S  event ID (UUIDv7)
//	type      S  event type, e.g. "request.progress"
//	schema    N  schema version of data
//	time      S  RFC 3339 in UTC with fractional seconds (RFC3339Nano);
//	             events.Prepare stamps microseconds
//	meta      M  the non-empty fields of events.Meta, each an S, under their
//	             JSON names: actor, tenant, correlationId, causationId,
//	             traceId, source; absent when all are empty
//	data      S  the event's JSON data, byte for byte as appended (not a
//	             map: re-encoding would change the bytes the hash covers)
//	prevHash  S  hash of version-1; absent for version 1, read back as ""
//	hash      S  hex SHA-256 of the audit chain (events.ComputeHash)
//	state     S  JSON of the events.State after this event, so an append
//	             reads only the item at the expected version
//
// MarshalItem and UnmarshalItem convert between events and items;
// UnmarshalStreamImage decodes a DynamoDB Streams record's NewImage as
// Lambda delivers it (awsevents.DynamoDBEvent).
//
// # Reads
//
// Load is a consistent Query that follows DynamoDB's 1 MB pages until it
// has the requested number of events. Scan is a consistent parallel Scan;
// DynamoDB keeps a partition key's items in one segment, in sort-key
// order, so each stream's events arrive in version order, and the callback
// is never called concurrently.
package dynamodb
