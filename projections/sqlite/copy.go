package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"strings"

	"github.com/streamer/streamer/projections"
)

// copyChunk is the number of views one transaction of CopyViews copies:
// small enough that the projector (and, on a shared connection, the event
// store) never waits long for the write lock.
var copyChunk = 1000

// The statements of one chunk of CopyViews, in SQL's own terms: ?1 is the
// target generation, ?2 the source, and the chunk is the source's IDs in
// (?3, ?4]. A source view is "newer" when the target has no view of its ID
// or one at a lower version: those, and only those, are written.
var (
	copyRequests = `INSERT INTO view_requests (gen, id, ` + strings.Join(requestCols, ", ") + `)
		SELECT ?1, id, ` + strings.Join(requestCols, ", ") + ` FROM view_requests
		WHERE gen = ?2 AND id > ?3 AND id <= ?4
		ON CONFLICT (gen, id) DO UPDATE SET ` + assignments(requestCols, "excluded.") + `
		WHERE excluded.version > view_requests.version`
	copyConnections = `INSERT INTO view_connections (gen, id, ` + strings.Join(connectionCols, ", ") + `)
		SELECT ?1, id, ` + strings.Join(connectionCols, ", ") + ` FROM view_connections
		WHERE gen = ?2 AND id > ?3 AND id <= ?4
		ON CONFLICT (gen, id) DO UPDATE SET ` + assignments(connectionCols, "excluded.") + `
		WHERE excluded.version > view_connections.version`
	// newer is the condition on the chunk's source connection views a
	// that they are newer than the target's b.
	newer = `a.gen = ?2 AND a.id > ?3 AND a.id <= ?4 AND (b.version IS NULL OR b.version < a.version)`
	// The subscriber index rows of the connection views about to be
	// written: the target's go, and those of each view that is open come
	// from its subscriptions (what indexSubscriptions writes).
	unindexNewer = `DELETE FROM view_subscriptions WHERE gen = ?1 AND connection_id IN (
		SELECT a.id FROM view_connections a LEFT JOIN view_connections b ON b.gen = ?1 AND b.id = a.id
		WHERE ` + newer + `)`
	indexNewer = `INSERT INTO view_subscriptions (gen, request_id, connection_id, from_version)
		SELECT ?1, j.key, a.id, j.value
		FROM view_connections a, json_each(a.subscriptions) j LEFT JOIN view_connections b ON b.gen = ?1 AND b.id = a.id
		WHERE ` + newer + ` AND a.status = 'open'`
)

// CopyViews implements projections.Generations: chunk by chunk of the
// source's IDs, one transaction each (fence check first), an INSERT …
// SELECT that writes the source views newer than the target's — for
// connection views after replacing their subscriber index rows. The user
// index is the view rows' own (open ones), so it follows them.
func (v *Views) CopyViews(ctx context.Context, kind projections.ViewKind, from, to string, fence int64) (int64, error) {
	if err := kind.Validate(); err != nil {
		return 0, fmt.Errorf("copy views: %w", err)
	}
	if from == "" || from == to {
		return 0, fmt.Errorf("copy views from generation %q to %q: want two different generations", from, to)
	}
	dst, err := v.Store(to, fence)
	if err != nil {
		return 0, err
	}
	var total int64
	for _, k := range kind.Kinds() {
		n, err := dst.copyFrom(ctx, k, from)
		total += n
		if err != nil {
			return total, fmt.Errorf("copy %s views from generation %s to %s: %w", k, from, to, err)
		}
	}
	return total, nil
}

// copyFrom copies the views of one kind from generation from into s.
func (s *Store) copyFrom(ctx context.Context, kind projections.ViewKind, from string) (int64, error) {
	table, stmts := "view_requests", []string{copyRequests}
	if kind == projections.ViewConnections {
		table, stmts = "view_connections", []string{unindexNewer, indexNewer, copyConnections}
	}
	var total int64
	for after := ""; ; { // IDs are never empty, so "" is before every one
		var (
			n    int64
			last sql.NullString
		)
		err := s.v.inTx(ctx, func(tx *sql.Tx) error {
			if err := s.lockFence(ctx, tx); err != nil {
				return err
			}
			if err := tx.QueryRowContext(ctx, `SELECT count(*), max(id) FROM (SELECT id FROM `+table+`
				WHERE gen = ? AND id > ? ORDER BY id LIMIT ?)`, from, after, copyChunk).Scan(&n, &last); err != nil {
				return fmt.Errorf("read the next views: %w", err)
			}
			if n == 0 {
				return nil
			}
			for _, q := range stmts {
				if _, err := tx.ExecContext(ctx, q, s.gen, from, after, last.String); err != nil {
					return fmt.Errorf("copy views after %q: %w", after, err)
				}
			}
			return nil
		})
		if err != nil {
			return total, err
		}
		total += n
		if n < int64(copyChunk) {
			return total, nil
		}
		after = last.String
	}
}
