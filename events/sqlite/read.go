package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"time"

	"github.com/streamer/streamer/events"
)

// Record is an event with its global position in the store.
type Record struct {
	Position int64
	Event    events.Event
}

const columns = `position, stream, version, id, type, schema_version, time, meta, data, prev_hash, hash`

// Load implements events.Store.
func (s *Store) Load(ctx context.Context, stream string, fromVersion int64, limit int) (events.Page, error) {
	fail := func(err error) (events.Page, error) {
		return events.Page{}, &events.StoreError{Op: "load", Stream: stream, Version: fromVersion, Err: err}
	}
	if limit <= 0 {
		limit = events.DefaultPageSize
	}
	from := max(fromVersion, 1)
	recs, err := s.query(ctx, s.loadStmt,
		limit, stream, from, limit+1)
	if err != nil {
		return fail(err)
	}
	if len(recs) == 0 {
		var exists bool
		err := s.read.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM events WHERE stream = ?)`, stream).Scan(&exists)
		if err != nil {
			return fail(readErr(ctx, err))
		}
		if !exists {
			return fail(events.ErrStreamNotFound)
		}
		return events.Page{}, nil
	}
	page := events.Page{Events: make([]events.Event, 0, min(len(recs), limit))}
	for _, r := range recs[:min(len(recs), limit)] {
		page.Events = append(page.Events, r.Event)
	}
	if len(recs) > limit {
		page.Next = page.Events[limit-1].Version + 1
	}
	return page, nil
}

// Scan implements events.Store: every event once, in position order (so in
// version order within a stream), read in batches so that no query is open
// while fn runs; fn may append. Segments are ignored. Events appended during
// the scan may or may not be seen.
func (s *Store) Scan(ctx context.Context, _ events.ScanOptions, fn func(events.Event) error) error {
	for after := int64(0); ; {
		recs, err := s.readFrom(ctx, after, s.cfg.scanBatch)
		if err != nil {
			return &events.StoreError{Op: "scan", Err: err}
		}
		if len(recs) == 0 {
			return nil
		}
		for _, r := range recs {
			if err := ctx.Err(); err != nil {
				return &events.StoreError{Op: "scan", Err: err}
			}
			if err := fn(r.Event); err != nil {
				return err
			}
		}
		after = recs[len(recs)-1].Position
	}
}

// ReadFrom returns up to limit events with a position greater than
// afterPosition, in position order (limit ≤ 0 means
// events.DefaultPageSize). Positions grow in commit order, so a caller that
// passes the last position it has seen never misses an event.
func (s *Store) ReadFrom(ctx context.Context, afterPosition int64, limit int) ([]Record, error) {
	if limit <= 0 {
		limit = events.DefaultPageSize
	}
	recs, err := s.readFrom(ctx, afterPosition, limit)
	if err != nil {
		return nil, &events.StoreError{Op: "read", Err: err}
	}
	return recs, nil
}

func (s *Store) readFrom(ctx context.Context, afterPosition int64, limit int) ([]Record, error) {
	return s.query(ctx, s.readFromStmt,
		limit, afterPosition, limit)
}

// LastPosition is the position of the last committed event, 0 for an empty
// store.
func (s *Store) LastPosition(ctx context.Context) (int64, error) {
	var pos int64
	if err := s.read.QueryRowContext(ctx, `SELECT COALESCE(MAX(position), 0) FROM events`).Scan(&pos); err != nil {
		return 0, &events.StoreError{Op: "read", Err: readErr(ctx, err)}
	}
	return pos, nil
}

// query runs a SELECT of columns on the read pool and decodes every row.
func (s *Store) query(ctx context.Context, q *sql.Stmt, sizeHint int, args ...any) ([]Record, error) {
	rows, err := q.QueryContext(ctx, args...)
	if err != nil {
		return nil, readErr(ctx, err)
	}
	defer rows.Close()
	recs := make([]Record, 0, min(sizeHint, 64))
	for rows.Next() {
		r, err := scanRecord(rows)
		if err != nil {
			return nil, err
		}
		recs = append(recs, r)
	}
	if err := rows.Err(); err != nil {
		return nil, readErr(ctx, err)
	}
	return recs, nil
}

func scanRecord(rows *sql.Rows) (Record, error) {
	var (
		r          Record
		ts         string
		meta, data []byte
	)
	e := &r.Event
	if err := rows.Scan(&r.Position, &e.StreamID, &e.Version, &e.ID, &e.Type, &e.SchemaVersion,
		&ts, &meta, &data, &e.PrevHash, &e.Hash); err != nil {
		return r, fmt.Errorf("%w: row: %v", events.ErrInvalidEvent, err)
	}
	t, err := time.Parse(time.RFC3339Nano, ts)
	if err != nil {
		return r, fmt.Errorf("%w: %s@%d: time: %v", events.ErrInvalidEvent, e.StreamID, e.Version, err)
	}
	e.Time = t.UTC()
	if err := json.Unmarshal(meta, &e.Meta); err != nil {
		return r, fmt.Errorf("%w: %s@%d: meta: %v", events.ErrInvalidEvent, e.StreamID, e.Version, err)
	}
	e.Data = data
	return r, nil
}

// readErr prefers the context's error to the driver's report of the
// interruption it caused, and marks lock timeouts transient.
func readErr(ctx context.Context, err error) error {
	if ctxErr := ctx.Err(); ctxErr != nil {
		return fmt.Errorf("%w: %w", ctxErr, err)
	}
	return classify(err)
}
