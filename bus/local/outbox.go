package local

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"

	awsevents "github.com/aws/aws-lambda-go/events"

	"github.com/streamer/streamer/events"
)

// ErrBadOutboxEntry: an outbox row that does not decode to a delivery. The
// bus dead-letters it at once (the row's body is kept in the dead letter)
// instead of calling the target.
var ErrBadOutboxEntry = errors.New("bad outbox entry")

// Outbox keeps the deliveries the bus has accepted and not yet finished,
// so that a crash loses none of them (Config.Outbox). SQLOutbox is the
// implementation; another must keep the same promises.
type Outbox interface {
	// Add stores entries atomically — all of them or, with an error, none —
	// and returns their IDs, in entries' order. IDs increase in the order
	// entries were added and are never reused.
	Add(ctx context.Context, entries []OutboxEntry) ([]int64, error)
	// Delete removes the entries with these IDs; unknown IDs are ignored.
	Delete(ctx context.Context, ids []int64) error
	// Pending lists rule's entries in the order they were added.
	Pending(ctx context.Context, rule string) ([]OutboxEntry, error)
	// Counts is the number of entries per rule.
	Counts(ctx context.Context) (map[string]int, error)
}

// OutboxEntry is one delivery of one event to one rule's target.
type OutboxEntry struct {
	ID      int64 // set by Add
	Rule    string
	EventID string
	Stream  string
	Version int64
	Type    string
	Body    []byte // the EventBridge-shaped event JSON, as the target gets it (Delivery.JSON)
}

// SQLOutbox keeps the outbox in the table bus_outbox of a SQLite database
// (the embedded runtime's events.db, on the event store's write
// connection).
type SQLOutbox struct {
	db     *sql.DB
	delete *sql.Stmt

	mu      sync.Mutex
	inserts [maxInsertRows + 1]*sql.Stmt // inserts[n] inserts n rows
}

// maxInsertRows is the most rows one INSERT statement of Add writes.
const maxInsertRows = 32

var _ Outbox = (*SQLOutbox)(nil)

// NewSQLOutbox creates the table if needed and prepares the statements
// Add and Delete run (here, outside any transaction: preparing takes the
// write connection).
func NewSQLOutbox(ctx context.Context, db *sql.DB) (*SQLOutbox, error) {
	// AUTOINCREMENT: an ID is never reused, even after the table emptied,
	// so a retried Delete can never remove a newer entry.
	_, err := db.ExecContext(ctx, `
CREATE TABLE IF NOT EXISTS bus_outbox (
	id       INTEGER PRIMARY KEY AUTOINCREMENT,
	rule     TEXT NOT NULL,
	event_id TEXT NOT NULL,
	stream   TEXT NOT NULL,
	version  INTEGER NOT NULL,
	type     TEXT NOT NULL,
	body     TEXT NOT NULL
) STRICT`)
	if err != nil {
		return nil, fmt.Errorf("create bus_outbox: %w", err)
	}
	o := &SQLOutbox{db: db}
	// One statement for any number of IDs: a JSON array.
	if o.delete, err = db.PrepareContext(ctx, `DELETE FROM bus_outbox WHERE id IN (SELECT value FROM json_each(?))`); err != nil {
		return nil, fmt.Errorf("prepare bus_outbox delete: %w", err)
	}
	if _, err := o.insertFor(ctx, 1); err != nil {
		return nil, err
	}
	return o, nil
}

// insertFor returns the statement inserting n rows (1 ≤ n ≤
// maxInsertRows), preparing it on first use. It must be called outside a
// transaction on the write connection: preparing takes it.
func (o *SQLOutbox) insertFor(ctx context.Context, n int) (*sql.Stmt, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if st := o.inserts[n]; st != nil {
		return st, nil
	}
	row := "(?, ?, ?, ?, ?, ?)"
	st, err := o.db.PrepareContext(ctx, `INSERT INTO bus_outbox (rule, event_id, stream, version, type, body) VALUES `+
		strings.Repeat(row+", ", n-1)+row)
	if err != nil {
		return nil, fmt.Errorf("prepare bus_outbox %d-row insert: %w", n, err)
	}
	o.inserts[n] = st
	return st, nil
}

// Add inserts entries in one transaction, maxInsertRows per statement.
func (o *SQLOutbox) Add(ctx context.Context, entries []OutboxEntry) (_ []int64, err error) {
	if len(entries) == 0 {
		return nil, nil
	}
	// The statements first: preparing inside the transaction would wait
	// for the connection the transaction holds.
	full, err := o.insertFor(ctx, min(len(entries), maxInsertRows))
	if err != nil {
		return nil, fmt.Errorf("store bus outbox: %w", err)
	}
	last := full
	if rest := len(entries) % maxInsertRows; rest != 0 && len(entries) > maxInsertRows {
		if last, err = o.insertFor(ctx, rest); err != nil {
			return nil, fmt.Errorf("store bus outbox: %w", err)
		}
	}
	tx, err := o.db.BeginTx(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("store bus outbox: %w", err)
	}
	defer func() {
		if err != nil {
			tx.Rollback()
		}
	}()
	ids := make([]int64, len(entries))
	args := make([]any, 0, 6*min(len(entries), maxInsertRows))
	for start := 0; start < len(entries); start += maxInsertRows {
		chunk := entries[start:min(start+maxInsertRows, len(entries))]
		st := full
		if len(chunk) < maxInsertRows && start > 0 {
			st = last
		}
		args = args[:0]
		for _, e := range chunk {
			args = append(args, e.Rule, e.EventID, e.Stream, e.Version, e.Type, string(e.Body))
		}
		res, err := tx.StmtContext(ctx, st).ExecContext(ctx, args...)
		if err != nil {
			return nil, fmt.Errorf("store bus outbox: %w", err)
		}
		// The rows of one statement get consecutive IDs under the write
		// lock (AUTOINCREMENT: one more than the largest ever).
		lastID, err := res.LastInsertId()
		if err != nil {
			return nil, fmt.Errorf("store bus outbox: %w", err)
		}
		for i := range chunk {
			ids[start+i] = lastID - int64(len(chunk)-1-i)
		}
	}
	if err := tx.Commit(); err != nil {
		if errors.Is(err, sql.ErrTxDone) && ctx.Err() != nil {
			err = ctx.Err() // the context watcher rolled back first
		}
		return nil, fmt.Errorf("store bus outbox: %w", err)
	}
	return ids, nil
}

// Delete removes ids with one statement.
func (o *SQLOutbox) Delete(ctx context.Context, ids []int64) error {
	if len(ids) == 0 {
		return nil
	}
	list := make([]byte, 0, 16*len(ids))
	list = append(list, '[')
	for i, id := range ids {
		if i > 0 {
			list = append(list, ',')
		}
		list = strconv.AppendInt(list, id, 10)
	}
	list = append(list, ']')
	if _, err := o.delete.ExecContext(ctx, string(list)); err != nil {
		return fmt.Errorf("delete from bus outbox: %w", err)
	}
	return nil
}

// Pending lists rule's entries, oldest first.
func (o *SQLOutbox) Pending(ctx context.Context, rule string) ([]OutboxEntry, error) {
	rows, err := o.db.QueryContext(ctx, `SELECT id, rule, event_id, stream, version, type, body
		FROM bus_outbox WHERE rule = ? ORDER BY id`, rule)
	if err != nil {
		return nil, fmt.Errorf("list bus outbox: %w", err)
	}
	defer rows.Close()
	var out []OutboxEntry
	for rows.Next() {
		var e OutboxEntry
		var body string
		if err := rows.Scan(&e.ID, &e.Rule, &e.EventID, &e.Stream, &e.Version, &e.Type, &body); err != nil {
			return nil, fmt.Errorf("list bus outbox: %w", err)
		}
		e.Body = []byte(body)
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list bus outbox: %w", err)
	}
	return out, nil
}

// Counts is the number of entries per rule.
func (o *SQLOutbox) Counts(ctx context.Context) (map[string]int, error) {
	rows, err := o.db.QueryContext(ctx, `SELECT rule, count(*) FROM bus_outbox GROUP BY rule`)
	if err != nil {
		return nil, fmt.Errorf("count bus outbox: %w", err)
	}
	defer rows.Close()
	out := map[string]int{}
	for rows.Next() {
		var rule string
		var n int
		if err := rows.Scan(&rule, &n); err != nil {
			return nil, fmt.Errorf("count bus outbox: %w", err)
		}
		out[rule] = n
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("count bus outbox: %w", err)
	}
	return out, nil
}

// entry is d's outbox row for rule r.
func entry(r string, d delivery) OutboxEntry {
	return OutboxEntry{Rule: r, EventID: d.Event.ID, Stream: d.Event.StreamID, Version: d.Event.Version, Type: d.Event.Type, Body: d.JSON}
}

// recovered turns an outbox row of a previous run back into the delivery
// it stored: JSON is the stored body byte for byte, EventBridge its
// decoding, Event the envelope in its detail (as an EventBridge subscriber
// decodes it). A row that does not decode keeps its columns in Event and
// carries the reason in bad (wrapping ErrBadOutboxEntry).
func recovered(e OutboxEntry) delivery {
	d := delivery{id: e.ID, Delivery: Delivery{JSON: e.Body,
		Event: events.Event{ID: e.EventID, StreamID: e.Stream, Version: e.Version, Type: e.Type}}}
	var eb awsevents.EventBridgeEvent
	if err := json.Unmarshal(e.Body, &eb); err != nil {
		d.bad = fmt.Errorf("%w %d: body: %v", ErrBadOutboxEntry, e.ID, err)
		return d
	}
	ev, err := events.Decode(eb.Detail)
	if err != nil {
		d.bad = fmt.Errorf("%w %d: detail: %v", ErrBadOutboxEntry, e.ID, err)
		return d
	}
	if ev.ID != e.EventID || ev.StreamID != e.Stream || ev.Version != e.Version || ev.Type != e.Type || eb.DetailType != ev.Type {
		d.bad = fmt.Errorf("%w %d: detail is %s %s@%d (%s), the row says %s %s@%d (%s)", ErrBadOutboxEntry, e.ID,
			ev.ID, ev.StreamID, ev.Version, ev.Type, e.EventID, e.Stream, e.Version, e.Type)
		return d
	}
	d.Event, d.EventBridge = ev, eb
	return d
}
