package client

// maxPending bounds the versions a sequencer holds above a gap. Anything it
// lets go is in the log and comes back with the re-subscription that fills
// the gap, so the bound costs a replay, never an event.
const maxPending = 256

// sequencer turns the event frames of one request stream — duplicated, out
// of order, with gaps — into each version exactly once, in order: it keeps
// the highest version delivered, drops frames at or below it, and holds
// versions above a gap until the gap is filled.
type sequencer struct {
	last    int64           // highest version delivered (or already known to the caller)
	peek    int64           // a version the caller already has, replayed only to learn whether it ended the request; 0 = none
	pending map[int64]Event // versions above last+1
}

// offer takes one event frame. ready is what can now be delivered, in
// order; peeked is the peek event when this frame was it.
func (s *sequencer) offer(e Event) (ready []Event, peeked *Event) {
	if s.peek > 0 && e.Version == s.peek {
		s.peek = 0
		return nil, &e
	}
	if e.Version <= s.last {
		return nil, nil
	}
	if e.Version > s.last+1 {
		s.hold(e)
		return nil, nil
	}
	s.peek = 0 // the stream went on past it: it was not the end
	s.last = e.Version
	ready = append(ready, e)
	for len(s.pending) > 0 {
		next, ok := s.pending[s.last+1]
		if !ok {
			break
		}
		delete(s.pending, next.Version)
		s.last = next.Version
		ready = append(ready, next)
	}
	// Whatever is left is above a gap; versions at or below last cannot be
	// left since only versions above last are ever held.
	return ready, nil
}

// hold keeps e until the gap below it closes, keeping the lowest versions
// when full (they are the next to become deliverable).
func (s *sequencer) hold(e Event) {
	if _, dup := s.pending[e.Version]; dup {
		return
	}
	if s.pending == nil {
		s.pending = make(map[int64]Event)
	}
	if len(s.pending) >= maxPending {
		var highest int64
		for v := range s.pending {
			highest = max(highest, v)
		}
		if e.Version > highest {
			return
		}
		delete(s.pending, highest)
	}
	s.pending[e.Version] = e
}

// gap reports whether versions are known to be missing: some are held
// above a hole, or the stream's head (from a subscribe ack; 0 when unknown)
// is beyond what was delivered, or the peek event is due and has not come.
func (s *sequencer) gap(head int64) bool {
	return len(s.pending) > 0 || head > s.last || (s.peek > 0 && head >= s.peek)
}

// resumeFrom is the fromVersion to subscribe with to fill a gap.
func (s *sequencer) resumeFrom() int64 {
	if s.peek > 0 {
		return s.peek - 1
	}
	return s.last
}
