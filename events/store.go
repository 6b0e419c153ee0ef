package events

import (
	"context"
	"fmt"
)

// Store is the append-only event log. Implementations: events/sqlite
// (embedded) and events/dynamodb (AWS); both pass events/storetest.
type Store interface {
	// Append writes evs to stream atomically, continuing it at exactly
	// expectedVersion (0 for a new stream). It returns the stored events
	// (stamped by Prepare). On a stale expectedVersion it fails with
	// ErrVersionConflict and writes nothing; conflicts are never retried by
	// the store.
	Append(ctx context.Context, stream string, expectedVersion int64, evs ...Event) ([]Event, error)

	// Load returns up to limit events of stream with Version ≥ fromVersion,
	// in version order (limit ≤ 0 means DefaultPageSize). Page.Next is the
	// version to continue from, 0 when there is nothing more. A stream with
	// no events at all is ErrStreamNotFound.
	Load(ctx context.Context, stream string, fromVersion int64, limit int) (Page, error)

	// Scan calls fn once for every event in the store. Events of one stream
	// arrive in version order; streams interleave in no fixed order. fn is
	// never called concurrently. An error from fn stops the scan and is
	// returned.
	Scan(ctx context.Context, opts ScanOptions, fn func(Event) error) error
}

// Page is one page of a Load.
type Page struct {
	Events []Event
	Next   int64 // version to load from next; 0 when the stream is exhausted
}

// ScanOptions tune a Scan.
type ScanOptions struct {
	// Segments is the number of parallel segments (DynamoDB parallel Scan);
	// backends that cannot split ignore it. ≤ 0 means 1.
	Segments int
}

// DefaultPageSize is Load's page size when the caller passes limit ≤ 0.
const DefaultPageSize = 1000

// LoadAll loads every event of stream from fromVersion on, following pages.
func LoadAll(ctx context.Context, s Store, stream string, fromVersion int64) ([]Event, error) {
	var all []Event
	for from := fromVersion; ; {
		p, err := s.Load(ctx, stream, from, 0)
		if err != nil {
			return nil, err
		}
		all = append(all, p.Events...)
		if p.Next == 0 {
			return all, nil
		}
		from = p.Next
	}
}

// VerifyStream loads stream and verifies its hash chain (see Verify).
func VerifyStream(ctx context.Context, s Store, stream string) error {
	evs, err := LoadAll(ctx, s, stream, 1)
	if err != nil {
		return fmt.Errorf("verify %s: %w", stream, err)
	}
	return Verify(evs)
}
