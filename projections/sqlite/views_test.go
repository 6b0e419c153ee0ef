package sqlite_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	evsqlite "github.com/streamer/streamer/events/sqlite"
	"github.com/streamer/streamer/projections"
	"github.com/streamer/streamer/projections/sqlite"
	"github.com/streamer/streamer/projections/viewtest"
)

// openViews opens views in a fresh file closed at the end of the test.
func openViews(t testing.TB) *sqlite.Views {
	t.Helper()
	v, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "views.db"))
	if err != nil {
		t.Fatalf("open views: %v", err)
	}
	t.Cleanup(func() {
		if err := v.Close(); err != nil {
			t.Errorf("close views: %v", err)
		}
	})
	return v
}

func TestConformance(t *testing.T) {
	defer sqlite.SetCopyChunk(4)() // CopyViews crosses chunk boundaries
	viewtest.Run(t, viewtest.Harness{
		New: func(t *testing.T) projections.ViewStore {
			s, err := openViews(t).Open(context.Background(), "test", 0)
			if err != nil {
				t.Fatal(err)
			}
			return s
		},
		Generations: func(t *testing.T) projections.Generations { return openViews(t) },
	})
}

// TestOpenMigratesOldMeta opens a views file written before Meta had its
// Views field: the column is added, the stored Meta (a rebuild in
// progress) reads back with no selection — which Rebuild takes as all —
// and the selection is stored from then on.
func TestOpenMigratesOldMeta(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "views.db")
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	_, err = db.ExecContext(ctx, `CREATE TABLE view_meta (
		id INTEGER PRIMARY KEY CHECK (id = 1), active TEXT NOT NULL, rebuilding TEXT NOT NULL, previous TEXT NOT NULL,
		epoch INTEGER NOT NULL, checkpoint TEXT NOT NULL, done INTEGER NOT NULL, revision INTEGER NOT NULL, updated_at INTEGER
	) STRICT;
	INSERT INTO view_meta VALUES (1, 'g1', 'g2', '', 2, '812', 812, 5, NULL)`)
	db.Close()
	if err != nil {
		t.Fatal(err)
	}
	for run := range 2 { // the second open finds the column there
		v, err := sqlite.Open(ctx, path)
		if err != nil {
			t.Fatalf("open %d: %v", run, err)
		}
		m, err := v.Meta(ctx)
		want := projections.Meta{Active: "g1", Rebuilding: "g2", Epoch: 2, Checkpoint: "812", Done: 812, Revision: 5 + int64(run)}
		if run == 1 {
			want.Views = projections.ViewRequests
		}
		if err != nil || m != want {
			t.Fatalf("open %d: meta = %+v, %v; want %+v", run, m, err, want)
		}
		if run == 0 {
			next := m
			next.Views = projections.ViewRequests
			if _, err := v.SwapMeta(ctx, m.Revision, next); err != nil {
				t.Fatalf("store the selection: %v", err)
			}
		}
		v.Close()
	}
}

// sharedViews puts the views in a fresh event store's file, on its one
// write connection (events/sqlite Store.DB).
func sharedViews(t *testing.T) *sqlite.Views {
	t.Helper()
	log, err := evsqlite.Open(filepath.Join(t.TempDir(), "streamer.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { log.Close() })
	v, err := sqlite.New(context.Background(), log.DB())
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// TestConformanceOnEventStoreConnection runs the suite with the views in
// the event store's file, sharing its single write connection.
func TestConformanceOnEventStoreConnection(t *testing.T) {
	defer sqlite.SetCopyChunk(5)()
	viewtest.Run(t, viewtest.Harness{
		New: func(t *testing.T) projections.ViewStore {
			s, err := sharedViews(t).Open(context.Background(), "test", 0)
			if err != nil {
				t.Fatal(err)
			}
			return s
		},
		Generations: func(t *testing.T) projections.Generations { return sharedViews(t) },
	})
}

// FuzzCursor: list cursors come from clients; any string is either a
// valid position or ErrInvalidCursor, never a panic or another error.
func FuzzCursor(f *testing.F) {
	ctx := context.Background()
	views := openViews(f)
	s, err := views.Store("fuzz", 0)
	if err != nil {
		f.Fatal(err)
	}
	for i := range 5 {
		v := projections.RequestView{RequestID: fmt.Sprintf("r%d", i), Owner: "alice", Tenant: "acme", Status: "queued",
			SubmittedAt: time.Date(2026, 1, 1, 0, 0, i, 0, time.UTC), Version: 1}
		if err := s.PutRequest(ctx, v, 0); err != nil {
			f.Fatal(err)
		}
	}
	p, err := s.RequestsByOwner(ctx, "acme", "alice", projections.ListOptions{Limit: 2})
	if err != nil || p.Cursor == "" {
		f.Fatalf("first page %+v, %v", p, err)
	}
	for _, seed := range []string{p.Cursor, "", "x", "LTkyMjMzNzIwMzY4NTQ3NzU4MDg6cjE", "OTk5OTk5OTk5OTk5OTk5OTk5OTk5Onk"} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, c string) {
		for _, list := range []func() (projections.RequestPage, error){
			func() (projections.RequestPage, error) {
				return s.RequestsByOwner(ctx, "acme", "alice", projections.ListOptions{Limit: 2, Cursor: c})
			},
			func() (projections.RequestPage, error) {
				return s.RequestsByStatus(ctx, "", "queued", projections.ListOptions{Limit: 2, Cursor: c})
			},
		} {
			page, err := list()
			if err != nil && !errors.Is(err, projections.ErrInvalidCursor) {
				t.Fatalf("cursor %q: %v", c, err)
			}
			if len(page.Items) > 2 {
				t.Fatalf("cursor %q: %d items over the limit", c, len(page.Items))
			}
		}
	})
}
