package sqlite

import (
	"context"
	"database/sql"
	"encoding/base64"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/streamer/streamer/projections"
)

// Store is one generation of views; it implements projections.ViewStore.
type Store struct {
	v     *Views
	gen   string
	fence int64 // Meta epoch every write is conditional on; 0: none
}

var _ projections.ViewStore = (*Store)(nil)

// Generation implements projections.ViewStore.
func (s *Store) Generation() string { return s.gen }

// fenceSQL is the condition a fenced write adds, and its argument.
func (s *Store) fenceSQL() (string, []any) {
	if s.fence == 0 {
		return "", nil
	}
	return ` AND (SELECT epoch FROM view_meta WHERE id = 1) = ?`, []any{s.fence}
}

// fenceCheck is lockFence's write.
const fenceCheck = `UPDATE view_meta SET epoch = epoch WHERE id = 1 AND epoch = ?`

// txStatements are the statements run inside write transactions, prepared
// when the views open (txExec, txStmt).
var txStatements = []string{fenceCheck, upsertRequest, upsertConnection, deleteStaleSubscriptions, upsertSubscriptions}

// lockFence starts a write transaction with a write that checks the fence,
// so the rest of the transaction runs under it.
func (s *Store) lockFence(ctx context.Context, tx *sql.Tx) error {
	if s.fence == 0 {
		return nil
	}
	res, err := s.v.txExec(ctx, tx, fenceCheck, s.fence)
	if err != nil {
		return fmt.Errorf("check generation fence: %w", err)
	}
	if n, _ := res.RowsAffected(); n != 1 {
		return s.fenced()
	}
	return nil
}

func (s *Store) fenced() error {
	return fmt.Errorf("generation %s fenced at epoch %d: %w", s.gen, s.fence, projections.ErrFenced)
}

// missed explains a guarded write that changed no row: fenced, or a
// version conflict.
func (s *Store) missed(ctx context.Context, what string, expected int64) error {
	if s.fence != 0 {
		if e, err := s.v.epoch(ctx, s.v.write); err != nil || e != s.fence {
			return s.fenced()
		}
	}
	return fmt.Errorf("write %s in generation %s at expected version %d: %w", what, s.gen, expected, projections.ErrViewConflict)
}

// checkTimes refuses times that Unix nanoseconds cannot hold.
func checkTimes(ts ...time.Time) error {
	lo, hi := time.Unix(0, math.MinInt64+1), time.Unix(0, math.MaxInt64)
	for _, t := range ts {
		if !t.IsZero() && (t.Before(lo) || t.After(hi)) {
			return fmt.Errorf("time %v outside the years 1678–2262 the view store keeps", t)
		}
	}
	return nil
}

// cursor encodes a keyset position (sort_at, id) opaquely.
func cursor(sortAt int64, id string) string {
	return base64.RawURLEncoding.EncodeToString([]byte(strconv.FormatInt(sortAt, 10) + ":" + id))
}

func parseCursor(c string) (int64, string, error) {
	b, err := base64.RawURLEncoding.DecodeString(c)
	if err != nil {
		return 0, "", fmt.Errorf("%w: %v", projections.ErrInvalidCursor, err)
	}
	at, id, ok := strings.Cut(string(b), ":")
	n, err := strconv.ParseInt(at, 10, 64)
	if !ok || err != nil || id == "" {
		return 0, "", fmt.Errorf("%w: %q", projections.ErrInvalidCursor, c)
	}
	return n, id, nil
}

// sortAt is the ordering key of a request view.
func sortAt(submitted time.Time) int64 {
	if submitted.IsZero() {
		return math.MinInt64
	}
	return submitted.UnixNano()
}

// notFound maps sql.ErrNoRows.
func notFound(err error, what string) error {
	if errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("%s: %w", what, projections.ErrNotFound)
	}
	return fmt.Errorf("%s: %w", what, err)
}
