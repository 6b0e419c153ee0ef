package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"sync"
)

// maxCachedStmts bounds the statement cache of one pool: the hot queries
// are a fixed set; filtered listings build a bounded number of shapes, and
// anything beyond the bound runs unprepared.
const maxCachedStmts = 128

// stmtCache prepares each query text once per pool. A CPU profile of the
// local stack under a burst of fan-out showed SQLite's parser at a tenth of
// the CPU: every view read and write re-parsed its statement. database/sql
// re-prepares a cached *sql.Stmt on each pool connection as needed, and
// SQLite re-prepares it after a schema change.
type stmtCache struct {
	db *sql.DB
	mu sync.Mutex
	m  map[string]*sql.Stmt
}

func newStmtCache(db *sql.DB) *stmtCache {
	return &stmtCache{db: db, m: map[string]*sql.Stmt{}}
}

// get returns the prepared statement of q, or nil when q cannot be (or is
// no longer) cached: the caller then runs q directly and gets its error.
func (c *stmtCache) get(ctx context.Context, q string) *sql.Stmt {
	c.mu.Lock()
	st, ok := c.m[q]
	full := c.m == nil || len(c.m) >= maxCachedStmts
	c.mu.Unlock()
	if ok {
		return st
	}
	if full {
		return nil
	}
	// Prepared without the lock: preparing may wait for the pool's
	// connection, which a transaction looking up its statements holds.
	st, err := c.db.PrepareContext(ctx, q)
	if err != nil {
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if prev, ok := c.m[q]; ok || c.m == nil {
		st.Close() // prepared twice at once, or closed meanwhile
		return prev
	}
	c.m[q] = st
	return st
}

// lookup returns the prepared statement of q if it is cached, never
// preparing: inside a transaction of a one-connection pool, preparing on
// the pool would wait for the connection the transaction holds.
func (c *stmtCache) lookup(q string) *sql.Stmt {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.m[q]
}

func (c *stmtCache) close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	var errs []error
	for _, st := range c.m {
		errs = append(errs, st.Close())
	}
	c.m = nil
	return errors.Join(errs...)
}

// readRow runs q on the read pool, prepared once.
func (v *Views) readRow(ctx context.Context, q string, args ...any) *sql.Row {
	if st := v.readStmts.get(ctx, q); st != nil {
		return st.QueryRowContext(ctx, args...)
	}
	return v.read.QueryRowContext(ctx, q, args...)
}

// readQuery runs q on the read pool, prepared once.
func (v *Views) readQuery(ctx context.Context, q string, args ...any) (*sql.Rows, error) {
	if st := v.readStmts.get(ctx, q); st != nil {
		return st.QueryContext(ctx, args...)
	}
	return v.read.QueryContext(ctx, q, args...)
}

// writeExec runs q on the write pool, prepared once.
func (v *Views) writeExec(ctx context.Context, q string, args ...any) (sql.Result, error) {
	if st := v.writeStmts.get(ctx, q); st != nil {
		return st.ExecContext(ctx, args...)
	}
	return v.write.ExecContext(ctx, q, args...)
}

// warm prepares qs on the write pool, outside any transaction, so that
// txExec and txStmt find them.
func (v *Views) warm(ctx context.Context, qs ...string) {
	for _, q := range qs {
		v.writeStmts.get(ctx, q)
	}
}

// txExec runs q in tx (a transaction of the write pool), prepared once if
// it was warmed; it never prepares on the pool (see lookup).
func (v *Views) txExec(ctx context.Context, tx *sql.Tx, q string, args ...any) (sql.Result, error) {
	if st := v.writeStmts.lookup(q); st != nil {
		return tx.StmtContext(ctx, st).ExecContext(ctx, args...)
	}
	return tx.ExecContext(ctx, q, args...)
}

// txStmt is q prepared for tx (a transaction of the write pool), from the
// cache if it was warmed; the transaction's end releases it.
func (v *Views) txStmt(ctx context.Context, tx *sql.Tx, q string) (*sql.Stmt, error) {
	if st := v.writeStmts.lookup(q); st != nil {
		return tx.StmtContext(ctx, st), nil
	}
	return tx.PrepareContext(ctx, q)
}
