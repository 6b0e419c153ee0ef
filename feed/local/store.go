package local

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/streamer/streamer/events"
)

// SQLiteState keeps checkpoints and dead letters in SQLite tables, normally
// in the event store's own database file (pass sqlite.Store.DB()).
type SQLiteState struct{ db *sql.DB }

var (
	_ Checkpoints = (*SQLiteState)(nil)
	_ DeadLetters = (*SQLiteState)(nil)
)

// NewSQLiteState creates the tables if missing.
func NewSQLiteState(ctx context.Context, db *sql.DB) (*SQLiteState, error) {
	_, err := db.ExecContext(ctx, `
CREATE TABLE IF NOT EXISTS feed_checkpoints (
	consumer TEXT PRIMARY KEY,
	position INTEGER NOT NULL,
	updated  TEXT NOT NULL
) STRICT;
CREATE TABLE IF NOT EXISTS feed_dead_letters (
	consumer TEXT NOT NULL,
	position INTEGER NOT NULL,
	event    TEXT NOT NULL,
	attempts INTEGER NOT NULL,
	error    TEXT NOT NULL,
	time     TEXT NOT NULL,
	PRIMARY KEY (consumer, position)
) STRICT;`)
	if err != nil {
		return nil, fmt.Errorf("create feed tables: %w", err)
	}
	return &SQLiteState{db: db}, nil
}

// Get returns the consumer's checkpoint, 0 when it never committed one.
func (s *SQLiteState) Get(ctx context.Context, consumer string) (int64, error) {
	var pos int64
	err := s.db.QueryRowContext(ctx, `SELECT position FROM feed_checkpoints WHERE consumer = ?`, consumer).Scan(&pos)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, nil
	}
	return pos, err
}

// Set commits the consumer's checkpoint.
func (s *SQLiteState) Set(ctx context.Context, consumer string, position int64) error {
	_, err := s.db.ExecContext(ctx, `INSERT INTO feed_checkpoints (consumer, position, updated) VALUES (?, ?, ?)
		ON CONFLICT (consumer) DO UPDATE SET position = excluded.position, updated = excluded.updated`,
		consumer, position, time.Now().UTC().Format(time.RFC3339Nano))
	return err
}

// Put records a dead letter (a repeated one for the same consumer and
// position replaces the earlier record).
func (s *SQLiteState) Put(ctx context.Context, dl DeadLetter) error {
	enc, err := events.Encode(dl.Event)
	if err != nil {
		return err
	}
	_, err = s.db.ExecContext(ctx, `INSERT OR REPLACE INTO feed_dead_letters (consumer, position, event, attempts, error, time) VALUES (?, ?, ?, ?, ?, ?)`,
		dl.Consumer, dl.Position, string(enc), dl.Attempts, dl.Error, dl.Time.UTC().Format(time.RFC3339Nano))
	return err
}

// DeadLetters lists the consumer's dead letters in position order.
func (s *SQLiteState) DeadLetters(ctx context.Context, consumer string) ([]DeadLetter, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT position, event, attempts, error, time FROM feed_dead_letters WHERE consumer = ? ORDER BY position`, consumer)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []DeadLetter
	for rows.Next() {
		var dl DeadLetter
		var enc, ts string
		if err := rows.Scan(&dl.Position, &enc, &dl.Attempts, &dl.Error, &ts); err != nil {
			return nil, err
		}
		if dl.Event, err = events.Decode([]byte(enc)); err != nil {
			return nil, fmt.Errorf("dead letter at %d: %w", dl.Position, err)
		}
		if dl.Time, err = time.Parse(time.RFC3339Nano, ts); err != nil {
			return nil, err
		}
		dl.Consumer = consumer
		out = append(out, dl)
	}
	return out, rows.Err()
}
