package local

import (
	"context"
	"database/sql"
	"fmt"
	"log/slog"
	"time"
)

// DeadLetter is a delivery that failed for good: the event as the target
// would have received it, how often it was tried and the last error.
type DeadLetter struct {
	Rule     string
	Target   string
	EventID  string
	Stream   string
	Version  int64
	Type     string
	Body     []byte // the EventBridge-shaped event (the webhook body)
	Attempts int
	Error    string
	Time     time.Time
}

// DeadLetters records failed deliveries.
type DeadLetters interface {
	Put(ctx context.Context, dl DeadLetter) error
}

// LogDeadLetters records dead letters as error logs, with the whole event.
// It is the bus's default; the dev runtime uses SQLDeadLetters.
type LogDeadLetters struct{ Logger *slog.Logger }

func (l LogDeadLetters) Put(_ context.Context, dl DeadLetter) error {
	logger := l.Logger
	if logger == nil {
		logger = slog.Default()
	}
	logger.Error("bus dead letter", "rule", dl.Rule, "target", dl.Target, "event_id", dl.EventID, "stream", dl.Stream,
		"version", dl.Version, "type", dl.Type, "attempts", dl.Attempts, "error", dl.Error, "event", string(dl.Body))
	return nil
}

// SQLDeadLetters keeps dead letters in the table bus_dead_letters of a
// SQLite database (the embedded runtime's events.db).
type SQLDeadLetters struct{ db *sql.DB }

// NewSQLDeadLetters creates the table if needed.
func NewSQLDeadLetters(ctx context.Context, db *sql.DB) (*SQLDeadLetters, error) {
	_, err := db.ExecContext(ctx, `
CREATE TABLE IF NOT EXISTS bus_dead_letters (
	id       INTEGER PRIMARY KEY,
	rule     TEXT NOT NULL,
	target   TEXT NOT NULL,
	event_id TEXT NOT NULL,
	stream   TEXT NOT NULL,
	version  INTEGER NOT NULL,
	type     TEXT NOT NULL,
	body     TEXT NOT NULL,
	attempts INTEGER NOT NULL,
	error    TEXT NOT NULL,
	time     TEXT NOT NULL
) STRICT`)
	if err != nil {
		return nil, fmt.Errorf("create bus_dead_letters: %w", err)
	}
	return &SQLDeadLetters{db: db}, nil
}

func (s *SQLDeadLetters) Put(ctx context.Context, dl DeadLetter) error {
	_, err := s.db.ExecContext(ctx, `INSERT INTO bus_dead_letters
		(rule, target, event_id, stream, version, type, body, attempts, error, time) VALUES (?,?,?,?,?,?,?,?,?,?)`,
		dl.Rule, dl.Target, dl.EventID, dl.Stream, dl.Version, dl.Type, string(dl.Body), dl.Attempts, dl.Error,
		dl.Time.UTC().Format(time.RFC3339Nano))
	if err != nil {
		return fmt.Errorf("record bus dead letter: %w", err)
	}
	return nil
}

// List returns the dead letters of rule ("" for all), oldest first.
func (s *SQLDeadLetters) List(ctx context.Context, rule string) ([]DeadLetter, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT rule, target, event_id, stream, version, type, body, attempts, error, time
		FROM bus_dead_letters WHERE ? = '' OR rule = ? ORDER BY id`, rule, rule)
	if err != nil {
		return nil, fmt.Errorf("list bus dead letters: %w", err)
	}
	defer rows.Close()
	var out []DeadLetter
	for rows.Next() {
		var dl DeadLetter
		var body, tm string
		if err := rows.Scan(&dl.Rule, &dl.Target, &dl.EventID, &dl.Stream, &dl.Version, &dl.Type, &body, &dl.Attempts, &dl.Error, &tm); err != nil {
			return nil, fmt.Errorf("list bus dead letters: %w", err)
		}
		dl.Body = []byte(body)
		if dl.Time, err = time.Parse(time.RFC3339Nano, tm); err != nil {
			return nil, fmt.Errorf("list bus dead letters: time %q: %w", tm, err)
		}
		out = append(out, dl)
	}
	return out, rows.Err()
}
