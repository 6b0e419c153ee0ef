package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	_ "modernc.org/sqlite"
)

// onePool is a write pool of one connection, as the embedded store gives
// the views.
func onePool(t *testing.T) *sql.DB {
	t.Helper()
	db, err := sql.Open("sqlite", filepath.Join(t.TempDir(), "v.db")+"?_pragma=busy_timeout(5000)")
	if err != nil {
		t.Fatal(err)
	}
	db.SetMaxOpenConns(1)
	t.Cleanup(func() { db.Close() })
	return db
}

func TestStmtCacheReusesAndBounds(t *testing.T) {
	ctx := context.Background()
	v, err := New(ctx, onePool(t))
	if err != nil {
		t.Fatal(err)
	}
	defer v.Close()
	for _, q := range txStatements {
		if v.writeStmts.lookup(q) == nil {
			t.Fatalf("transaction statement not warmed: %s", q)
		}
	}
	q := `SELECT count(*) FROM view_requests WHERE gen = ?`
	a := v.readStmts.get(ctx, q)
	if a == nil || v.readStmts.get(ctx, q) != a {
		t.Fatal("the same text was not served by the same prepared statement")
	}
	for i := len(v.readStmts.m); i < maxCachedStmts; i++ {
		if v.readStmts.get(ctx, fmt.Sprintf("SELECT %d", i)) == nil {
			t.Fatalf("statement %d not cached below the bound", i)
		}
	}
	if v.readStmts.get(ctx, "SELECT 'one too many'") != nil {
		t.Fatal("cached beyond the bound")
	}
	var n int
	if err := v.readRow(ctx, "SELECT 'one too many' = 'one too many'").Scan(&n); err != nil || n != 1 {
		t.Fatalf("an uncached query must still run: %d, %v", n, err)
	}
	if v.readStmts.get(ctx, "SELECT * FROM no_such_table") != nil {
		t.Fatal("a statement that does not prepare was cached")
	}
	if _, err := v.readQuery(ctx, "SELECT * FROM no_such_table"); err == nil {
		t.Fatal("the error of a statement that does not prepare was lost")
	}
	if err := v.Close(); err != nil {
		t.Fatal(err)
	}
	if v.readStmts.get(ctx, q) != nil {
		t.Fatal("a closed cache served a statement")
	}
}

// A transaction holds the pool's one connection and looks up its
// statements while another goroutine prepares a new one (waiting for that
// connection): neither may wait for the other.
func TestStmtCacheNoDeadlockWithTransaction(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	v, err := New(ctx, onePool(t))
	if err != nil {
		t.Fatal(err)
	}
	defer v.Close()
	for round := range 20 {
		inTx := make(chan struct{})
		var wg sync.WaitGroup
		var txErr, execErr error
		wg.Go(func() {
			txErr = v.inTx(ctx, func(tx *sql.Tx) error {
				close(inTx)
				time.Sleep(time.Millisecond) // let the other goroutine start preparing
				for _, q := range txStatements[:1] {
					if _, err := v.txExec(ctx, tx, q, int64(-1)); err != nil {
						return err
					}
				}
				_, err := v.txExec(ctx, tx, fmt.Sprintf("UPDATE view_meta SET epoch = epoch WHERE id = %d", 1000+round))
				return err
			})
		})
		wg.Go(func() {
			<-inTx
			_, execErr = v.writeExec(ctx, fmt.Sprintf("UPDATE view_meta SET epoch = epoch WHERE id = %d", 2000+round))
		})
		wg.Wait()
		if txErr != nil || execErr != nil {
			t.Fatalf("round %d: transaction %v, exec %v (a deadlock ends in the context's deadline)", round, txErr, execErr)
		}
	}
}
