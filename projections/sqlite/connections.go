package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/streamer/streamer/projections"
)

// connectionCols are the stored columns of a connection view after gen and
// id, in the order of connectionArgs.
var connectionCols = []string{"version", "user", "tenant", "status", "close_reason", "connected_at", "last_seen",
	"expires_at", "subscriptions"}

var (
	connectionSelect = `SELECT id, ` + strings.Join(connectionCols, ", ") + ` FROM view_connections`
	insertConnection = `INSERT INTO view_connections (gen, id, ` + strings.Join(connectionCols, ", ") + `)`
	connectionValues = placeholders(len(connectionCols) + 2)
	updateConnection = `UPDATE view_connections SET ` + assignments(connectionCols, "?") + ` WHERE gen = ? AND id = ? AND version = ?`
	// upsertConnection writes a view unless the stored one is as new.
	upsertConnection = insertConnection + ` VALUES (` + connectionValues + `) ON CONFLICT (gen, id) DO UPDATE SET ` +
		assignments(connectionCols, "excluded.") + ` WHERE excluded.version > view_connections.version`
)

func connectionArgs(v projections.ConnectionView) ([]any, error) {
	if v.ConnectionID == "" || v.Version < 1 {
		return nil, fmt.Errorf("connection view needs an ID and a version ≥ 1, got %q at %d", v.ConnectionID, v.Version)
	}
	if err := checkTimes(v.ConnectedAt, v.LastSeen, v.ExpiresAt); err != nil {
		return nil, fmt.Errorf("connection view %s: %w", v.ConnectionID, err)
	}
	var subs sql.NullString
	if len(v.Subscriptions) > 0 {
		b, err := json.Marshal(v.Subscriptions)
		if err != nil {
			return nil, fmt.Errorf("connection view %s: subscriptions: %w", v.ConnectionID, err)
		}
		subs = sql.NullString{String: string(b), Valid: true}
	}
	return []any{v.Version, v.User, v.Tenant, v.Status, v.CloseReason, toNanos(v.ConnectedAt), toNanos(v.LastSeen),
		toNanos(v.ExpiresAt), subs}, nil
}

func scanConnection(r rowScanner) (projections.ConnectionView, error) {
	var (
		v                        projections.ConnectionView
		connected, seen, expires sql.NullInt64
		subs                     sql.NullString
	)
	if err := r.Scan(&v.ConnectionID, &v.Version, &v.User, &v.Tenant, &v.Status, &v.CloseReason,
		&connected, &seen, &expires, &subs); err != nil {
		return v, err
	}
	v.ConnectedAt, v.LastSeen, v.ExpiresAt = fromNanos(connected), fromNanos(seen), fromNanos(expires)
	if subs.Valid && subs.String != "" {
		if err := json.Unmarshal([]byte(subs.String), &v.Subscriptions); err != nil {
			return v, fmt.Errorf("connection view %s: subscriptions: %w", v.ConnectionID, err)
		}
		if len(v.Subscriptions) == 0 {
			v.Subscriptions = nil
		}
	}
	return v, nil
}

// GetConnection implements projections.ViewReader.
func (s *Store) GetConnection(ctx context.Context, connectionID string) (projections.ConnectionView, error) {
	v, err := scanConnection(s.v.readRow(ctx, connectionSelect+` WHERE gen = ? AND id = ?`, s.gen, connectionID))
	if err != nil {
		return projections.ConnectionView{}, notFound(err, "get connection view "+connectionID)
	}
	return v, nil
}

// PutConnection implements projections.ViewStore: the guarded write of the
// view, then its subscriber index rows, in one transaction.
func (s *Store) PutConnection(ctx context.Context, v projections.ConnectionView, expectedVersion int64) error {
	vals, err := connectionArgs(v)
	if err != nil {
		return err
	}
	fence, fenceArgs := s.fenceSQL()
	var (
		q    string
		args []any
	)
	if expectedVersion == 0 {
		q = insertConnection + ` SELECT ` + connectionValues + ` WHERE 1` + fence + ` ON CONFLICT (gen, id) DO NOTHING`
		args = append(append([]any{s.gen, v.ConnectionID}, vals...), fenceArgs...)
	} else {
		q = updateConnection + fence
		args = append(append(vals, s.gen, v.ConnectionID, expectedVersion), fenceArgs...)
	}
	missed := false
	s.v.warm(ctx, q)
	err = s.v.inTx(ctx, func(tx *sql.Tx) error {
		res, err := s.v.txExec(ctx, tx, q, args...)
		if err != nil {
			return fmt.Errorf("put connection view %s: %w", v.ConnectionID, err)
		}
		if n, err := res.RowsAffected(); err != nil || n != 1 {
			missed = true
			return errMissed
		}
		return s.indexSubscriptions(ctx, tx, v)
	})
	if missed {
		return s.missed(ctx, "connection view "+v.ConnectionID, expectedVersion)
	}
	return err
}

// errMissed rolls back a transaction whose guarded write changed nothing.
var errMissed = fmt.Errorf("guarded write missed")

// The statements of indexSubscriptions.
const (
	deleteStaleSubscriptions = `DELETE FROM view_subscriptions WHERE gen = ? AND connection_id = ?
		AND request_id NOT IN (SELECT key FROM json_each(?))`
	upsertSubscriptions = `INSERT INTO view_subscriptions (gen, request_id, connection_id, from_version)
		SELECT ?, key, ?, value FROM json_each(?) WHERE true
		ON CONFLICT (gen, request_id, connection_id) DO UPDATE SET from_version = excluded.from_version
		WHERE from_version != excluded.from_version`
)

// indexSubscriptions makes the subscriber index rows of v match its
// subscriptions (none when closed), in two statements whatever their number.
func (s *Store) indexSubscriptions(ctx context.Context, tx *sql.Tx, v projections.ConnectionView) error {
	subs := "{}"
	if v.Open() && len(v.Subscriptions) > 0 {
		b, err := json.Marshal(v.Subscriptions)
		if err != nil {
			return fmt.Errorf("index subscriptions of %s: %w", v.ConnectionID, err)
		}
		subs = string(b)
	}
	if _, err := s.v.txExec(ctx, tx, deleteStaleSubscriptions, s.gen, v.ConnectionID, subs); err != nil {
		return fmt.Errorf("index subscriptions of %s: %w", v.ConnectionID, err)
	}
	if subs == "{}" {
		return nil
	}
	if _, err := s.v.txExec(ctx, tx, upsertSubscriptions, s.gen, v.ConnectionID, subs); err != nil {
		return fmt.Errorf("index subscriptions of %s: %w", v.ConnectionID, err)
	}
	return nil
}

// PutNewer implements projections.ViewStore: one transaction for the whole
// batch, which checks the fence first.
func (s *Store) PutNewer(ctx context.Context, b projections.Batch) error {
	if b.Len() == 0 {
		return nil
	}
	return s.v.inTx(ctx, func(tx *sql.Tx) error {
		if err := s.lockFence(ctx, tx); err != nil {
			return err
		}
		if len(b.Requests) > 0 {
			stmt, err := s.v.txStmt(ctx, tx, upsertRequest)
			if err != nil {
				return fmt.Errorf("put request views: %w", err)
			}
			defer stmt.Close()
			for _, v := range b.Requests {
				vals, err := requestArgs(v)
				if err != nil {
					return err
				}
				if _, err := stmt.ExecContext(ctx, append([]any{s.gen, v.RequestID}, vals...)...); err != nil {
					return fmt.Errorf("put request view %s: %w", v.RequestID, err)
				}
			}
		}
		if len(b.Connections) > 0 {
			stmt, err := s.v.txStmt(ctx, tx, upsertConnection)
			if err != nil {
				return fmt.Errorf("put connection views: %w", err)
			}
			defer stmt.Close()
			for _, v := range b.Connections {
				vals, err := connectionArgs(v)
				if err != nil {
					return err
				}
				res, err := stmt.ExecContext(ctx, append([]any{s.gen, v.ConnectionID}, vals...)...)
				if err != nil {
					return fmt.Errorf("put connection view %s: %w", v.ConnectionID, err)
				}
				if n, _ := res.RowsAffected(); n == 1 {
					if err := s.indexSubscriptions(ctx, tx, v); err != nil {
						return err
					}
				}
			}
		}
		return nil
	})
}

// Subscribers implements projections.ViewReader.
func (s *Store) Subscribers(ctx context.Context, requestID string) ([]string, error) {
	return s.ids(ctx, `SELECT connection_id FROM view_subscriptions WHERE gen = ? AND request_id = ? ORDER BY connection_id`, s.gen, requestID)
}

// UserConnections implements projections.ViewReader.
func (s *Store) UserConnections(ctx context.Context, tenant, user string) ([]string, error) {
	return s.ids(ctx, `SELECT id FROM view_connections WHERE gen = ? AND tenant = ? AND user = ? AND status = 'open' ORDER BY id`,
		s.gen, tenant, user)
}

func (s *Store) ids(ctx context.Context, q string, args ...any) ([]string, error) {
	rows, err := s.v.readQuery(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("query view index: %w", err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, fmt.Errorf("query view index: %w", err)
		}
		out = append(out, id)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("query view index: %w", err)
	}
	sort.Strings(out)
	return out, nil
}

// ExpiredConnections implements projections.ViewStore.
func (s *Store) ExpiredConnections(ctx context.Context, now time.Time, limit int) ([]projections.ConnectionView, error) {
	if limit <= 0 {
		limit = projections.DefaultListLimit
	}
	rows, err := s.v.read.QueryContext(ctx, connectionSelect+` WHERE gen = ? AND expires_at IS NOT NULL AND expires_at <= ?
		ORDER BY expires_at, id LIMIT ?`, s.gen, now.UnixNano(), limit)
	if err != nil {
		return nil, fmt.Errorf("list expired connection views: %w", err)
	}
	defer rows.Close()
	var out []projections.ConnectionView
	for rows.Next() {
		v, err := scanConnection(rows)
		if err != nil {
			return nil, fmt.Errorf("list expired connection views: %w", err)
		}
		out = append(out, v)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list expired connection views: %w", err)
	}
	return out, nil
}

// DeleteConnection implements projections.ViewStore.
func (s *Store) DeleteConnection(ctx context.Context, connectionID string, expectedVersion int64) error {
	fence, fenceArgs := s.fenceSQL()
	missed := false
	err := s.v.inTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM view_connections WHERE gen = ? AND id = ? AND version = ?`+fence,
			append([]any{s.gen, connectionID, expectedVersion}, fenceArgs...)...)
		if err != nil {
			return fmt.Errorf("delete connection view %s: %w", connectionID, err)
		}
		if n, err := res.RowsAffected(); err != nil || n != 1 {
			missed = true
			return errMissed
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM view_subscriptions WHERE gen = ? AND connection_id = ?`, s.gen, connectionID); err != nil {
			return fmt.Errorf("delete connection view %s: %w", connectionID, err)
		}
		return nil
	})
	if !missed {
		return err
	}
	if _, err := s.GetConnection(ctx, connectionID); err != nil {
		return err
	}
	return s.missed(ctx, "connection view "+connectionID, expectedVersion)
}
