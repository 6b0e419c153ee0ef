package client

import (
	"slices"
	"testing"
)

func ev(v int64, typ string) Event { return Event{RequestID: "r", Version: v, Type: typ} }

func TestSequencer(t *testing.T) {
	for _, tc := range []struct {
		name       string
		last, peek int64
		in         []int64
		want       []int64
		pending    int
	}{
		{"in order", 0, 0, []int64{1, 2, 3}, []int64{1, 2, 3}, 0},
		{"duplicates", 0, 0, []int64{1, 1, 2, 1, 2, 3, 3}, []int64{1, 2, 3}, 0},
		{"at or below the start", 5, 0, []int64{3, 5, 6, 4, 7}, []int64{6, 7}, 0},
		{"reversed", 1, 0, []int64{6, 5, 4, 3, 2}, []int64{2, 3, 4, 5, 6}, 0},
		{"gap stays open", 1, 0, []int64{2, 4, 5}, []int64{2}, 2},
		{"gap filled later", 1, 0, []int64{2, 4, 5, 3, 6}, []int64{2, 3, 4, 5, 6}, 0},
		{"peek is not delivered", 3, 3, []int64{3, 4}, []int64{4}, 0},
		{"peek dropped once passed", 3, 3, []int64{4, 3, 5}, []int64{4, 5}, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := sequencer{last: tc.last, peek: tc.peek}
			var got []int64
			for _, v := range tc.in {
				ready, _ := s.offer(ev(v, EventProgress))
				got = append(got, versionsOf(ready)...)
			}
			if !slices.Equal(got, tc.want) || len(s.pending) != tc.pending {
				t.Fatalf("delivered %v (pending %d), want %v (pending %d)", got, len(s.pending), tc.want, tc.pending)
			}
		})
	}
}

func TestSequencerPeekAndGap(t *testing.T) {
	s := sequencer{last: 4, peek: 4}
	if !s.gap(4) || s.resumeFrom() != 3 {
		t.Fatalf("peek due at head 4: gap %v, resume from %d", s.gap(4), s.resumeFrom())
	}
	if s.gap(3) {
		t.Fatal("head below the peek is no gap")
	}
	ready, peeked := s.offer(ev(4, EventCompleted))
	if len(ready) != 0 || peeked == nil || peeked.Version != 4 {
		t.Fatalf("peek: ready %v, peeked %v", ready, peeked)
	}
	if s.gap(4) || !s.gap(5) || s.resumeFrom() != 4 {
		t.Fatalf("after the peek: gap(4) %v gap(5) %v resume %d", s.gap(4), s.gap(5), s.resumeFrom())
	}
}

func TestSequencerBoundKeepsLowest(t *testing.T) {
	s := sequencer{}
	for v := int64(maxPending + 10); v >= 2; v-- {
		s.offer(ev(v, EventProgress))
	}
	if len(s.pending) != maxPending {
		t.Fatalf("%d pending, want %d", len(s.pending), maxPending)
	}
	ready, _ := s.offer(ev(1, EventProgress))
	if want := span(1, maxPending+1); !slices.Equal(versionsOf(ready), want) {
		t.Fatalf("delivered %d versions, want 1..%d", len(ready), maxPending+1)
	}
}

// FuzzSequencer: whatever order and repetition frames arrive in, what is
// delivered is consecutive from the start, each version once, and once
// every version has been offered at least once, all were delivered.
func FuzzSequencer(f *testing.F) {
	f.Add([]byte{1, 2, 3}, uint8(0))
	f.Add([]byte{5, 4, 3, 2, 1, 1, 5}, uint8(0))
	f.Add([]byte{9, 3, 3, 200, 4, 2, 1}, uint8(2))
	f.Fuzz(func(t *testing.T, data []byte, start uint8) {
		s := sequencer{last: int64(start % 8)}
		next := s.last + 1
		var top int64
		check := func(ready []Event) {
			for _, e := range ready {
				if e.Version != next {
					t.Fatalf("delivered v%d, want v%d", e.Version, next)
				}
				next++
			}
		}
		for _, b := range data {
			v := int64(b % 64)
			top = max(top, v)
			ready, _ := s.offer(ev(v, EventProgress))
			check(ready)
		}
		// Replay everything in order, as a re-subscription does.
		for v := s.resumeFrom() + 1; v <= top; v++ {
			ready, _ := s.offer(ev(v, EventProgress))
			check(ready)
		}
		if top > int64(start%8) && s.last != top {
			t.Fatalf("after a full replay last is %d, want %d", s.last, top)
		}
		if len(s.pending) != 0 {
			t.Fatalf("%d pending after a full replay", len(s.pending))
		}
	})
}
