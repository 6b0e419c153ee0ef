package sqlite_test

import (
	"context"
	"database/sql"
	"fmt"
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	"github.com/streamer/streamer/events"
	evsqlite "github.com/streamer/streamer/events/sqlite"
	"github.com/streamer/streamer/projections"
	"github.com/streamer/streamer/projections/sqlite"
)

// The benchmarks compare what the projections write with the fastest way
// to put view rows in the same table: one transaction of prepared
// single-row INSERTs (BenchmarkRawInsert). Views live in their own file
// (WAL, synchronous=NORMAL, one write connection), the log in another.
// Run with:
//
//	go test -run '^$' -bench . -benchtime 3x ./projections/sqlite/

const (
	rawRows       = 10000
	rebuildEvents = 30000
)

var benchMeta = events.Meta{Actor: "system:worker", Tenant: "acme", CorrelationID: "corr-0001", Source: "processor"}

// requestLife is a request stream of n events: submitted, started,
// progress, completed.
func requestLife(n int) []events.Event {
	evs := []events.Event{
		events.MustNew(events.RequestSubmitted, events.Submitted{Action: "generate_report", Owner: "alice", Tenant: "acme"}, benchMeta),
		events.MustNew(events.RequestStarted, events.Started{Attempt: 1, Worker: "w1"}, benchMeta),
	}
	for i := len(evs); i < n-1; i++ {
		evs = append(evs, events.MustNew(events.RequestProgressed, events.Progress{Percentage: float64(i * 100 / n), Message: "processing chunk"}, benchMeta))
	}
	return append(evs, events.MustNew(events.RequestCompleted, events.Completed{Result: []byte(`{"rows":42,"url":"s3://bucket/report.csv"}`)}, benchMeta))
}

// benchLog opens a log holding streams request streams of perStream events.
func benchLog(b *testing.B, streams, perStream int) *evsqlite.Store {
	b.Helper()
	log, err := evsqlite.Open(filepath.Join(b.TempDir(), "events.db"))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { log.Close() })
	ctx := context.Background()
	for i := range streams {
		life := requestLife(perStream)
		stream := events.RequestStream(fmt.Sprintf("bench-%05d", i))
		for from := 0; from < len(life); from += events.MaxAppendEvents {
			to := min(from+events.MaxAppendEvents, len(life))
			if _, err := log.Append(ctx, stream, int64(from), life[from:to]...); err != nil {
				b.Fatal(err)
			}
		}
	}
	return log
}

func benchViews(b *testing.B) *sqlite.Views {
	b.Helper()
	v, err := sqlite.Open(context.Background(), filepath.Join(b.TempDir(), fmt.Sprintf("views-%d.db", time.Now().UnixNano())))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { v.Close() })
	return v
}

// BenchmarkRawInsert is the baseline: BEGIN; rawRows prepared INSERTs of
// view-shaped rows (every column, the two list indexes); COMMIT.
func BenchmarkRawInsert(b *testing.B) {
	ctx := context.Background()
	// Rows shaped like the rebuild's views: a completed request.
	life := requestLife(10)
	for i := range life {
		life[i].StreamID, life[i].Version, life[i].Time = "request/x", int64(i+1), time.Now().UTC()
	}
	var view projections.RequestView
	for _, e := range life {
		var err error
		if view, err = projections.ApplyRequest(view, e); err != nil {
			b.Fatal(err)
		}
	}
	db, err := sql.Open("sqlite", "file:"+filepath.Join(b.TempDir(), "raw.db")+
		"?_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)&_pragma=synchronous(NORMAL)&_txlock=immediate")
	if err != nil {
		b.Fatal(err)
	}
	db.SetMaxOpenConns(1)
	b.Cleanup(func() { db.Close() })
	if _, err := sqlite.New(ctx, db); err != nil {
		b.Fatal(err)
	}
	const insert = `INSERT INTO view_requests (gen, id, version, action, status, percentage, message, result, error_code,
		error_message, error_retryable, owner, tenant, attempt, cancel_requested, submitted_at, started_at, updated_at,
		completed_at, sort_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`
	rows, gen := 0, 0
	for b.Loop() {
		gen++
		tx, err := db.BeginTx(ctx, nil)
		if err != nil {
			b.Fatal(err)
		}
		stmt, err := tx.PrepareContext(ctx, insert)
		if err != nil {
			b.Fatal(err)
		}
		for i := range rawRows {
			v := view
			_, err := stmt.ExecContext(ctx, fmt.Sprintf("g%d", gen), fmt.Sprintf("bench-%05d", i), v.Version, v.Action, v.Status,
				v.Percentage, v.Message, []byte(v.Result), nil, "", 0, v.Owner, v.Tenant, v.Attempt, 0,
				v.SubmittedAt.UnixNano(), v.StartedAt.UnixNano(), v.UpdatedAt.UnixNano(), v.CompletedAt.UnixNano(), v.SubmittedAt.UnixNano())
			if err != nil {
				b.Fatal(err)
			}
		}
		stmt.Close()
		if err := tx.Commit(); err != nil {
			b.Fatal(err)
		}
		rows += rawRows
	}
	b.ReportMetric(float64(rows)/b.Elapsed().Seconds(), "rows/s")
}

// BenchmarkProjector: the live projector applying batches of 100 events
// across 10 streams (10 consecutive events of each), one view write per
// stream per batch.
func BenchmarkProjector(b *testing.B) {
	const streams, perStream, batch = 10, 1000, 100
	log := benchLog(b, streams, perStream)
	var all [][]events.Event
	for i := range streams {
		evs, err := events.LoadAll(context.Background(), log, events.RequestStream(fmt.Sprintf("bench-%05d", i)), 1)
		if err != nil {
			b.Fatal(err)
		}
		all = append(all, evs)
	}
	// Batch k holds events k*10+1 … k*10+10 of every stream.
	var batches [][]events.Event
	per := batch / streams
	for from := 0; from < perStream; from += per {
		var bt []events.Event
		for _, evs := range all {
			bt = append(bt, evs[from:from+per]...)
		}
		batches = append(batches, bt)
	}
	ctx := context.Background()
	applied := 0
	for b.Loop() {
		b.StopTimer()
		gens := benchViews(b)
		p := projections.NewProjector(log, gens, projections.WithLogger(slog.New(slog.DiscardHandler)))
		b.StartTimer()
		for _, bt := range batches {
			if failed := p.Handle(ctx, bt); len(failed) > 0 {
				b.Fatal(failed)
			}
		}
		applied += streams * perStream
	}
	b.ReportMetric(float64(applied)/b.Elapsed().Seconds(), "events/s")
}

// BenchmarkRebuild: a full rebuild of a log of about rebuildEvents events
// from the embedded log into a new generation, switch included; requests of
// 3 events (submitted, started, completed: one view per 3 events) and of 10.
func BenchmarkRebuild(b *testing.B) {
	for _, perStream := range []int{3, 10} {
		b.Run(fmt.Sprintf("events-per-request=%d", perStream), func(b *testing.B) {
			log := benchLog(b, rebuildEvents/perStream, perStream)
			ctx := context.Background()
			replayed, written := int64(0), int64(0)
			for b.Loop() {
				b.StopTimer()
				gens := benchViews(b)
				b.StartTimer()
				res, err := projections.Rebuild(ctx, log, gens, projections.RebuildOptions{
					Source: sqlite.LogSource(log, 0),
					Logger: slog.New(slog.DiscardHandler),
				})
				if err != nil {
					b.Fatal(err)
				}
				replayed += res.Events
				written += res.Written
			}
			b.ReportMetric(float64(replayed)/b.Elapsed().Seconds(), "events/s")
			b.ReportMetric(float64(written)/b.Elapsed().Seconds(), "views/s")
		})
	}
}

// BenchmarkCopyViews: the carry-over of a one-kind rebuild, rawRows views
// copied from one generation into an empty one (transactions of 1,000);
// connection views hold two subscriptions each, so their index rows are
// copied too.
func BenchmarkCopyViews(b *testing.B) {
	for _, kind := range []projections.ViewKind{projections.ViewRequests, projections.ViewConnections} {
		b.Run(string(kind), func(b *testing.B) {
			ctx := context.Background()
			gens := benchViews(b)
			src, err := gens.Store("g1", 0)
			if err != nil {
				b.Fatal(err)
			}
			var batch projections.Batch
			at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
			for i := range rawRows {
				id := fmt.Sprintf("bench-%05d", i)
				if kind == projections.ViewRequests {
					batch.Requests = append(batch.Requests, projections.RequestView{RequestID: id, Action: "generate_report",
						Status: projections.StatusCompleted, Percentage: 100, Message: "processing chunk", Owner: "alice", Tenant: "acme",
						Result: []byte(`{"rows":42}`), Attempt: 1, SubmittedAt: at, StartedAt: at, UpdatedAt: at, CompletedAt: at, Version: 4})
				} else {
					batch.Connections = append(batch.Connections, projections.ConnectionView{ConnectionID: id, User: "alice", Tenant: "acme",
						Status: projections.ConnectionOpen, ConnectedAt: at, LastSeen: at, ExpiresAt: at.Add(26 * time.Hour),
						Subscriptions: map[string]int64{"r1": 0, fmt.Sprintf("r-%d", i): 1}, Version: 3})
				}
			}
			if err := src.PutNewer(ctx, batch); err != nil {
				b.Fatal(err)
			}
			copied, gen := int64(0), 1
			for b.Loop() {
				gen++
				n, err := gens.CopyViews(ctx, kind, "g1", fmt.Sprintf("g%d", gen), 0)
				if err != nil || n != rawRows {
					b.Fatalf("copy = %d, %v", n, err)
				}
				copied += n
			}
			b.ReportMetric(float64(copied)/b.Elapsed().Seconds(), "views/s")
		})
	}
}
