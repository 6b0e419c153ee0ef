package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"strings"

	"github.com/streamer/streamer/projections"
)

// requestCols are the stored columns of a request view after gen and id,
// in the order of requestArgs.
var requestCols = []string{"version", "action", "status", "percentage", "message", "result", "error_code",
	"error_message", "error_retryable", "owner", "tenant", "attempt", "cancel_requested", "submitted_at",
	"started_at", "updated_at", "completed_at", "sort_at"}

var (
	requestSelect = `SELECT id, ` + strings.Join(requestCols, ", ") + ` FROM view_requests`
	insertRequest = `INSERT INTO view_requests (gen, id, ` + strings.Join(requestCols, ", ") + `)`
	requestValues = placeholders(len(requestCols) + 2)
	updateRequest = `UPDATE view_requests SET ` + assignments(requestCols, "?") + ` WHERE gen = ? AND id = ? AND version = ?`
	// upsertRequest writes a view unless the stored one is as new.
	upsertRequest = insertRequest + ` VALUES (` + requestValues + `) ON CONFLICT (gen, id) DO UPDATE SET ` +
		assignments(requestCols, "excluded.") + ` WHERE excluded.version > view_requests.version`
)

// placeholders is "?, ?, …" n times.
func placeholders(n int) string { return strings.TrimSuffix(strings.Repeat("?, ", n), ", ") }

// assignments is "c1 = ?, c2 = ?" (src "?") or "c1 = excluded.c1, …".
func assignments(cols []string, src string) string {
	parts := make([]string, len(cols))
	for i, c := range cols {
		if src == "?" {
			parts[i] = c + " = ?"
		} else {
			parts[i] = c + " = " + src + c
		}
	}
	return strings.Join(parts, ", ")
}

// requestArgs are the values of requestCols for v.
func requestArgs(v projections.RequestView) ([]any, error) {
	if v.RequestID == "" || v.Version < 1 {
		return nil, fmt.Errorf("request view needs an ID and a version ≥ 1, got %q at %d", v.RequestID, v.Version)
	}
	if err := checkTimes(v.SubmittedAt, v.StartedAt, v.UpdatedAt, v.CompletedAt); err != nil {
		return nil, fmt.Errorf("request view %s: %w", v.RequestID, err)
	}
	var (
		result              []byte
		code                sql.NullString
		errMsg              string
		retryable, cancelRq int
	)
	if len(v.Result) > 0 {
		result = v.Result
	}
	if v.Error != nil {
		code, errMsg = sql.NullString{String: v.Error.Code, Valid: true}, v.Error.Message
		retryable = boolInt(v.Error.Retryable)
	}
	cancelRq = boolInt(v.CancelRequested)
	return []any{v.Version, v.Action, v.Status, v.Percentage, v.Message, result, code, errMsg,
		retryable, v.Owner, v.Tenant, v.Attempt, cancelRq, toNanos(v.SubmittedAt), toNanos(v.StartedAt),
		toNanos(v.UpdatedAt), toNanos(v.CompletedAt), sortAt(v.SubmittedAt)}, nil
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

type rowScanner interface{ Scan(...any) error }

// scanRequest reads a row of requestSelect; it returns the row's sort_at
// too.
func scanRequest(r rowScanner) (projections.RequestView, int64, error) {
	var (
		v                                     projections.RequestView
		result                                []byte
		code                                  sql.NullString
		errMsg                                string
		retryable, cancelRq                   int
		submitted, started, updated, complete sql.NullInt64
		sortKey                               int64
	)
	if err := r.Scan(&v.RequestID, &v.Version, &v.Action, &v.Status, &v.Percentage, &v.Message, &result, &code, &errMsg,
		&retryable, &v.Owner, &v.Tenant, &v.Attempt, &cancelRq, &submitted, &started, &updated, &complete, &sortKey); err != nil {
		return v, 0, err
	}
	if len(result) > 0 {
		v.Result = result
	}
	if code.Valid {
		v.Error = &projections.RequestError{Code: code.String, Message: errMsg, Retryable: retryable != 0}
	}
	v.CancelRequested = cancelRq != 0
	v.SubmittedAt, v.StartedAt, v.UpdatedAt, v.CompletedAt = fromNanos(submitted), fromNanos(started), fromNanos(updated), fromNanos(complete)
	return v, sortKey, nil
}

// GetRequest implements projections.ViewReader.
func (s *Store) GetRequest(ctx context.Context, requestID string) (projections.RequestView, error) {
	v, _, err := scanRequest(s.v.readRow(ctx, requestSelect+` WHERE gen = ? AND id = ?`, s.gen, requestID))
	if err != nil {
		return projections.RequestView{}, notFound(err, "get request view "+requestID)
	}
	return v, nil
}

// PutRequest implements projections.ViewStore.
func (s *Store) PutRequest(ctx context.Context, v projections.RequestView, expectedVersion int64) error {
	vals, err := requestArgs(v)
	if err != nil {
		return err
	}
	fence, fenceArgs := s.fenceSQL()
	var (
		q    string
		args []any
	)
	if expectedVersion == 0 {
		q = insertRequest + ` SELECT ` + requestValues + ` WHERE 1` + fence + ` ON CONFLICT (gen, id) DO NOTHING`
		args = append(append([]any{s.gen, v.RequestID}, vals...), fenceArgs...)
	} else {
		q = updateRequest + fence
		args = append(append(vals, s.gen, v.RequestID, expectedVersion), fenceArgs...)
	}
	res, err := s.v.writeExec(ctx, q, args...)
	if err != nil {
		return fmt.Errorf("put request view %s: %w", v.RequestID, err)
	}
	if n, err := res.RowsAffected(); err != nil || n != 1 {
		return s.missed(ctx, "request view "+v.RequestID, expectedVersion)
	}
	return nil
}

// RequestsByOwner implements projections.ViewReader.
func (s *Store) RequestsByOwner(ctx context.Context, tenant, owner string, opts projections.ListOptions) (projections.RequestPage, error) {
	return s.listRequests(ctx, `tenant = ? AND owner = ?`, []any{tenant, owner}, opts)
}

// RequestsByStatus implements projections.ViewReader.
func (s *Store) RequestsByStatus(ctx context.Context, tenant, status string, opts projections.ListOptions) (projections.RequestPage, error) {
	if tenant == "" {
		return s.listRequests(ctx, `status = ?`, []any{status}, opts)
	}
	return s.listRequests(ctx, `status = ? AND tenant = ?`, []any{status, tenant}, opts)
}

// listRequests pages through the views matching where, newest first, by
// keyset on (sort_at, id).
func (s *Store) listRequests(ctx context.Context, where string, args []any, opts projections.ListOptions) (projections.RequestPage, error) {
	limit := opts.EffectiveLimit()
	q := requestSelect + ` WHERE gen = ? AND ` + where
	args = append([]any{s.gen}, args...)
	if opts.Cursor != "" {
		at, id, err := parseCursor(opts.Cursor)
		if err != nil {
			return projections.RequestPage{}, err
		}
		q += ` AND (sort_at, id) < (?, ?)`
		args = append(args, at, id)
	}
	q += ` ORDER BY sort_at DESC, id DESC LIMIT ?`
	args = append(args, limit+1)
	rows, err := s.v.readQuery(ctx, q, args...)
	if err != nil {
		return projections.RequestPage{}, fmt.Errorf("list request views: %w", err)
	}
	defer rows.Close()
	var (
		page projections.RequestPage
		last int64
	)
	for rows.Next() {
		if len(page.Items) == limit {
			page.Cursor = cursor(last, page.Items[limit-1].RequestID)
			break
		}
		v, at, err := scanRequest(rows)
		if err != nil {
			return projections.RequestPage{}, fmt.Errorf("list request views: %w", err)
		}
		page.Items, last = append(page.Items, v), at
	}
	if err := rows.Err(); err != nil {
		return projections.RequestPage{}, fmt.Errorf("list request views: %w", err)
	}
	return page, nil
}
