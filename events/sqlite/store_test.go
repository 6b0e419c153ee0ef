package sqlite_test

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/streamer/streamer/events"
	"github.com/streamer/streamer/events/sqlite"
	"github.com/streamer/streamer/events/storetest"
)

func TestConformance(t *testing.T) {
	storetest.Run(t, storetest.Harness{
		New: func(t *testing.T) events.Store { return newStore(t) },
		Tamper: func(t *testing.T, s events.Store, stream string, version int64, data []byte) {
			t.Helper()
			res, err := s.(*sqlite.Store).DB().Exec(`UPDATE events SET data = ? WHERE stream = ? AND version = ?`, data, stream, version)
			if err != nil {
				t.Fatalf("tamper %s@%d: %v", stream, version, err)
			}
			if n, _ := res.RowsAffected(); n != 1 {
				t.Fatalf("tamper %s@%d: %d rows changed, want 1", stream, version, n)
			}
		},
		Features: storetest.Features{NoParallelScan: true},
	})
}

func newStore(t testing.TB, opts ...sqlite.Option) *sqlite.Store {
	t.Helper()
	s, err := sqlite.Open(filepath.Join(t.TempDir(), "events.db"), opts...)
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("close: %v", err)
		}
	})
	return s
}

var meta = events.Meta{Actor: "u1", Tenant: "t1"}

func submitted() events.Event {
	return events.MustNew(events.RequestSubmitted, events.Submitted{Action: "echo", Owner: "u1", Tenant: "t1"}, meta)
}

func started() events.Event {
	return events.MustNew(events.RequestStarted, events.Started{Attempt: 1}, meta)
}

func progress(pct float64) events.Event {
	return events.MustNew(events.RequestProgressed, events.Progress{Percentage: pct}, meta)
}

// running appends submitted+started to a fresh stream named after id.
func running(t testing.TB, s *sqlite.Store, id string) string {
	t.Helper()
	stream := events.RequestStream(id)
	if _, err := s.Append(context.Background(), stream, 0, submitted(), started()); err != nil {
		t.Fatalf("append submitted+started to %s: %v", stream, err)
	}
	return stream
}

func TestAppendLoadRoundTrip(t *testing.T) {
	ctx := context.Background()
	s := newStore(t)
	stream := events.RequestStream("round-trip")
	stored, err := s.Append(ctx, stream, 0, submitted(), started(), progress(10))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Append(ctx, stream, 3, progress(20), progress(30)); err != nil {
		t.Fatal(err)
	}
	p, err := s.Load(ctx, stream, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Events) != 5 || p.Next != 0 {
		t.Fatalf("load: %d events, next %d; want 5, 0", len(p.Events), p.Next)
	}
	for i, want := range stored {
		got := p.Events[i]
		if got.ID != want.ID || got.Hash != want.Hash || got.PrevHash != want.PrevHash || got.Version != want.Version ||
			got.Type != want.Type || got.Meta != want.Meta || !got.Time.Equal(want.Time) || string(got.Data) != string(want.Data) {
			t.Errorf("event %d:\n got %+v\nwant %+v", i, got, want)
		}
	}
	if err := events.Verify(p.Events); err != nil {
		t.Fatal(err)
	}
	pages := []struct {
		from  int64
		limit int
		first int64
		n     int
		next  int64
	}{
		{1, 2, 1, 2, 3},
		{3, 2, 3, 2, 5},
		{5, 2, 5, 1, 0},
		{4, 2, 4, 2, 0},
		{-7, 10, 1, 5, 0},
		{6, 2, 0, 0, 0},
	}
	for _, tc := range pages {
		t.Run(fmt.Sprintf("from %d limit %d", tc.from, tc.limit), func(t *testing.T) {
			p, err := s.Load(ctx, stream, tc.from, tc.limit)
			if err != nil {
				t.Fatal(err)
			}
			if len(p.Events) != tc.n || p.Next != tc.next || (tc.n > 0 && p.Events[0].Version != tc.first) {
				t.Fatalf("got %d events from %v, next %d; want %d from %d, next %d",
					len(p.Events), versions(p.Events), p.Next, tc.n, tc.first, tc.next)
			}
		})
	}
}

func versions(evs []events.Event) []int64 {
	v := make([]int64, len(evs))
	for i, e := range evs {
		v[i] = e.Version
	}
	return v
}

func TestAppendErrors(t *testing.T) {
	ctx := context.Background()
	s := newStore(t)
	stream := running(t, s, "errors")
	dup := progress(5)
	dup.ID = "fixed-id"
	if _, err := s.Append(ctx, stream, 2, dup); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name     string
		stream   string
		expected int64
		evs      []events.Event
		target   error
	}{
		{"stale version", stream, 2, []events.Event{progress(10)}, events.ErrVersionConflict},
		{"version ahead", stream, 9, []events.Event{progress(10)}, events.ErrVersionConflict},
		{"negative version", stream, -1, []events.Event{progress(10)}, events.ErrVersionConflict},
		{"new stream not at zero", events.RequestStream("nope"), 1, []events.Event{progress(10)}, events.ErrVersionConflict},
		{"resubmit", stream, 0, []events.Event{submitted()}, events.ErrVersionConflict},
		{"duplicate event ID", stream, 3, []events.Event{dup}, events.ErrInvalidEvent},
		{"rule broken", stream, 3, []events.Event{progress(1)}, events.ErrInvalidTransition},
		{"no events", stream, 3, nil, events.ErrInvalidEvent},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := s.Append(ctx, tc.stream, tc.expected, tc.evs...)
			if !errors.Is(err, tc.target) {
				t.Fatalf("error %v, want %v", err, tc.target)
			}
			var se *events.StoreError
			if !errors.As(err, &se) || se.Op != "append" || se.Stream != tc.stream || se.Version != tc.expected {
				t.Fatalf("error %#v is not the append StoreError of %s@%d", err, tc.stream, tc.expected)
			}
		})
	}
	if pos, err := s.LastPosition(ctx); err != nil || pos != 3 {
		t.Fatalf("failed appends moved the last position to %d (%v), want 3", pos, err)
	}
}

func TestLoadNotFound(t *testing.T) {
	s := newStore(t)
	for _, from := range []int64{0, 1, 5} {
		_, err := s.Load(context.Background(), events.RequestStream("missing"), from, 0)
		var se *events.StoreError
		if !errors.Is(err, events.ErrStreamNotFound) || !errors.As(err, &se) || se.Op != "load" || se.Version != from {
			t.Fatalf("load from %d of a missing stream: %v", from, err)
		}
	}
}

func TestReadFromAndLastPosition(t *testing.T) {
	ctx := context.Background()
	s := newStore(t)
	if pos, err := s.LastPosition(ctx); err != nil || pos != 0 {
		t.Fatalf("empty store: last position %d, %v", pos, err)
	}
	if recs, err := s.ReadFrom(ctx, 0, 10); err != nil || len(recs) != 0 {
		t.Fatalf("empty store: read %d records, %v", len(recs), err)
	}
	// Interleave appends to three streams; the feed must replay them in
	// exactly the order they committed.
	var want []string
	heads := map[string]int64{}
	for round := 0; round < 5; round++ {
		for _, id := range []string{"a", "b", "c"} {
			stream := events.RequestStream(id)
			var batch []events.Event
			switch heads[stream] {
			case 0:
				batch = []events.Event{submitted(), started()}
			default:
				batch = []events.Event{progress(float64(round)), progress(float64(round))}
			}
			stored, err := s.Append(ctx, stream, heads[stream], batch...)
			if err != nil {
				t.Fatal(err)
			}
			heads[stream] += int64(len(stored))
			for _, e := range stored {
				want = append(want, e.ID)
			}
		}
	}
	last, err := s.LastPosition(ctx)
	if err != nil || last != int64(len(want)) {
		t.Fatalf("last position %d (%v), want %d", last, err, len(want))
	}
	for _, limit := range []int{1, 4, 7, 0} {
		t.Run(fmt.Sprintf("limit %d", limit), func(t *testing.T) {
			var got []string
			after := int64(0)
			for {
				recs, err := s.ReadFrom(ctx, after, limit)
				if err != nil {
					t.Fatal(err)
				}
				if limit > 0 && len(recs) > limit {
					t.Fatalf("page of %d records, limit %d", len(recs), limit)
				}
				if len(recs) == 0 {
					break
				}
				for _, r := range recs {
					if r.Position <= after {
						t.Fatalf("position %d after %d", r.Position, after)
					}
					after = r.Position
					got = append(got, r.Event.ID)
				}
			}
			if after != last {
				t.Fatalf("read up to position %d, last is %d", after, last)
			}
			if fmt.Sprint(got) != fmt.Sprint(want) {
				t.Fatalf("feed order differs from commit order:\n got %v\nwant %v", got, want)
			}
		})
	}
	recs, err := s.ReadFrom(ctx, last-2, 0)
	if err != nil || len(recs) != 2 || recs[0].Position != last-1 || recs[1].Event.ID != want[len(want)-1] {
		t.Fatalf("read after %d: %+v, %v", last-2, recs, err)
	}
}

func TestSubscribe(t *testing.T) {
	ctx := context.Background()
	s := newStore(t)
	ch, cancel := s.Subscribe()
	other, cancelOther := s.Subscribe()
	defer cancelOther()
	expectSignal := func(t *testing.T, ch <-chan struct{}, want bool) {
		t.Helper()
		wait := time.Duration(0)
		if want {
			wait = 5 * time.Second
		}
		select {
		case _, ok := <-ch:
			if !ok {
				t.Fatal("channel closed")
			}
			if !want {
				t.Fatal("unexpected signal")
			}
		case <-time.After(wait):
			if want {
				t.Fatal("no signal after a committed append")
			}
		}
	}
	expectSignal(t, ch, false)
	stream := running(t, s, "subscribe")
	expectSignal(t, ch, true)
	expectSignal(t, other, true)
	// A failed append does not signal.
	if _, err := s.Append(ctx, stream, 0, submitted()); !errors.Is(err, events.ErrVersionConflict) {
		t.Fatalf("resubmit: %v", err)
	}
	expectSignal(t, ch, false)
	// Signals coalesce: three appends, one pending signal, no blocked writer.
	for v := int64(2); v < 5; v++ {
		if _, err := s.Append(ctx, stream, v, progress(float64(v))); err != nil {
			t.Fatal(err)
		}
	}
	expectSignal(t, ch, true)
	expectSignal(t, ch, false)
	// Signal arrives while a tailer waits.
	done := make(chan error, 1)
	go func() {
		_, err := s.Append(ctx, stream, 5, progress(50))
		done <- err
	}()
	expectSignal(t, ch, true)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	cancel()
	if _, err := s.Append(ctx, stream, 6, progress(60)); err != nil {
		t.Fatal(err)
	}
	expectSignal(t, ch, false)
	<-other // drain
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if _, ok := <-other; ok {
		t.Fatal("subscriber channel not closed by Close")
	}
	late, lateCancel := s.Subscribe()
	lateCancel()
	if _, ok := <-late; ok {
		t.Fatal("Subscribe after Close returned an open channel")
	}
}

func TestReopenKeepsEvents(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "events.db")
	s, err := sqlite.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	stream := running(t, s, "reopen")
	if _, err := s.Append(ctx, stream, 2, progress(40)); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s, err = sqlite.Open(path)
	if err != nil {
		t.Fatalf("reopen: %v", err)
	}
	defer s.Close()
	evs, err := events.LoadAll(ctx, s, stream, 1)
	if err != nil || len(evs) != 3 {
		t.Fatalf("after reopen: %d events, %v", len(evs), err)
	}
	if err := events.Verify(evs); err != nil {
		t.Fatal(err)
	}
	// The stored state survives: the lifecycle rules still apply.
	if _, err := s.Append(ctx, stream, 3, progress(39)); !errors.Is(err, events.ErrInvalidTransition) {
		t.Fatalf("percentage going down after reopen: %v", err)
	}
	if _, err := s.Append(ctx, stream, 3, progress(41)); err != nil {
		t.Fatal(err)
	}
	if pos, err := s.LastPosition(ctx); err != nil || pos != 4 {
		t.Fatalf("last position %d, %v; want 4", pos, err)
	}
	var mode string
	if err := s.DB().QueryRow(`PRAGMA journal_mode`).Scan(&mode); err != nil || mode != "wal" {
		t.Fatalf("journal mode %q, %v", mode, err)
	}
}

func TestOpenRefusesNewerSchema(t *testing.T) {
	path := filepath.Join(t.TempDir(), "events.db")
	s, err := sqlite.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.DB().Exec(`PRAGMA user_version = 99`); err != nil {
		t.Fatal(err)
	}
	s.Close()
	if s, err := sqlite.Open(path); err == nil {
		s.Close()
		t.Fatal("opened a file with a newer schema")
	}
}

// TestConcurrentAppendOneVersion races 16 writers for each version of one
// stream: exactly one wins, the rest get ErrVersionConflict.
func TestConcurrentAppendOneVersion(t *testing.T) {
	const writers, rounds = 16, 25
	ctx := context.Background()
	s := newStore(t)
	stream := running(t, s, "race")
	winners := map[string]bool{}
	for round := 0; round < rounds; round++ {
		head := int64(2 + round)
		start := make(chan struct{})
		var wg sync.WaitGroup
		results := make([]error, writers)
		ids := make([]string, writers)
		for w := range writers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				stored, err := s.Append(ctx, stream, head, progress(float64(round)))
				results[w] = err
				if err == nil {
					ids[w] = stored[0].ID
				}
			}()
		}
		close(start)
		wg.Wait()
		won := 0
		for w, err := range results {
			switch {
			case err == nil:
				won++
				winners[ids[w]] = true
			case !errors.Is(err, events.ErrVersionConflict):
				t.Fatalf("round %d writer %d: %v", round, w, err)
			}
		}
		if won != 1 {
			t.Fatalf("round %d: %d winners at version %d", round, won, head+1)
		}
	}
	evs, err := events.LoadAll(ctx, s, stream, 1)
	if err != nil {
		t.Fatal(err)
	}
	if len(evs) != 2+rounds {
		t.Fatalf("%d events, want %d", len(evs), 2+rounds)
	}
	for _, e := range evs[2:] {
		if !winners[e.ID] {
			t.Fatalf("stored event %s@%d is not a reported winner", e.ID, e.Version)
		}
	}
	if err := events.Verify(evs); err != nil {
		t.Fatal(err)
	}
}

// TestScanWhileAppending: fn may append (no query is held open across it),
// and every event present when the scan started is seen exactly once.
func TestScanWhileAppending(t *testing.T) {
	ctx := context.Background()
	s := newStore(t, sqlite.WithScanBatch(2))
	for i := range 5 {
		running(t, s, fmt.Sprintf("scan-%d", i))
	}
	target := running(t, s, "scan-target")
	seen := map[string]int{}
	head := int64(2)
	err := s.Scan(ctx, events.ScanOptions{}, func(e events.Event) error {
		seen[e.ID]++
		if e.StreamID != target {
			if _, err := s.Append(ctx, target, head, progress(float64(head))); err != nil {
				return err
			}
			head++
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for id, n := range seen {
		if n != 1 {
			t.Fatalf("event %s seen %d times", id, n)
		}
	}
	if total := 12 + (head - 2); int64(len(seen)) != total {
		t.Fatalf("scan saw %d events, the store holds %d", len(seen), total)
	}
	ctxDone, cancel := context.WithCancel(ctx)
	cancel()
	err = s.Scan(ctxDone, events.ScanOptions{}, func(events.Event) error { return nil })
	var se *events.StoreError
	if !errors.Is(err, context.Canceled) || !errors.As(err, &se) || se.Op != "scan" {
		t.Fatalf("scan with a cancelled context: %v", err)
	}
}

// TestTwoStoresOneFile: two Stores on one file (two processes, in effect)
// see each other's appends, conflict on the same version, and a write lock
// held past the busy timeout is ErrTransient.
func TestTwoStoresOneFile(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "events.db")
	a, err := sqlite.Open(path, sqlite.WithBusyTimeout(50*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	b, err := sqlite.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	stream := running(t, a, "shared")
	if _, err := b.Append(ctx, stream, 2, progress(10)); err != nil {
		t.Fatalf("second store appending to the first's stream: %v", err)
	}
	if _, err := a.Append(ctx, stream, 2, progress(20)); !errors.Is(err, events.ErrVersionConflict) {
		t.Fatalf("stale append through the first store: %v, want ErrVersionConflict", err)
	}
	if recs, err := a.ReadFrom(ctx, 0, 0); err != nil || len(recs) != 3 {
		t.Fatalf("first store's feed: %d records, %v; want 3", len(recs), err)
	}
	tx, err := b.DB().Begin() // BEGIN IMMEDIATE: takes the write lock
	if err != nil {
		t.Fatal(err)
	}
	_, err = a.Append(ctx, stream, 3, progress(30))
	var se *events.StoreError
	if !errors.Is(err, events.ErrTransient) || !errors.As(err, &se) {
		t.Fatalf("append while another connection holds the write lock: %v, want ErrTransient", err)
	}
	if err := tx.Rollback(); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Append(ctx, stream, 3, progress(30)); err != nil {
		t.Fatalf("append after the lock was released: %v", err)
	}
}
