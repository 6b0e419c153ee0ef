package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/streamer/streamer/events"
)

// Append implements events.Store. The head read, events.Prepare and the
// inserts run in one IMMEDIATE transaction on the write connection, so no
// other append can move the stream in between; the UNIQUE (stream, version)
// constraint is the backstop for writers outside this Store.
func (s *Store) Append(ctx context.Context, stream string, expectedVersion int64, evs ...events.Event) ([]events.Event, error) {
	fail := func(err error) error {
		if ctxErr := ctx.Err(); ctxErr != nil && !errors.Is(err, ctxErr) {
			err = fmt.Errorf("%w: %w", ctxErr, err)
		}
		return &events.StoreError{Op: "append", Stream: stream, Version: expectedVersion, Err: err}
	}
	if expectedVersion < 0 {
		return nil, fail(fmt.Errorf("%w: expected version %d is negative", events.ErrVersionConflict, expectedVersion))
	}
	if err := ctx.Err(); err != nil {
		return nil, fail(err)
	}
	var insert *sql.Stmt
	if n := len(evs); n >= 1 && n <= events.MaxAppendEvents { // else Prepare rejects the call
		var err error
		if insert, err = s.insertFor(n); err != nil {
			return nil, fail(classify(err))
		}
	}
	tx, err := s.write.BeginTx(ctx, nil)
	if err != nil {
		return nil, fail(classify(err))
	}
	stored, err := s.appendTx(ctx, tx, insert, stream, expectedVersion, evs)
	if err != nil {
		tx.Rollback()
		return nil, fail(err)
	}
	// database/sql's Commit returns the context's error, and rolls back,
	// when ctx is done before it starts; once it starts, it commits.
	if err := tx.Commit(); err != nil {
		if errors.Is(err, sql.ErrTxDone) && ctx.Err() != nil {
			err = ctx.Err() // the context watcher rolled back first
		}
		return nil, fail(classify(err))
	}
	s.notify()
	return stored, nil
}

// appendTx is Append's work inside the transaction: read the head, check
// the expected version, Prepare, and insert every event with one statement.
func (s *Store) appendTx(ctx context.Context, tx *sql.Tx, insert *sql.Stmt, stream string, expected int64, evs []events.Event) ([]events.Event, error) {
	var (
		head  events.Head
		state []byte
	)
	err := tx.StmtContext(ctx, s.headStmt).QueryRowContext(ctx, stream).Scan(&head.Version, &head.Hash, &state)
	switch {
	case errors.Is(err, sql.ErrNoRows):
	case err != nil:
		return nil, classify(err)
	default:
		if err := json.Unmarshal(state, &head.State); err != nil {
			return nil, fmt.Errorf("%w: stored state of %s@%d: %v", events.ErrInvalidEvent, stream, head.Version, err)
		}
	}
	if head.Version != expected {
		return nil, fmt.Errorf("%w: stream is at version %d", events.ErrVersionConflict, head.Version)
	}
	stored, states, err := events.Prepare(stream, head, evs, time.Now())
	if err != nil {
		return nil, err
	}
	args := make([]any, 0, insertColumns*len(stored))
	for i, e := range stored {
		meta, err := json.Marshal(e.Meta)
		if err != nil {
			return nil, fmt.Errorf("%w: meta of %s@%d: %v", events.ErrInvalidEvent, stream, e.Version, err)
		}
		st, err := json.Marshal(states[i])
		if err != nil {
			return nil, fmt.Errorf("%w: state of %s@%d: %v", events.ErrInvalidEvent, stream, e.Version, err)
		}
		// Text columns are bound as strings, data as a blob: the table is
		// STRICT.
		args = append(args, stream, e.Version, e.ID, e.Type, e.SchemaVersion,
			e.Time.UTC().Format(time.RFC3339Nano), string(meta), []byte(e.Data), e.PrevHash, e.Hash, string(st))
	}
	if _, err := tx.StmtContext(ctx, insert).ExecContext(ctx, args...); err != nil {
		return nil, classify(err)
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return stored, nil
}

// classify maps a driver error to the events sentinel it means: a UNIQUE
// violation on (stream, version) is a version conflict, one on the event ID
// an invalid event, and a lock that could not be had in time is transient.
// Other errors (I/O, a closed store) are returned as they are.
func classify(err error) error {
	var se *sqlite.Error
	if !errors.As(err, &se) {
		return err
	}
	switch code := se.Code(); {
	case code == sqlite3.SQLITE_CONSTRAINT_UNIQUE && strings.Contains(se.Error(), "events.id"):
		return fmt.Errorf("%w: event ID already stored: %v", events.ErrInvalidEvent, err)
	case code == sqlite3.SQLITE_CONSTRAINT_UNIQUE:
		return fmt.Errorf("%w: %v", events.ErrVersionConflict, err)
	case code&0xff == sqlite3.SQLITE_BUSY, code&0xff == sqlite3.SQLITE_LOCKED:
		return fmt.Errorf("%w: %v", events.ErrTransient, err)
	}
	return err
}
