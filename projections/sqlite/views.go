package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	_ "modernc.org/sqlite" // registers the "sqlite" database/sql driver

	"github.com/streamer/streamer/projections"
)

// Views is the SQLite view backend; it implements projections.Generations.
// It is safe for concurrent use.
type Views struct {
	write *sql.DB // writes; any pool, ideally of one connection
	read  *sql.DB // reads; write when no read pool was given
	owned bool    // Close closes the pools

	readStmts, writeStmts *stmtCache
}

var _ projections.Generations = (*Views)(nil)

const schema = `
CREATE TABLE IF NOT EXISTS view_meta (
	id         INTEGER PRIMARY KEY CHECK (id = 1),
	active     TEXT    NOT NULL,
	rebuilding TEXT    NOT NULL,
	previous   TEXT    NOT NULL,
	epoch      INTEGER NOT NULL,
	checkpoint TEXT    NOT NULL,
	done       INTEGER NOT NULL,
	revision   INTEGER NOT NULL,
	updated_at INTEGER,
	views      TEXT    NOT NULL DEFAULT ''
) STRICT;
CREATE TABLE IF NOT EXISTS view_requests (
	gen              TEXT    NOT NULL,
	id               TEXT    NOT NULL,
	version          INTEGER NOT NULL,
	action           TEXT    NOT NULL,
	status           TEXT    NOT NULL,
	percentage       REAL    NOT NULL,
	message          TEXT    NOT NULL,
	result           BLOB,
	error_code       TEXT,
	error_message    TEXT    NOT NULL,
	error_retryable  INTEGER NOT NULL,
	owner            TEXT    NOT NULL,
	tenant           TEXT    NOT NULL,
	attempt          INTEGER NOT NULL,
	cancel_requested INTEGER NOT NULL,
	submitted_at     INTEGER,
	started_at       INTEGER,
	updated_at       INTEGER,
	completed_at     INTEGER,
	sort_at          INTEGER NOT NULL,
	PRIMARY KEY (gen, id)
) STRICT;
CREATE INDEX IF NOT EXISTS view_requests_owner ON view_requests (gen, tenant, owner, sort_at, id);
CREATE INDEX IF NOT EXISTS view_requests_status ON view_requests (gen, status, sort_at, id);
CREATE TABLE IF NOT EXISTS view_connections (
	gen           TEXT    NOT NULL,
	id            TEXT    NOT NULL,
	version       INTEGER NOT NULL,
	user          TEXT    NOT NULL,
	tenant        TEXT    NOT NULL,
	status        TEXT    NOT NULL,
	close_reason  TEXT    NOT NULL,
	connected_at  INTEGER,
	last_seen     INTEGER,
	expires_at    INTEGER,
	subscriptions TEXT,
	PRIMARY KEY (gen, id)
) STRICT;
CREATE INDEX IF NOT EXISTS view_connections_user ON view_connections (gen, tenant, user, id) WHERE status = 'open';
CREATE INDEX IF NOT EXISTS view_connections_expiry ON view_connections (gen, expires_at, id) WHERE expires_at IS NOT NULL;
CREATE TABLE IF NOT EXISTS view_subscriptions (
	gen           TEXT    NOT NULL,
	request_id    TEXT    NOT NULL,
	connection_id TEXT    NOT NULL,
	from_version  INTEGER NOT NULL,
	PRIMARY KEY (gen, request_id, connection_id)
) STRICT, WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS view_subscriptions_connection ON view_subscriptions (gen, connection_id);
`

// Option tunes New and Open.
type Option func(*Views)

// WithReadDB serves reads from db (a pool of read connections to the same
// file) instead of the write handle.
func WithReadDB(db *sql.DB) Option { return func(v *Views) { v.read = db } }

// New uses db for the views, creating their tables if needed. db may be the
// event store's write handle (events/sqlite (*Store).DB()): views then live
// in the events file and every view write queues behind appends on its one
// connection. db must not be an in-memory database shared across pools.
// The caller keeps ownership of db.
func New(ctx context.Context, db *sql.DB, opts ...Option) (*Views, error) {
	v := &Views{write: db}
	for _, o := range opts {
		o(v)
	}
	if v.read == nil {
		v.read = db
	}
	if _, err := db.ExecContext(ctx, schema); err != nil {
		return nil, fmt.Errorf("create view tables: %w", err)
	}
	if err := migrate(ctx, db); err != nil {
		return nil, err
	}
	v.readStmts, v.writeStmts = newStmtCache(v.read), newStmtCache(v.write)
	v.warm(ctx, txStatements...)
	return v, nil
}

// migrations add the columns that later versions added to tables an older
// version may have created: table, column, definition.
var migrations = [][3]string{
	{"view_meta", "views", `TEXT NOT NULL DEFAULT ''`},
}

// migrate adds the columns of migrations that are missing. Two processes
// may race to add one: the loser sees the column there and goes on.
func migrate(ctx context.Context, db *sql.DB) error {
	for _, m := range migrations {
		has, err := hasColumn(ctx, db, m[0], m[1])
		if err != nil {
			return err
		}
		if has {
			continue
		}
		if _, err := db.ExecContext(ctx, `ALTER TABLE `+m[0]+` ADD COLUMN `+m[1]+` `+m[2]); err != nil {
			if has, herr := hasColumn(ctx, db, m[0], m[1]); herr != nil || !has {
				return fmt.Errorf("add column %s.%s: %w", m[0], m[1], err)
			}
		}
	}
	return nil
}

func hasColumn(ctx context.Context, db *sql.DB, table, column string) (bool, error) {
	var n int
	if err := db.QueryRowContext(ctx, `SELECT count(*) FROM pragma_table_info(?) WHERE name = ?`, table, column).Scan(&n); err != nil {
		return false, fmt.Errorf("inspect table %s: %w", table, err)
	}
	return n > 0, nil
}

// Open opens (creating if needed) the SQLite file at path in WAL mode with
// one write connection and a pool of readers, and the view tables in it. It
// may be the event store's file. Close closes it.
func Open(ctx context.Context, path string) (*Views, error) {
	if path == "" || path == ":memory:" || strings.HasPrefix(path, "file:") {
		return nil, fmt.Errorf("open sqlite views: path must be a file name, got %q", path)
	}
	dsn := "file:" + (&url.URL{Path: path}).EscapedPath() + "?_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)&_pragma=synchronous(NORMAL)"
	write, err := openPool(ctx, dsn+"&_txlock=immediate", 1)
	if err != nil {
		return nil, err
	}
	read, err := openPool(ctx, dsn+"&_pragma=query_only(1)", 4)
	if err != nil {
		write.Close()
		return nil, err
	}
	v, err := New(ctx, write, WithReadDB(read))
	if err != nil {
		read.Close()
		write.Close()
		return nil, err
	}
	v.owned = true
	return v, nil
}

func openPool(ctx context.Context, dsn string, conns int) (*sql.DB, error) {
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("open sqlite views: %w", err)
	}
	db.SetMaxOpenConns(conns)
	db.SetMaxIdleConns(conns)
	db.SetConnMaxLifetime(0)
	db.SetConnMaxIdleTime(0)
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("open sqlite views: %w", err)
	}
	return db, nil
}

// Close closes the prepared statements, and the pools Open opened (not
// New's).
func (v *Views) Close() error {
	err := errors.Join(v.readStmts.close(), v.writeStmts.close())
	if !v.owned {
		return err
	}
	return errors.Join(err, v.read.Close(), v.write.Close())
}

// Meta implements projections.Generations.
func (v *Views) Meta(ctx context.Context) (projections.Meta, error) {
	var (
		m       projections.Meta
		updated sql.NullInt64
	)
	err := v.readRow(ctx, `SELECT active, rebuilding, previous, epoch, checkpoint, done, revision, updated_at, views
		FROM view_meta WHERE id = 1`).Scan(&m.Active, &m.Rebuilding, &m.Previous, &m.Epoch, &m.Checkpoint, &m.Done, &m.Revision, &updated, &m.Views)
	if errors.Is(err, sql.ErrNoRows) {
		return projections.Meta{}, nil
	}
	if err != nil {
		return projections.Meta{}, fmt.Errorf("read view meta: %w", err)
	}
	m.UpdatedAt = fromNanos(updated)
	return m, nil
}

// SwapMeta implements projections.Generations.
func (v *Views) SwapMeta(ctx context.Context, expectedRevision int64, next projections.Meta) (projections.Meta, error) {
	next.Revision = expectedRevision + 1
	next.UpdatedAt = next.UpdatedAt.UTC()
	args := []any{next.Active, next.Rebuilding, next.Previous, next.Epoch, next.Checkpoint, next.Done, next.Revision, toNanos(next.UpdatedAt), string(next.Views)}
	var (
		res sql.Result
		err error
	)
	if expectedRevision == 0 {
		res, err = v.write.ExecContext(ctx, `INSERT INTO view_meta
			(id, active, rebuilding, previous, epoch, checkpoint, done, revision, updated_at, views)
			VALUES (1, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING`, args...)
	} else {
		res, err = v.write.ExecContext(ctx, `UPDATE view_meta SET active = ?, rebuilding = ?, previous = ?, epoch = ?,
			checkpoint = ?, done = ?, revision = ?, updated_at = ?, views = ? WHERE id = 1 AND revision = ?`, append(args, expectedRevision)...)
	}
	if err != nil {
		return projections.Meta{}, fmt.Errorf("write view meta: %w", err)
	}
	if n, err := res.RowsAffected(); err != nil || n != 1 {
		return projections.Meta{}, fmt.Errorf("write view meta at revision %d: %w", expectedRevision, projections.ErrViewConflict)
	}
	return next, nil
}

// Open implements projections.Generations.
func (v *Views) Open(_ context.Context, gen string, fence int64) (projections.ViewStore, error) {
	return v.Store(gen, fence)
}

// Store is Open with its concrete type.
func (v *Views) Store(gen string, fence int64) (*Store, error) {
	if gen == "" {
		return nil, errors.New("open view generation: name is empty")
	}
	if fence < 0 {
		return nil, fmt.Errorf("open view generation %s: fence %d < 0", gen, fence)
	}
	return &Store{v: v, gen: gen, fence: fence}, nil
}

// Drop implements projections.Generations.
func (v *Views) Drop(ctx context.Context, gen string) error {
	return v.inTx(ctx, func(tx *sql.Tx) error {
		for _, table := range []string{"view_requests", "view_connections", "view_subscriptions"} {
			if _, err := tx.ExecContext(ctx, `DELETE FROM `+table+` WHERE gen = ?`, gen); err != nil {
				return fmt.Errorf("drop generation %s from %s: %w", gen, table, err)
			}
		}
		return nil
	})
}

// inTx runs fn in a write transaction, committing when it returns nil.
func (v *Views) inTx(ctx context.Context, fn func(*sql.Tx) error) error {
	tx, err := v.write.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin view write: %w", err)
	}
	if err := fn(tx); err != nil {
		tx.Rollback()
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit view write: %w", err)
	}
	return nil
}

// epoch reads the Meta epoch (0 when there is no Meta).
func (v *Views) epoch(ctx context.Context, q interface {
	QueryRowContext(context.Context, string, ...any) *sql.Row
}) (int64, error) {
	var e int64
	err := q.QueryRowContext(ctx, `SELECT epoch FROM view_meta WHERE id = 1`).Scan(&e)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, nil
	}
	return e, err
}

// toNanos encodes a time as Unix nanoseconds, NULL for the zero time.
func toNanos(t time.Time) sql.NullInt64 {
	if t.IsZero() {
		return sql.NullInt64{}
	}
	return sql.NullInt64{Int64: t.UnixNano(), Valid: true}
}

// fromNanos decodes toNanos in UTC.
func fromNanos(n sql.NullInt64) time.Time {
	if !n.Valid {
		return time.Time{}
	}
	return time.Unix(0, n.Int64).UTC()
}
