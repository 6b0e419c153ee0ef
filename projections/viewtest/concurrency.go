package viewtest

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"sync"
	"testing"

	"github.com/streamer/streamer/projections"
)

const (
	writers      = 16
	writesPerOne = 8
)

// runWriters runs writers goroutines that each call write writesPerOne
// times, retrying on ErrViewConflict, and counts the conflicts.
func runWriters(t *testing.T, write func(w, i int) error) int {
	t.Helper()
	var (
		wg        sync.WaitGroup
		mu        sync.Mutex
		conflicts int
		failures  []error
	)
	for w := range writers {
		wg.Go(func() {
			for i := range writesPerOne {
				for attempt := 0; ; attempt++ {
					err := write(w, i)
					if err == nil {
						break
					}
					if !errors.Is(err, projections.ErrViewConflict) || attempt > 10000 {
						mu.Lock()
						failures = append(failures, fmt.Errorf("writer %d write %d: %w", w, i, err))
						mu.Unlock()
						return
					}
					mu.Lock()
					conflicts++
					mu.Unlock()
				}
			}
		})
	}
	wg.Wait()
	if err := errors.Join(failures...); err != nil {
		t.Fatal(err)
	}
	return conflicts
}

// testConcurrentRequest: 16 writers increment one view's Attempt with
// read-modify-write under the version guard; no increment may be lost.
func testConcurrentRequest(t *testing.T, h Harness) {
	ctx := context.Background()
	s := h.New(t)
	created := 0
	var mu sync.Mutex
	var wg sync.WaitGroup
	for range writers {
		wg.Go(func() {
			err := s.PutRequest(ctx, request("r-hot", "acme", "alice", projections.StatusRunning, at(0), 1), 0)
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				created++
			case !errors.Is(err, projections.ErrViewConflict):
				t.Errorf("concurrent create: %v", err)
			}
		})
	}
	wg.Wait()
	if created != 1 {
		t.Fatalf("%d concurrent creates at expected version 0 succeeded, want exactly 1", created)
	}
	conflicts := runWriters(t, func(int, int) error {
		v, err := s.GetRequest(ctx, "r-hot")
		if err != nil {
			return err
		}
		next := v
		next.Attempt++
		next.Version++
		return s.PutRequest(ctx, next, v.Version)
	})
	got := getRequest(t, s, "r-hot")
	if want := writers * writesPerOne; got.Attempt != want || got.Version != int64(want+1) {
		t.Fatalf("after %d guarded increments (%d conflicts retried): attempt %d version %d, want %d and %d",
			want, conflicts, got.Attempt, got.Version, want, want+1)
	}
	t.Logf("%d guarded writes, %d conflicts retried", writers*writesPerOne, conflicts)
}

// testConcurrentConnection: 16 writers each add subscriptions to one
// connection; the view and the subscriber index end with all of them.
func testConcurrentConnection(t *testing.T, h Harness) {
	ctx := context.Background()
	s := h.New(t)
	mustPutConnection(t, s, connection("c-hot", "acme", "alice", 1, nil), 0)
	runWriters(t, func(w, i int) error {
		v, err := s.GetConnection(ctx, "c-hot")
		if err != nil {
			return err
		}
		next := v
		next.Subscriptions = maps.Clone(v.Subscriptions)
		if next.Subscriptions == nil {
			next.Subscriptions = map[string]int64{}
		}
		next.Subscriptions[fmt.Sprintf("r-%02d-%02d", w, i)] = int64(i)
		next.Version++
		return s.PutConnection(ctx, next, v.Version)
	})
	got := getConnection(t, s, "c-hot")
	want := writers * writesPerOne
	if len(got.Subscriptions) != want || got.Version != int64(want+1) {
		t.Fatalf("connection has %d subscriptions at version %d, want %d at %d", len(got.Subscriptions), got.Version, want, want+1)
	}
	eventually(t, h, "subscriber index of every request", func() error {
		for req := range got.Subscriptions {
			ids, err := s.Subscribers(ctx, req)
			if err := idsAre(ids, err, "c-hot"); err != nil {
				return fmt.Errorf("subscribers of %s: %w", req, err)
			}
		}
		return nil
	})
}
