package storetest

import (
	"context"
	"errors"
	"testing"

	"github.com/streamer/streamer/events"
)

// testPagination writes more than 1 MB into one stream (DynamoDB pages
// Query results at 1 MB) and reads it back in pages.
func testPagination(t *testing.T, h Harness) {
	ctx := context.Background()
	s := h.New(t)
	stream := running(t, s)
	const n, size = 30, 50 * 1024 // 1.5 MB
	head := int64(2)
	for i := 0; i < n; i += 5 {
		batch := []events.Event{}
		for j := i; j < i+5; j++ {
			batch = append(batch, bigProgress(float64(j), size))
		}
		if _, err := s.Append(ctx, stream, head, batch...); err != nil {
			t.Fatalf("append batch at %d: %v", head, err)
		}
		head += 5
	}
	for _, limit := range []int{7, 25, 0} {
		var got []events.Event
		pages := 0
		for from := int64(1); ; {
			p, err := s.Load(ctx, stream, from, limit)
			if err != nil {
				t.Fatalf("limit %d: load from %d: %v", limit, from, err)
			}
			pages++
			if limit > 0 && len(p.Events) > limit {
				t.Fatalf("limit %d: page of %d events", limit, len(p.Events))
			}
			got = append(got, p.Events...)
			if p.Next == 0 {
				break
			}
			if p.Next != lastVersion(p.Events)+1 {
				t.Fatalf("limit %d: next %d after version %d", limit, p.Next, lastVersion(p.Events))
			}
			from = p.Next
			if pages > 100 {
				t.Fatal("pagination does not terminate")
			}
		}
		if len(got) != n+2 {
			t.Fatalf("limit %d: %d events over %d pages, want %d", limit, len(got), pages, n+2)
		}
		for i, e := range got {
			if e.Version != int64(i+1) {
				t.Fatalf("limit %d: event %d has version %d", limit, i, e.Version)
			}
		}
		if limit == 7 && pages < 5 {
			t.Fatalf("limit 7 gave only %d pages", pages)
		}
		if err := events.Verify(got); err != nil {
			t.Fatalf("limit %d: %v", limit, err)
		}
	}
}

func testScan(t *testing.T, h Harness) {
	ctx := context.Background()
	s := h.New(t)
	want := map[string]events.Event{}
	streams := map[string]bool{}
	for i := 0; i < 12; i++ {
		stream := running(t, s)
		streams[stream] = true
		for v := int64(3); v < int64(3+i%4); v++ {
			if _, err := s.Append(ctx, stream, v-1, progress(float64(v), "")); err != nil {
				t.Fatal(err)
			}
		}
		for _, e := range loadAll(t, s, stream) {
			want[e.ID] = e
		}
	}
	for _, segments := range []int{1, 4} {
		seen := map[string]int{}
		lastOf := map[string]int64{}
		err := s.Scan(ctx, events.ScanOptions{Segments: segments}, func(e events.Event) error {
			seen[e.ID]++
			if e.Version <= lastOf[e.StreamID] {
				t.Errorf("segments %d: %s version %d after %d", segments, e.StreamID, e.Version, lastOf[e.StreamID])
			}
			lastOf[e.StreamID] = e.Version
			if w, ok := want[e.ID]; ok && w.Hash != e.Hash {
				t.Errorf("segments %d: scanned %s@%d differs from loaded", segments, e.StreamID, e.Version)
			}
			return nil
		})
		if err != nil {
			t.Fatalf("segments %d: %v", segments, err)
		}
		if len(seen) != len(want) {
			t.Fatalf("segments %d: scan saw %d distinct events, want %d", segments, len(seen), len(want))
		}
		for id, n := range seen {
			if n != 1 {
				t.Fatalf("segments %d: event %s seen %d times", segments, id, n)
			}
			if _, ok := want[id]; !ok {
				t.Fatalf("segments %d: scan returned unknown event %s", segments, id)
			}
		}
	}
	stop := errors.New("stop here")
	calls := 0
	err := s.Scan(ctx, events.ScanOptions{Segments: 2}, func(events.Event) error { calls++; return stop })
	if !errors.Is(err, stop) || calls != 1 {
		t.Fatalf("scan callback error: got %v after %d calls, want %v after 1", err, calls, stop)
	}
}
