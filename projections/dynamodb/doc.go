// Package dynamodb is the AWS projections backend: the request and
// connection views of every generation, their indexes and the generations'
// Meta record, in one DynamoDB table. It passes projections/viewtest, like
// the SQLite backend; its tests run it against moto. Source replays the
// DynamoDB event store (events/dynamodb) for projections.Rebuild,
// resumably.
//
// The one guarantee a caller must know: every guarded view write
// (PutRequest, PutConnection, DeleteConnection) is a single
// TransactWriteItems — the view put (or delete) conditional on the stored
// version, the subscription index entries that follow it, and for a fenced
// store a ConditionCheck of the Meta epoch — so the version guard and the
// fence hold atomically with the write. A failed condition is
// projections.ErrViewConflict or projections.ErrFenced, told apart by the
// position of the failed item in the cancellation reasons, and never
// retried by the store; throttling, transaction conflicts and 5xx errors
// are retried with backoff and full jitter (RetryPolicy), then reported as
// events.ErrTransient.
//
// # Table
//
// TableInput is the table's one definition (keys, indexes, on-demand
// billing) and TimeToLive its TTL setting; CreateTable applies both,
// idempotently. One table holds every generation: keys start with the
// generation's name, so opening a generation creates nothing, and Drop
// deletes the items under its prefix.
//
//	item          pk                       sk              kind
//	Meta          "meta"                   "view"          meta
//	request view  "<gen>#req#<id>"         "view"          request
//	connection    "<gen>#conn#<id>"        "view"          connection
//	subscription  "<gen>#sub#<requestId>"  <connectionId>  subscription
//
// Request view attributes: id, version, action, status, percentage (N),
// message, result (S, the JSON byte for byte), error (M: code, message,
// retryable), owner, tenant, attempt (N), cancelRequested (BOOL),
// submittedAt, startedAt, updatedAt, completedAt. Connection view
// attributes: id, version, user, tenant, status, closeReason, connectedAt,
// lastSeen, expiresAtTime, expiresAt (the TTL attribute), subscriptions
// (S: a JSON object, request ID → version subscribed from; nothing queries
// inside it — the subscription items are its queryable form — and one
// string keeps the item cheap to read and write however many
// subscriptions it holds). Times are RFC 3339 strings in UTC with
// nanoseconds; zero times and empty strings are absent. Meta attributes:
// active, rebuilding, previous, epoch, checkpoint, done, revision,
// updatedAt, views.
//
// Subscription items are the subscriber index, in the base table so that
// Subscribers is a strongly consistent Query of one partition. A
// connection is listed under each of its subscriptions while it is open,
// under none once it is closed or deleted.
//
// # Indexes
//
// Four global secondary indexes, all keyed with the generation first and
// all eventually consistent (the conformance suite runs with
// viewtest.Features.EventualIndexes):
//
//	index     hash                            range                          projection
//	byOwner   ownerKey  "<gen>#<tenant>#<owner>"  listSort   "<order>#<id>"    keys
//	byStatus  statusKey "<gen>#<status>"          listSort   "<order>#<id>"    keys, tenant
//	byUser    userKey   "<gen>#<tenant>#<user>"   —                            keys (set while open)
//	byExpiry  expiryKey "<gen>#exp#<shard>"       expirySort "<order>#<id>"    keys (set with ExpiresAt)
//
// <order> is a time as 20 digits that sort as the times do (Unix
// nanoseconds offset to unsigned; the zero time first). Tenant, owner and
// user are escaped ('%' → %25, '#' → %23) so no two combinations make one
// key. The indexes project keys only, so the frequent writes that change
// no index key (progress, subscriptions) write no index entry; a list
// reads its page's keys from the index, newest first, then the views with
// strongly consistent BatchGetItem calls, and leaves out a view that no
// longer belongs to the list. The status list filters its tenant on the
// projected tenant attribute, so its pages may be short. A list cursor is
// the listSort of the page's last entry, base64url-encoded. byExpiry is
// spread over ExpiryShards partitions per generation by a hash of the
// connection ID, so connection churn does not write one index partition.
//
// # Expiry
//
// The table's TTL attribute is expiresAt (TTLAttribute): ExpiresAt in
// epoch seconds, rounded up, on connection views and their subscription
// items. DynamoDB deletes expired items lazily (typically within days), so
// ExpiredConnections judges the time itself: it queries byExpiry up to
// now, reads the views and keeps those whose exact ExpiresAt
// (expiresAtTime) is at or before now; projections.SweepExpired deletes
// them promptly with DeleteConnection.
//
// # Writes
//
// PutRequest and PutConnection write the view with the condition
// "version = :expected" (attribute_not_exists(pk) for 0). PutConnection
// first reads the stored view unless it inserts (consistently; a version
// other than the expected one fails at once), computes the subscription
// entries to put and delete, and writes them in the same transaction. A transaction
// holds 100 items: with the view and the fence check, a write may change
// MaxIndexChanges entries, so connections are capped at MaxSubscriptions
// subscriptions where subscribe is accepted; a write over the limit fails
// with ErrTooManyIndexChanges and writes nothing. Transactions carry an
// idempotency token that stays the same across retries, so a write
// retried after an ambiguous failure reports its own success rather than
// a conflict with itself. Unfenced writes are transactions too (one code
// path, and the token), at twice a plain put's write cost; only tools and
// tests write unfenced — the projector, the rebuild and the sweep fence.
//
// PutNewer reads the Meta epoch once per batch for the fence, then writes
// in parallel: a request view with "attribute_not_exists(pk) OR version <
// :v" (a failed condition means the stored one is as new), a connection
// view by reading the stored one and writing it with its index changes
// guarded on the version read.
//
// The Meta item changes only by SwapMeta, a put conditional on "revision
// = :expected" (in a transaction, for the idempotency token); it is always
// read with ConsistentRead, or a reader could go back to the old
// generation after a switch.
//
// Known limit: IndexStatus has one partition per status and generation,
// so status changes beyond DynamoDB's per-partition index write rate
// (about 1,000 a second) would throttle; write-sharding its key, as
// IndexExpiry does, is the remedy if that volume comes.
//
// # Rebuild source
//
// Source scans the events table with parallel, consistent Scan segments.
// Its checkpoint (opaque, base64url JSON) holds, per segment, the events
// table key its last fully delivered page ended at, whether it is done,
// and how many events it delivered; Remaining estimates from
// DescribeTable's item count.
package dynamodb
