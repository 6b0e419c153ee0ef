// Package projections keeps streamer's read views — one RequestView per
// request stream and one ConnectionView per connection stream — derived from
// the event log, and rebuilds them without downtime.
//
// The pieces:
//
//   - ApplyRequest and ApplyConnection are pure folds of one event onto a
//     view (payloads decoded with events.DecodePayload, so old schemas are
//     upcast); Guard is the version guard: an event at or below the view's
//     version is a duplicate, the next one applies, anything further is a
//     gap to fill from the log.
//   - ViewStore is the storage of one generation of views, every write
//     guarded on the stored version (projections/sqlite locally,
//     projections/dynamodb on AWS; both pass projections/viewtest).
//     Generations is the catalog of generations with the Meta record.
//   - Projector is the feed.Consumer that keeps the views current, for both
//     stream kinds.
//   - Reader serves the views to the API from the active generation.
//   - Rebuild replays the log into a new generation while the Projector
//     keeps writing, then switches readers over in one atomic Meta update.
//   - SweepExpired deletes connection views past their ExpiresAt.
//
// The one guarantee a caller must know: a stored view at version v is
// exactly the fold of its stream's events 1..v, whoever wrote it (projector,
// rebuild, a retry, a duplicate delivery), and a stored version never goes
// down — across a generation switch included, for anyone reading through a
// Reader. (Views disappear only when SweepExpired deletes connection views
// past their ExpiresAt, or with a dropped generation.)
//
// # Generations
//
// Views live in named generations ("g1", "g2", …; GenerationName). One Meta
// record says which generation is Active (what readers use) and which, if
// any, is Rebuilding, with the rebuild's Source checkpoint. Meta changes
// only by compare-and-swap (Generations.SwapMeta), and its Epoch grows with
// every change of Active or Rebuilding.
//
// Writers open their stores fenced on the epoch they read (Generations.Open
// with fence = Meta.Epoch): every write is conditional, atomically with the
// write, on the epoch being unchanged, else ErrFenced. The projector reads
// Meta once per batch, writes the Rebuilding generation first and the
// Active one second (Meta.Targets), and on ErrFenced reads Meta again and
// redoes the stream. Readers resolve Meta on every read (Reader) and cache
// nothing but open handles: a cached answer could read the old generation
// after the switch, which the projector no longer writes.
//
// Why the switch is invisible: once Rebuilding is set, no write to the
// active generation can land without the same events having been written to
// the new one first — fenced writers that have not seen the change fail,
// and those that have write the new generation first. Every event older
// than that is in the log before the replay starts, and the replay delivers
// it. So when the replay ends the new generation is at or ahead of the
// active one for every view, and the switch (one SwapMeta: Active = new,
// Previous = old, Rebuilding cleared, a new epoch) shows readers views that
// are only ever newer. The previous generation stays readable until
// DropGeneration, for readers that resolved it just before the switch.
//
// A rebuild is resumable: it flushes its views with PutNewer (which never
// lowers a view the projector moved further) and only then saves the
// Source checkpoint in Meta, so a new Rebuild call continues from the last
// checkpoint; events replayed twice are skipped by the version guard.
// AbortRebuild abandons one.
//
// A rebuild may replay one kind of views only (RebuildOptions.Views:
// ViewRequests or ViewConnections): the other kind's streams are skipped,
// and once the replay ends its views are carried over from the active
// generation by Generations.CopyViews, again "write if newer". Whatever the
// projector wrote to the active generation since the rebuild began it wrote
// to the new one first, so the copy too leaves the new generation at or
// ahead of the active one. The selection is kept in Meta.Views; a rebuild
// resumes only with the same one (ErrRebuildViewsMismatch).
//
// # Implementing a backend (DynamoDB)
//
// projections/viewtest states the contract; what a DynamoDB backend needs:
//
//   - Items are keyed by generation and ID, e.g. pk "g2#req#<id>". A
//     guarded put is PutItem with ConditionExpression "version = :expected"
//     (attribute_not_exists(pk) for 0); ConditionalCheckFailedException is
//     ErrViewConflict. A fenced put is a TransactWriteItems of that Put plus
//     a ConditionCheck "epoch = :fence" on the Meta item; the transaction's
//     CancellationReasons tell ErrViewConflict (the put) from ErrFenced (the
//     check).
//   - Subscriber index: items pk "g2#sub#<requestId>", sk <connectionId>, in
//     the base table, so Subscribers is a strongly consistent Query.
//     PutConnection reads the stored view (consistent GetItem; a version
//     other than expected is ErrViewConflict at once), computes the
//     subscription diff, and writes view, index puts/deletes and the fence
//     check in one TransactWriteItems. That holds 100 items, so a diff may
//     touch at most 98 subscriptions: a cap of 48 subscriptions per
//     connection (enforced where subscribe is accepted) keeps every diff
//     within one transaction, however many events a batch coalesces.
//   - User index: a sparse GSI on "<gen>#<tenant>#<user>", set while the
//     connection is open and removed when it closes. Owner and status lists:
//     GSIs on "<gen>#<tenant>#<owner>" and "<gen>#<status>" with sort key
//     "<zero-padded submittedAt nanos>#<id>", queried with
//     ScanIndexForward=false; the tenant filter of a status list is a
//     FilterExpression (pages may be short, which ListOptions allows); the
//     cursor is the encoded LastEvaluatedKey. GSIs are eventually
//     consistent: run viewtest with Features.EventualIndexes.
//   - Expiry: ExpiresAt as the table's TTL attribute (epoch seconds) on the
//     view and its subscription items; TTL deletes lazily, so
//     ExpiredConnections (a GSI on expiry, or a filtered Scan) and
//     DeleteConnection (conditional on version) make the sweep prompt.
//   - PutNewer: per view a conditional write "attribute_not_exists(pk) OR
//     version < :v", a failed condition meaning "already newer"; batches in
//     parallel, after one consistent read of Meta for the fence (what
//     PutNewer writes is correct whatever the epoch; its fence only stops an
//     abandoned rebuild, so checking it per batch is enough).
//   - Meta: one item; SwapMeta is a PutItem conditional on "revision =
//     :expected"; Meta must be read with ConsistentRead, or a reader could
//     go back to the old generation after a switch.
//   - Drop: a parallel Scan for the generation's prefix and batched
//     deletes (rare; it runs after the switch, off the request path).
//   - CopyViews: a parallel, strongly consistent Scan for the source
//     generation's items of one kind ("<gen>#req#" or "<gen>#conn#"),
//     each page written to the target through PutNewer (GSIs would be
//     cheaper to read but may lag the views).
//   - The rebuild Source: a parallel Scan (ConsistentRead) of the events
//     table; each stream's items come from one segment in version order, and
//     the checkpoint is the set of the segments' last fully delivered page
//     keys.
package projections
