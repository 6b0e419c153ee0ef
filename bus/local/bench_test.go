package local_test

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"testing"

	"github.com/streamer/streamer/bus"
	"github.com/streamer/streamer/bus/bustest"
	"github.com/streamer/streamer/bus/local"
	"github.com/streamer/streamer/events"
	evsqlite "github.com/streamer/streamer/events/sqlite"
)

// BenchmarkPublish publishes batches of a realistic run to one catch-all
// rule with a no-op target: in memory (no outbox), with the SQLite outbox
// on the event store's write connection (WAL, synchronous=NORMAL, BEGIN
// IMMEDIATE; the deletes of delivered entries run meanwhile, batched), and
// the floor: one transaction inserting the same rows with a prepared
// statement and nothing else.
// Run with: go test -run '^$' -bench Publish -benchtime 2s ./bus/local/
func BenchmarkPublish(b *testing.B) {
	for _, n := range []int{1, 10, 100} {
		for _, mode := range []string{"memory", "outbox", "raw-insert"} {
			b.Run(fmt.Sprintf("%s/batch%d", mode, n), func(b *testing.B) {
				ctx := context.Background()
				store, err := evsqlite.Open(filepath.Join(b.TempDir(), "events.db"))
				if err != nil {
					b.Fatal(err)
				}
				defer store.Close()
				run, err := bustest.AppendRun(ctx, store, 8)
				if err != nil {
					b.Fatal(err)
				}
				batches := batchesOf(run.Events, n)
				var publish func([]events.Event) error
				switch mode {
				case "raw-insert":
					publish = rawInsert(b, store, run.Events)
				default:
					cfg := local.Config{Logger: quiet}
					if mode == "outbox" {
						if cfg.Outbox, err = local.NewSQLOutbox(ctx, store.DB()); err != nil {
							b.Fatal(err)
						}
					}
					bs, err := local.New(cfg)
					if err != nil {
						b.Fatal(err)
					}
					defer bs.Close(ctx)
					if err := bs.AddRule(local.Rule{Name: "all", Pattern: catchAll,
						Target: local.HandlerTarget("noop", func(context.Context, events.Event) error { return nil })}); err != nil {
						b.Fatal(err)
					}
					publish = func(evs []events.Event) error { return bs.Publish(ctx, evs) }
				}
				total := 0
				for i := 0; b.Loop(); i++ {
					batch := batches[i%len(batches)]
					if err := publish(batch); err != nil {
						b.Fatal(err)
					}
					total += len(batch)
				}
				b.ReportMetric(float64(total)/b.Elapsed().Seconds(), "events/s")
			})
		}
	}
}

// batchesOf cycles through evs in batches of exactly n events.
func batchesOf(evs []events.Event, n int) [][]events.Event {
	out := make([][]events.Event, len(evs))
	for i := range out {
		batch := make([]events.Event, n)
		for j := range batch {
			batch[j] = evs[(i*n+j)%len(evs)]
		}
		out[i] = batch
	}
	return out
}

// rawInsert is the floor: BEGIN; one prepared INSERT per event of the row
// the outbox writes for it (built beforehand); COMMIT.
func rawInsert(b *testing.B, store *evsqlite.Store, evs []events.Event) func([]events.Event) error {
	ctx := context.Background()
	db := store.DB()
	if _, err := db.ExecContext(ctx, `CREATE TABLE floor (id INTEGER PRIMARY KEY AUTOINCREMENT, rule TEXT NOT NULL,
		event_id TEXT NOT NULL, stream TEXT NOT NULL, version INTEGER NOT NULL, type TEXT NOT NULL, body TEXT NOT NULL) STRICT`); err != nil {
		b.Fatal(err)
	}
	insert, err := db.PrepareContext(ctx, `INSERT INTO floor (rule, event_id, stream, version, type, body) VALUES (?, ?, ?, ?, ?, ?)`)
	if err != nil {
		b.Fatal(err)
	}
	bodies := map[string]string{}
	for _, e := range evs {
		detail, err := bus.Detail(e)
		if err != nil {
			b.Fatal(err)
		}
		js, err := json.Marshal(bus.EventBridgeEvent(e, events.NewID(), "streamer", "000000000000", "local", detail))
		if err != nil {
			b.Fatal(err)
		}
		bodies[e.ID] = string(js)
	}
	return func(evs []events.Event) error {
		tx, err := db.BeginTx(ctx, nil)
		if err != nil {
			return err
		}
		st := tx.StmtContext(ctx, insert)
		for _, e := range evs {
			if _, err := st.ExecContext(ctx, "all", e.ID, e.StreamID, e.Version, e.Type, bodies[e.ID]); err != nil {
				tx.Rollback()
				return err
			}
		}
		return tx.Commit()
	}
}
