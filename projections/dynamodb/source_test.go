package dynamodb_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/streamer/streamer/events"
	eventsdynamodb "github.com/streamer/streamer/events/dynamodb"
	"github.com/streamer/streamer/projections/dynamodb"
)

// delivery is one event a Replay handed over, with its checkpoint.
type delivery struct {
	e    events.Event
	next string
}

func replayAll(t *testing.T, src *dynamodb.Source, from string) []delivery {
	t.Helper()
	var out []delivery
	err := src.Replay(context.Background(), from, func(e events.Event, next string) error {
		out = append(out, delivery{e, next})
		return nil
	})
	if err != nil {
		t.Fatalf("replay from %q: %v", from, err)
	}
	return out
}

// inOrder checks that each stream's events come in version order without
// gaps, starting anywhere (a resumed replay starts mid-stream).
func inOrder(t *testing.T, what string, ds []delivery) {
	t.Helper()
	last := map[string]int64{}
	for _, d := range ds {
		if prev, ok := last[d.e.StreamID]; ok && d.e.Version != prev+1 {
			t.Fatalf("%s: %s@%d after version %d", what, d.e.StreamID, d.e.Version, prev)
		}
		last[d.e.StreamID] = d.e.Version
	}
}

// TestSourceReplaysAndResumes: a replay delivers every event of the log
// once, each stream in version order; a replay resumed from the checkpoint
// after any event delivers everything after it (some events again, none
// missed); Remaining estimates from the table's item count.
func TestSourceReplaysAndResumes(t *testing.T) {
	ctx := context.Background()
	db := client(t)
	table, _ := eventsTable(t, db)
	log := eventsdynamodb.New(db, table)
	rng := rand.New(rand.NewPCG(3, 4))
	w := newWorkload(rng, "s", 10, 4)
	w.appendAll(ctx, t, log, rng, 0)
	total := w.events()

	src := dynamodb.NewSource(db, table, dynamodb.WithSegments(3), dynamodb.WithPageSize(4))
	all := replayAll(t, src, "")
	inOrder(t, "full replay", all)
	seen := map[string]bool{}
	for _, d := range all {
		key := fmt.Sprintf("%s@%d", d.e.StreamID, d.e.Version)
		if seen[key] {
			t.Fatalf("%s delivered twice", key)
		}
		seen[key] = true
	}
	if len(seen) != total {
		t.Fatalf("replay delivered %d events, the log holds %d", len(seen), total)
	}
	if left, err := src.Remaining(ctx, ""); err != nil || left < int64(total) || left > int64(total+3) {
		t.Fatalf("remaining from the start = %d, %v; want about %d", left, err, total)
	}
	if left, err := src.Remaining(ctx, all[len(all)-1].next); err != nil || left != 0 {
		t.Fatalf("remaining after the last event = %d, %v; want 0", left, err)
	}
	if again := replayAll(t, src, all[len(all)-1].next); len(again) != 0 {
		t.Fatalf("a replay from the final checkpoint delivered %d events", len(again))
	}

	for _, k := range []int{0, 1, 5, total / 2, total - 2} {
		t.Run(fmt.Sprintf("resume after %d", k+1), func(t *testing.T) {
			rest := replayAll(t, src, all[k].next)
			inOrder(t, "resumed replay", rest)
			got := map[string]bool{}
			for _, d := range all[:k+1] {
				got[fmt.Sprintf("%s@%d", d.e.StreamID, d.e.Version)] = true
			}
			for _, d := range rest {
				got[fmt.Sprintf("%s@%d", d.e.StreamID, d.e.Version)] = true
			}
			if len(got) != total {
				t.Fatalf("delivered before and after the checkpoint: %d events of %d", len(got), total)
			}
			// Only the pages in flight come again: at most one page per segment.
			if again := k + 1 + len(rest) - total; again > 3*4 {
				t.Fatalf("%d events delivered twice, more than a page per segment", again)
			}
			left, err := src.Remaining(ctx, all[k].next)
			if err != nil || left < 0 || left > int64(total+3) {
				t.Fatalf("remaining after event %d = %d, %v", k+1, left, err)
			}
		})
	}

	// The replay stops at the callback's first error and returns it.
	stop := errors.New("stop")
	n := 0
	err := src.Replay(ctx, "", func(events.Event, string) error {
		if n++; n == 3 {
			return stop
		}
		return nil
	})
	if !errors.Is(err, stop) || n != 3 {
		t.Fatalf("replay with a failing callback: %v after %d events", err, n)
	}
	for _, bad := range []string{"x", "eyJmIjoyfQ", "e30"} {
		if err := src.Replay(ctx, bad, func(events.Event, string) error { return nil }); err == nil {
			t.Fatalf("replay from checkpoint %q: no error", bad)
		}
		if _, err := src.Remaining(ctx, bad); err == nil {
			t.Fatalf("remaining from checkpoint %q: no error", bad)
		}
	}
}
