package sqlite_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/streamer/streamer/events"
	"github.com/streamer/streamer/events/sqlite"
)

// The benchmarks compare Append with raw inserts of the same rows into the
// same table over the same connection (Store.DB: WAL, synchronous=NORMAL,
// BEGIN IMMEDIATE), so the difference is what the store adds: the head read,
// events.Prepare (validation, lifecycle rules, hash chain) and encoding.
// Run with: go test -run '^$' -bench . -benchtime 2s ./events/sqlite/

// maxBenchStream is where a benchmark moves on to a fresh stream, so that no
// stream grows unrealistically long.
const maxBenchStream = 2000

func benchProgress() events.Event {
	return events.MustNew(events.RequestProgressed,
		events.Progress{Percentage: 50, Message: "processing chunk"},
		events.Meta{Actor: "system:worker", Tenant: "t1", CorrelationID: "corr-0001", Source: "processor"})
}

func reportRate(b *testing.B, evs int) {
	b.ReportMetric(float64(evs)/b.Elapsed().Seconds(), "events/s")
}

func BenchmarkAppend(b *testing.B) {
	for _, n := range []int{1, 10, 100} {
		b.Run(benchName(n), func(b *testing.B) {
			ctx := context.Background()
			s := newStore(b)
			batch := make([]events.Event, n)
			for i := range batch {
				batch[i] = benchProgress()
			}
			streams, stream, head := 0, "", int64(maxBenchStream)
			total := 0
			for b.Loop() {
				if head+int64(n) > maxBenchStream {
					b.StopTimer()
					streams++
					stream = running(b, s, fmt.Sprintf("bench-%d", streams))
					head = 2
					b.StartTimer()
				}
				if _, err := s.Append(ctx, stream, head, batch...); err != nil {
					b.Fatal(err)
				}
				head += int64(n)
				total += n
			}
			reportRate(b, total)
		})
	}
}

// BenchmarkRawInsert is the baseline: BEGIN; n rows shaped and sized like
// an Append of benchProgress; COMMIT, with prepared statements. batchN runs
// a one-row INSERT n times; batchN-multirow runs one n-row INSERT, the way
// Append does, so it is the like-for-like baseline for batches.
func BenchmarkRawInsert(b *testing.B) {
	for _, tc := range []struct {
		n        int
		multirow bool
	}{{1, false}, {10, false}, {100, false}, {10, true}, {100, true}} {
		name := benchName(tc.n)
		if tc.multirow {
			name += "-multirow"
		}
		b.Run(name, func(b *testing.B) {
			ctx := context.Background()
			s := newStore(b)
			row := sampleRow(b, s)
			db := s.DB()
			rowsPerStmt := 1
			if tc.multirow {
				rowsPerStmt = tc.n
			}
			insert, err := db.Prepare(`INSERT INTO events
				(stream, version, id, type, schema_version, time, meta, data, prev_hash, hash, state)
				VALUES ` + strings.TrimSuffix(strings.Repeat("(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?), ", rowsPerStmt), ", "))
			if err != nil {
				b.Fatal(err)
			}
			defer insert.Close()
			streams, stream, version := 0, "", int64(maxBenchStream)
			total := 0
			args := make([]any, 0, 11*rowsPerStmt)
			for b.Loop() {
				if version+int64(tc.n) > maxBenchStream {
					streams++
					stream, version = events.RequestStream("raw-"+strconv.Itoa(streams)), 0
				}
				tx, err := db.BeginTx(ctx, nil)
				if err != nil {
					b.Fatal(err)
				}
				stmt := tx.StmtContext(ctx, insert)
				for range tc.n / rowsPerStmt {
					args = args[:0]
					for range rowsPerStmt {
						version++
						total++
						args = append(args, stream, version, row.id+strconv.Itoa(1e8 + total)[1:], row.typ, row.schema,
							row.time, row.meta, row.data, row.prevHash, row.hash, row.state)
					}
					if _, err := stmt.ExecContext(ctx, args...); err != nil {
						b.Fatal(err)
					}
				}
				if err := tx.Commit(); err != nil {
					b.Fatal(err)
				}
			}
			reportRate(b, total)
		})
	}
}

// BenchmarkLoad loads a 1000-event stream in one page.
func BenchmarkLoad(b *testing.B) {
	ctx := context.Background()
	s := newStore(b)
	stream := running(b, s, "load")
	batch := make([]events.Event, 100)
	for i := range batch {
		batch[i] = benchProgress()
	}
	for head := int64(2); head < 1000; head += int64(len(batch)) {
		if _, err := s.Append(ctx, stream, head, batch[:min(100, 1000-head)]...); err != nil {
			b.Fatal(err)
		}
	}
	total := 0
	for b.Loop() {
		p, err := s.Load(ctx, stream, 1, 1000)
		if err != nil {
			b.Fatal(err)
		}
		if len(p.Events) != 1000 {
			b.Fatalf("loaded %d events, want 1000", len(p.Events))
		}
		total += len(p.Events)
	}
	reportRate(b, total)
}

func benchName(n int) string {
	if n == 1 {
		return "single"
	}
	return "batch" + strconv.Itoa(n)
}

// rawRow is one stored row's column values.
type rawRow struct {
	id, typ, time, meta, prevHash, hash, state string
	schema                                     int
	data                                       []byte
}

// sampleRow appends benchProgress through the store once and reads back the
// exact column values it stored, so the raw rows have the same shape and size.
func sampleRow(b *testing.B, s *sqlite.Store) rawRow {
	b.Helper()
	stream := running(b, s, "sample")
	stored, err := s.Append(context.Background(), stream, 2, benchProgress())
	if err != nil {
		b.Fatal(err)
	}
	var r rawRow
	err = s.DB().QueryRow(`SELECT type, schema_version, time, meta, data, prev_hash, hash, state FROM events WHERE id = ?`, stored[0].ID).
		Scan(&r.typ, &r.schema, &r.time, &r.meta, &r.data, &r.prevHash, &r.hash, &r.state)
	if err != nil {
		b.Fatal(err)
	}
	// An ID as long as a UUID: a fixed prefix plus an 8-digit counter.
	r.id = stored[0].ID[:36-8]
	if _, err := time.Parse(time.RFC3339Nano, r.time); err != nil || !json.Valid([]byte(r.meta)) {
		b.Fatalf("sample row: time %q meta %q", r.time, r.meta)
	}
	return r
}
