package projections

import (
	"context"
	"time"
)

// ViewReader is the read side of one generation of views: what the HTTP
// API, the WebSocket `status` action and the fan-out query.
type ViewReader interface {
	// GetRequest returns the view of request id, or ErrNotFound.
	GetRequest(ctx context.Context, requestID string) (RequestView, error)
	// RequestsByOwner lists the requests of owner within tenant, newest
	// first (SubmittedAt descending, then RequestID descending).
	RequestsByOwner(ctx context.Context, tenant, owner string, opts ListOptions) (RequestPage, error)
	// RequestsByStatus lists the requests in status, in the same order;
	// tenant "" lists every tenant's.
	RequestsByStatus(ctx context.Context, tenant, status string, opts ListOptions) (RequestPage, error)
	// GetConnection returns the view of connection id, or ErrNotFound. A
	// view past its ExpiresAt may still be returned until it is deleted.
	GetConnection(ctx context.Context, connectionID string) (ConnectionView, error)
	// Subscribers lists the IDs of the open connections subscribed to
	// request id, sorted; none is an empty result, not an error.
	Subscribers(ctx context.Context, requestID string) ([]string, error)
	// UserConnections lists the IDs of the open connections of user within
	// tenant, sorted.
	UserConnections(ctx context.Context, tenant, user string) ([]string, error)
}

// ViewStore is the storage of one generation of views. Every write is
// guarded on the stored version, so concurrent writers (projector
// instances, a rebuild, retries) can never move a view backwards or lose an
// update. Implementations: projections/sqlite and projections/dynamodb; both
// pass projections/viewtest.
//
// A store opened with a fence (see Generations.Open) makes every write
// conditional, atomically with the write itself, on the Meta record's Epoch
// still being the fence; otherwise the write fails with ErrFenced and
// changes nothing.
type ViewStore interface {
	ViewReader

	// Generation is the name of the generation this store reads and writes.
	Generation() string

	// PutRequest stores v if the stored view of v.RequestID is at
	// expectedVersion (0: no view stored), else fails with ErrViewConflict
	// and writes nothing.
	PutRequest(ctx context.Context, v RequestView, expectedVersion int64) error
	// PutConnection is PutRequest for connection views. The subscriber and
	// user indexes follow the view in the same atomic write: an open view is
	// listed under its user and under each of its subscriptions, a closed
	// one under none.
	PutConnection(ctx context.Context, v ConnectionView, expectedVersion int64) error
	// PutNewer writes every view of b whose stored version is lower than its
	// own (or that is absent) and leaves the others; it is the bulk write of
	// a rebuild. Each view is written atomically with its index entries; the
	// batch as a whole need not be.
	PutNewer(ctx context.Context, b Batch) error

	// ExpiredConnections returns up to limit connection views whose
	// ExpiresAt is at or before now, soonest expired first.
	ExpiredConnections(ctx context.Context, now time.Time, limit int) ([]ConnectionView, error)
	// DeleteConnection deletes the view of connection id with its index
	// entries if it is at expectedVersion, else fails with ErrViewConflict
	// (ErrNotFound when there is no view).
	DeleteConnection(ctx context.Context, connectionID string, expectedVersion int64) error
}

// ListOptions page through a list. Pages may hold fewer than Limit items
// (even none) while more follow; the list ends when the returned Cursor is
// empty.
type ListOptions struct {
	Limit  int    // ≤ 0: DefaultListLimit; above MaxListLimit: MaxListLimit
	Cursor string // "" for the first page, else RequestPage.Cursor of the previous one
}

// List limits.
const (
	DefaultListLimit = 50
	MaxListLimit     = 1000
)

// EffectiveLimit is the page size a store uses for opts.
func (o ListOptions) EffectiveLimit() int {
	switch {
	case o.Limit <= 0:
		return DefaultListLimit
	case o.Limit > MaxListLimit:
		return MaxListLimit
	}
	return o.Limit
}

// RequestPage is one page of a request list.
type RequestPage struct {
	Items  []RequestView
	Cursor string // opaque; "" when the list is exhausted
}

// Batch is a set of views for PutNewer.
type Batch struct {
	Requests    []RequestView
	Connections []ConnectionView
}

// Len is the number of views in b.
func (b Batch) Len() int { return len(b.Requests) + len(b.Connections) }

// Generations is the catalog of view generations of one backend: the Meta
// record, and the stores of each generation.
type Generations interface {
	// Meta returns the stored record; the zero Meta (Revision 0) when none
	// has been stored yet.
	Meta(ctx context.Context) (Meta, error)
	// SwapMeta stores next, with Revision expectedRevision+1, if the stored
	// record is at expectedRevision (0: none stored), and returns what it
	// stored; otherwise it fails with ErrViewConflict and changes nothing.
	SwapMeta(ctx context.Context, expectedRevision int64, next Meta) (Meta, error)
	// Open returns the store of generation gen. With fence > 0 every write
	// through it is conditional on Meta.Epoch == fence (ErrFenced
	// otherwise); with fence 0 writes are not fenced. Opening is cheap and
	// creates nothing visible: a generation exists once a view is written.
	Open(ctx context.Context, gen string, fence int64) (ViewStore, error)
	// Drop deletes every view and index entry of gen. The caller makes sure
	// no reader or writer still uses it (see DropGeneration).
	Drop(ctx context.Context, gen string) error
	// CopyViews carries the views of kind (ViewRequests, ViewConnections,
	// or ViewAll for both) over from generation from to generation to by
	// PutNewer's rule: a view is written unless to holds it at the same or
	// a newer version, and a connection view's subscriber and user index
	// entries follow it atomically. With fence > 0 the writes are fenced
	// like PutNewer's (ErrFenced, and the copy stops). The copy as a whole
	// is not atomic — other writers of to (the projector) keep writing
	// during it, and an interrupted copy leaves part of the views copied —
	// and it is idempotent: run it again to finish. It returns the number
	// of views of kind it read from from; each of them is in to afterwards
	// at its version or newer.
	CopyViews(ctx context.Context, kind ViewKind, from, to string, fence int64) (int64, error)
}
