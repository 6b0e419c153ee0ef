package dynamodb_test

import (
	"context"
	"errors"
	"fmt"
	"math"
	"sync/atomic"
	"testing"
	"time"

	"github.com/streamer/streamer/events"
	ddbstore "github.com/streamer/streamer/events/dynamodb"
)

// TestLoadFollowsMegabytePages: 30 events of ~50 KB (1.5 MB) come back
// whole from one Load although DynamoDB answers a Query with at most 1 MB,
// and a small limit pages through them with exact Next values.
func TestLoadFollowsMegabytePages(t *testing.T) {
	ctx := context.Background()
	c := &calls{}
	s := ddbstore.New(client(t, countCalls(c)), newTable(t))
	stream := newStreamName()
	if _, err := s.Append(ctx, stream, 0, submitted(), started(1)); err != nil {
		t.Fatal(err)
	}
	const n, size = 30, 50 * 1024
	for head := int64(2); head < 2+n; head += 10 {
		batch := make([]events.Event, 10)
		for j := range batch {
			batch[j] = bigProgress(float64(head), size)
		}
		if _, err := s.Append(ctx, stream, head, batch...); err != nil {
			t.Fatalf("append at %d: %v", head, err)
		}
	}
	before := c.get("Query")
	p, err := s.Load(ctx, stream, 1, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Events) != n+2 || p.Next != 0 {
		t.Fatalf("one Load returned %d events, next %d; want %d, 0", len(p.Events), p.Next, n+2)
	}
	if q := c.get("Query") - before; q < 2 {
		t.Fatalf("1.5 MB came back in %d Query pages: the 1 MB page limit was not exercised", q)
	}
	if err := events.Verify(p.Events); err != nil {
		t.Fatal(err)
	}

	var got []events.Event
	for from := int64(1); from != 0; {
		p, err := s.Load(ctx, stream, from, 4)
		if err != nil {
			t.Fatal(err)
		}
		if len(p.Events) == 0 || len(p.Events) > 4 {
			t.Fatalf("page from %d has %d events", from, len(p.Events))
		}
		if last := p.Events[len(p.Events)-1].Version; p.Next != 0 && p.Next != last+1 {
			t.Fatalf("page from %d: next %d after version %d", from, p.Next, last)
		}
		got = append(got, p.Events...)
		from = p.Next
	}
	if len(got) != n+2 {
		t.Fatalf("paged load: %d events, want %d", len(got), n+2)
	}
	if err := events.Verify(got); err != nil {
		t.Fatal(err)
	}
}

func TestLoadEdges(t *testing.T) {
	ctx := context.Background()
	s := newStore(t)
	stream := newStreamName()
	if _, err := s.Append(ctx, stream, 0, submitted(), started(1), progress(1, "")); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name        string
		from        int64
		limit       int
		wantN       int
		wantNext    int64
		wantFirstAt int64
	}{
		{"everything", 1, 0, 3, 0, 1},
		{"from zero means from one", 0, 0, 3, 0, 1},
		{"exact limit has no next page", 1, 3, 3, 0, 1},
		{"limit one less", 1, 2, 2, 3, 1},
		{"from the middle", 2, 1, 1, 3, 2},
		{"last event", 3, 1, 1, 0, 3},
		{"past the end", 4, 0, 0, 0, 0},
		{"huge limit", 1, math.MaxInt, 3, 0, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, err := s.Load(ctx, stream, tc.from, tc.limit)
			if err != nil {
				t.Fatal(err)
			}
			if len(p.Events) != tc.wantN || p.Next != tc.wantNext || (tc.wantN > 0 && p.Events[0].Version != tc.wantFirstAt) {
				t.Fatalf("%d events, next %d", len(p.Events), p.Next)
			}
		})
	}
	_, err := s.Load(ctx, newStreamName(), 1, 0)
	var se *events.StoreError
	if !errors.Is(err, events.ErrStreamNotFound) || !errors.As(err, &se) || se.Op != "load" {
		t.Fatalf("load of a missing stream: %v", err)
	}
}

// TestParallelScan: four segments see every event of every stream exactly
// once, each stream in version order, and the callback never runs
// concurrently.
func TestParallelScan(t *testing.T) {
	ctx := context.Background()
	s := newStore(t)
	want := map[string]events.Event{}
	for i := range 20 {
		stream := newStreamName()
		evs := []events.Event{submitted(), started(1)}
		for j := range i % 5 {
			evs = append(evs, progress(float64(j), ""))
		}
		stored, err := s.Append(ctx, stream, 0, evs...)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range stored {
			want[e.ID] = e
		}
	}
	var inside atomic.Int32
	seen := map[string]int{}
	last := map[string]int64{}
	err := s.Scan(ctx, events.ScanOptions{Segments: 4}, func(e events.Event) error {
		if inside.Add(1) != 1 {
			t.Error("scan callback called concurrently")
		}
		defer inside.Add(-1)
		time.Sleep(100 * time.Microsecond) // widen the window for overlap
		seen[e.ID]++
		if e.Version != last[e.StreamID]+1 {
			t.Errorf("%s: version %d after %d", e.StreamID, e.Version, last[e.StreamID])
		}
		last[e.StreamID] = e.Version
		if w, ok := want[e.ID]; !ok || w.Hash != e.Hash {
			t.Errorf("scanned event %s@%d differs from the appended one", e.StreamID, e.Version)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(seen) != len(want) {
		t.Fatalf("scan saw %d events, want %d", len(seen), len(want))
	}
	for id, n := range seen {
		if n != 1 {
			t.Fatalf("event %s seen %d times", id, n)
		}
	}
}

// TestScanStopsOnError: the first error from the callback ends the scan,
// the other segments stop, and the error comes back as it is.
func TestScanStopsOnError(t *testing.T) {
	ctx := context.Background()
	s := newStore(t)
	for range 8 {
		if _, err := s.Append(ctx, newStreamName(), 0, submitted(), started(1)); err != nil {
			t.Fatal(err)
		}
	}
	stop := errors.New("stop here")
	var calls atomic.Int32
	err := s.Scan(ctx, events.ScanOptions{Segments: 16}, func(events.Event) error {
		calls.Add(1)
		return stop
	})
	if !errors.Is(err, stop) || calls.Load() != 1 {
		t.Fatalf("scan returned %v after %d calls, want %v after 1", err, calls.Load(), stop)
	}
	cctx, cancel := context.WithCancel(ctx)
	n := 0
	err = s.Scan(cctx, events.ScanOptions{Segments: 2}, func(events.Event) error {
		if n++; n == 3 {
			cancel()
		}
		return nil
	})
	var se *events.StoreError
	if n < 3 || !errors.Is(err, context.Canceled) || !errors.As(err, &se) || se.Op != "scan" {
		t.Fatalf("scan with a context cancelled midway: %v after %d events", err, n)
	}
	for _, segments := range []int{0, -3, 1000} {
		count := 0
		if err := s.Scan(ctx, events.ScanOptions{Segments: segments}, func(events.Event) error { count++; return nil }); err != nil || count != 16 {
			t.Fatalf("segments %d: %d events, %v", segments, count, err)
		}
	}
	if err := ddbstore.New(client(t), "no-such-table-"+fmt.Sprint(time.Now().UnixNano())).Scan(ctx, events.ScanOptions{}, func(events.Event) error { return nil }); err == nil {
		t.Fatal("scan of a missing table succeeded")
	} else if !errors.As(err, &se) {
		t.Fatalf("scan error %v is not a StoreError", err)
	}
}
