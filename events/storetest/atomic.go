package storetest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/streamer/streamer/events"
)

func testAtomicity(t *testing.T, h Harness) {
	ctx := context.Background()
	s := h.New(t)
	stream := running(t, s)
	cases := []struct {
		name   string
		evs    []events.Event
		target error
	}{
		{"last event breaks a rule", []events.Event{progress(10, "a"), progress(20, "b"), progress(5, "back")}, events.ErrInvalidTransition},
		{"middle event malformed", []events.Event{progress(10, "a"), {Type: events.RequestProgressed, Data: []byte(`not json`)}, progress(30, "c")}, events.ErrInvalidEvent},
		{"unknown type", []events.Event{progress(10, "a"), {Type: "request.exploded", Data: []byte(`{}`)}}, events.ErrInvalidEvent},
		{"last event too large", []events.Event{progress(10, "a"), bigProgress(20, 410*1024)}, events.ErrEventTooLarge},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := s.Append(ctx, stream, 2, tc.evs...)
			mustFail(t, err, tc.target)
			if got := loadAll(t, s, stream); len(got) != 2 {
				t.Fatalf("a rejected append wrote %d events", len(got)-2)
			}
		})
	}
	// A conflicting multi-event append writes nothing either.
	if _, err := s.Append(ctx, stream, 2, progress(1, "x")); err != nil {
		t.Fatal(err)
	}
	_, err := s.Append(ctx, stream, 2, progress(2, "a"), progress(3, "b"), progress(4, "c"))
	mustFail(t, err, events.ErrVersionConflict)
	if got := loadAll(t, s, stream); len(got) != 3 {
		t.Fatalf("conflicting multi-event append wrote: %d events, want 3", len(got))
	}
}

// testConcurrentAppends: 16 writers race on one stream; every version has
// exactly one winner, versions are gapless and no write is duplicated.
func testConcurrentAppends(t *testing.T, h Harness) {
	const writers, perWriter = 16, 8
	ctx := context.Background()
	s := h.New(t)
	stream := running(t, s)
	var wg sync.WaitGroup
	errs := make(chan error, writers)
	for w := 0; w < writers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			head := int64(2)
			for n := 0; n < perWriter; {
				_, err := s.Append(ctx, stream, head, progress(50, fmt.Sprintf("w%d-%d", w, n)))
				switch {
				case err == nil:
					head++
					n++
				case errors.Is(err, events.ErrVersionConflict):
					p, lerr := s.Load(ctx, stream, head+1, 0)
					if lerr != nil {
						errs <- lerr
						return
					}
					head = max(head, lastVersion(p.Events))
				default:
					errs <- fmt.Errorf("writer %d: %w", w, err)
					return
				}
			}
		}(w)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	evs := loadAll(t, s, stream)
	if len(evs) != 2+writers*perWriter {
		t.Fatalf("stream has %d events, want %d", len(evs), 2+writers*perWriter)
	}
	seen := map[string]bool{}
	for i, e := range evs {
		if e.Version != int64(i+1) {
			t.Fatalf("gap or duplicate at index %d: version %d", i, e.Version)
		}
		if i < 2 {
			continue
		}
		p, err := events.PayloadAs[*events.Progress](e)
		if err != nil {
			t.Fatal(err)
		}
		if seen[p.Message] {
			t.Fatalf("write %s stored twice", p.Message)
		}
		seen[p.Message] = true
	}
	if err := events.Verify(evs); err != nil {
		t.Fatalf("chain after concurrent appends: %v", err)
	}
}

// testCancelled: a context cancelled before or during an append leaves the
// stream with all of the call's events or none of them.
func testCancelled(t *testing.T, h Harness) {
	s := h.New(t)
	stream := running(t, s)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := s.Append(ctx, stream, 2, progress(1, "x"))
	mustFail(t, err, context.Canceled)
	if got := loadAll(t, s, stream); len(got) != 2 {
		t.Fatalf("append with a cancelled context wrote %d events", len(got)-2)
	}
	const batch = 40
	head := int64(2)
	for i := 0; i < 20; i++ {
		ctx, cancel := context.WithCancel(context.Background())
		timer := time.AfterFunc(time.Duration(i*150)*time.Microsecond, cancel)
		evs := make([]events.Event, batch)
		for j := range evs {
			evs[j] = progress(float64(i), fmt.Sprintf("try %d event %d", i, j))
		}
		_, err := s.Append(ctx, stream, head, evs...)
		timer.Stop()
		cancel()
		got := loadAll(t, s, stream)
		added := lastVersion(got) - head
		switch {
		case added != 0 && added != batch:
			t.Fatalf("try %d: a cancelled append left a partial write: %d of %d events", i, added, batch)
		case err == nil && added != batch:
			t.Fatalf("try %d: append reported success but wrote %d events", i, added)
		case err != nil && !errors.Is(err, context.Canceled) && !errors.Is(err, context.DeadlineExceeded):
			t.Fatalf("try %d: unexpected error %v", i, err)
		}
		head += added
	}
	if err := events.VerifyStream(context.Background(), s, stream); err != nil {
		t.Fatal(err)
	}
}
