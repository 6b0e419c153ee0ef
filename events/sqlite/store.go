package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"sync"
	"time"

	_ "modernc.org/sqlite" // registers the "sqlite" database/sql driver

	"github.com/streamer/streamer/events"
)

// Store is the SQLite events.Store. It is safe for concurrent use.
type Store struct {
	write *sql.DB // exactly one connection: every write transaction
	read  *sql.DB // pooled, query_only connections
	cfg   config

	// Statements prepared once: on the write connection the head query and
	// a multi-row INSERT for each batch size Append has seen; on the read
	// pool the two hot reads.
	headStmt     *sql.Stmt
	loadStmt     *sql.Stmt // Load: one stream from a version
	readFromStmt *sql.Stmt // ReadFrom: the feed by global position
	stmtMu       sync.Mutex
	inserts      map[int]*sql.Stmt

	mu     sync.Mutex
	subs   map[chan struct{}]struct{}
	closed bool
}

var _ events.Store = (*Store)(nil)

// schemaVersion is the PRAGMA user_version this build writes and reads.
const schemaVersion = 1

const schema = `
CREATE TABLE IF NOT EXISTS events (
	position       INTEGER PRIMARY KEY AUTOINCREMENT,
	stream         TEXT    NOT NULL,
	version        INTEGER NOT NULL,
	id             TEXT    NOT NULL UNIQUE,
	type           TEXT    NOT NULL,
	schema_version INTEGER NOT NULL,
	time           TEXT    NOT NULL,
	meta           TEXT    NOT NULL,
	data           BLOB    NOT NULL,
	prev_hash      TEXT    NOT NULL,
	hash           TEXT    NOT NULL,
	state          TEXT    NOT NULL,
	UNIQUE (stream, version)
) STRICT;
PRAGMA user_version = 1;
`

type config struct {
	busyTimeout time.Duration
	readConns   int
	scanBatch   int
}

// Option tunes Open.
type Option func(*config)

// WithBusyTimeout sets how long a connection waits for a lock held by
// another process before failing (default 10s). Writers of this Store never
// wait on each other: they share one connection.
func WithBusyTimeout(d time.Duration) Option { return func(c *config) { c.busyTimeout = d } }

// WithReadConns bounds the read pool (default 4).
func WithReadConns(n int) Option { return func(c *config) { c.readConns = n } }

// WithScanBatch sets how many rows Scan reads per query (default 500). No
// query stays open while Scan's callback runs.
func WithScanBatch(n int) Option { return func(c *config) { c.scanBatch = n } }

// Open opens the store in the SQLite file at path, creating the file (its
// folder must exist) and its schema if needed, and switching it to WAL mode.
// The caller closes it with Close.
func Open(path string, opts ...Option) (*Store, error) {
	cfg := config{busyTimeout: 10 * time.Second, readConns: 4, scanBatch: 500}
	for _, o := range opts {
		o(&cfg)
	}
	if path == "" || path == ":memory:" || strings.HasPrefix(path, "file:") {
		return nil, fmt.Errorf("open sqlite store: path must be a file name, got %q", path)
	}
	if cfg.readConns < 1 || cfg.scanBatch < 1 || cfg.busyTimeout < 0 {
		return nil, fmt.Errorf("open sqlite store: read conns (%d) and scan batch (%d) must be ≥ 1, busy timeout (%v) ≥ 0",
			cfg.readConns, cfg.scanBatch, cfg.busyTimeout)
	}
	s := &Store{cfg: cfg, subs: map[chan struct{}]struct{}{}, inserts: map[int]*sql.Stmt{}}
	var err error
	if s.write, err = openDB(path, cfg, "_pragma=journal_mode(WAL)&_pragma=synchronous(NORMAL)&_txlock=immediate", 1); err != nil {
		return nil, err
	}
	if err := s.migrate(); err != nil {
		s.write.Close()
		return nil, err
	}
	if s.read, err = openDB(path, cfg, "_pragma=query_only(1)", cfg.readConns); err != nil {
		s.write.Close()
		return nil, err
	}
	if err := s.prepare(); err != nil {
		s.read.Close()
		s.write.Close()
		return nil, err
	}
	return s, nil
}

// openDB opens a pool of at most conns connections to path with the given
// extra DSN parameters, and checks that one connects.
func openDB(path string, cfg config, params string, conns int) (*sql.DB, error) {
	dsn := "file:" + (&url.URL{Path: path}).EscapedPath() +
		fmt.Sprintf("?_pragma=busy_timeout(%d)&", cfg.busyTimeout.Milliseconds()) + params
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("open sqlite store %s: %w", path, err)
	}
	db.SetMaxOpenConns(conns)
	db.SetMaxIdleConns(conns)
	db.SetConnMaxLifetime(0)
	db.SetConnMaxIdleTime(0)
	if err := db.Ping(); err != nil {
		db.Close()
		return nil, fmt.Errorf("open sqlite store %s: %w", path, err)
	}
	return db, nil
}

// migrate checks WAL mode took, creates the schema in a new file and
// refuses a file written by a newer build.
func (s *Store) migrate() error {
	ctx := context.Background()
	var mode string
	if err := s.write.QueryRowContext(ctx, "PRAGMA journal_mode").Scan(&mode); err != nil {
		return fmt.Errorf("migrate sqlite store: read journal_mode: %w", err)
	}
	if !strings.EqualFold(mode, "wal") { // e.g. a file system without shared memory
		return fmt.Errorf("migrate sqlite store: journal mode is %q, WAL is required", mode)
	}
	tx, err := s.write.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("migrate sqlite store: %w", err)
	}
	defer tx.Rollback()
	var v int
	if err := tx.QueryRowContext(ctx, "PRAGMA user_version").Scan(&v); err != nil {
		return fmt.Errorf("migrate sqlite store: read user_version: %w", err)
	}
	switch {
	case v == schemaVersion:
		return nil
	case v > schemaVersion:
		return fmt.Errorf("migrate sqlite store: schema version %d is newer than this build's %d", v, schemaVersion)
	}
	if _, err := tx.ExecContext(ctx, schema); err != nil {
		return fmt.Errorf("migrate sqlite store: create schema: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("migrate sqlite store: %w", err)
	}
	return nil
}

func (s *Store) prepare() error {
	var err error
	if s.headStmt, err = s.write.Prepare(`SELECT version, hash, state FROM events WHERE stream = ? ORDER BY version DESC LIMIT 1`); err != nil {
		return fmt.Errorf("prepare head query: %w", err)
	}
	// The hot reads are prepared once: parsing SQL on every Load cost about
	// a fifth of the CPU of the 1,000-connection delivery benchmark.
	if s.loadStmt, err = s.read.Prepare(`SELECT ` + columns + ` FROM events WHERE stream = ? AND version >= ? ORDER BY version LIMIT ?`); err != nil {
		return fmt.Errorf("prepare load query: %w", err)
	}
	if s.readFromStmt, err = s.read.Prepare(`SELECT ` + columns + ` FROM events WHERE position > ? ORDER BY position LIMIT ?`); err != nil {
		return fmt.Errorf("prepare feed query: %w", err)
	}
	return nil
}

// insertColumns is the number of columns insertFor's statements bind per row.
const insertColumns = 11

// insertFor returns the statement inserting n rows at once, preparing it on
// first use. It must be called outside a write transaction: preparing takes
// the write connection.
func (s *Store) insertFor(n int) (*sql.Stmt, error) {
	s.stmtMu.Lock()
	defer s.stmtMu.Unlock()
	if st := s.inserts[n]; st != nil {
		return st, nil
	}
	row := "(" + strings.Repeat("?, ", insertColumns-1) + "?)"
	st, err := s.write.Prepare(`INSERT INTO events
		(stream, version, id, type, schema_version, time, meta, data, prev_hash, hash, state)
		VALUES ` + strings.Repeat(row+", ", n-1) + row)
	if err != nil {
		return nil, fmt.Errorf("prepare %d-row insert: %w", n, err)
	}
	s.inserts[n] = st
	return st, nil
}

// DB is the write handle: a pool of exactly one connection, shared with
// Append. Other packages may run their own transactions on it to commit with
// the events they derive from (views) or to change rows behind the store's
// back (tests). A transaction held open on it blocks every Append.
func (s *Store) DB() *sql.DB { return s.write }

// Close closes both connection pools and every Subscribe channel.
func (s *Store) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	for ch := range s.subs {
		close(ch)
		delete(s.subs, ch)
	}
	s.mu.Unlock()
	errs := []error{s.headStmt.Close(), s.loadStmt.Close(), s.readFromStmt.Close()}
	s.stmtMu.Lock()
	for n, st := range s.inserts {
		errs = append(errs, st.Close())
		delete(s.inserts, n)
	}
	s.stmtMu.Unlock()
	return errors.Join(append(errs, s.read.Close(), s.write.Close())...)
}

// Subscribe returns a channel that receives a signal after every append
// that commits (signals coalesce: one pending signal stands for any number
// of appends), so a tailer can sleep until there is something after its last
// position. cancel stops the signals; the channel is closed when the Store
// is. A subscriber must call ReadFrom after subscribing, not only after the
// first signal, to see what committed before it subscribed. Only appends
// through this Store signal: a tailer that shares the file with another
// process should also poll on a timer.
func (s *Store) Subscribe() (ch <-chan struct{}, cancel func()) {
	c := make(chan struct{}, 1)
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		close(c)
		return c, func() {}
	}
	s.subs[c] = struct{}{}
	return c, func() {
		s.mu.Lock()
		delete(s.subs, c)
		s.mu.Unlock()
	}
}

// notify wakes every subscriber without blocking.
func (s *Store) notify() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for c := range s.subs {
		select {
		case c <- struct{}{}:
		default:
		}
	}
}
