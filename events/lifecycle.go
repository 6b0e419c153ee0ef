package events

import (
	"fmt"
	"time"
	"unicode/utf8"
)

// Rule names a lifecycle rule; it is stable and appears in error frames and
// docs/events.md.
type Rule string

const (
	RuleFirstSubmitted     Rule = "first-event-must-be-submitted"
	RuleAlreadySubmitted   Rule = "already-submitted"
	RuleAfterTerminal      Rule = "nothing-after-terminal"
	RuleAttemptNotGrowing  Rule = "attempt-must-increase"
	RuleProgressNotRunning Rule = "progress-before-start"
	RulePercentageDown     Rule = "percentage-never-decreases"
	RuleCompleteNotRunning Rule = "complete-before-start"
	RuleCancelTwice        Rule = "cancel-already-requested"
	RuleFirstOpened        Rule = "first-event-must-be-opened"
	RuleAlreadyOpened      Rule = "already-opened"
)

// Lifecycle statuses kept in State.
const (
	StatusNone      = ""          // empty stream
	StatusQueued    = "queued"    // submitted, not started
	StatusRunning   = "running"   // started (possibly cancel requested)
	StatusCompleted = "completed" // terminal
	StatusFailed    = "failed"    // terminal
	StatusCancelled = "cancelled" // terminal
	StatusTimedOut  = "timed_out" // terminal
	StatusOpen      = "open"      // connection open
	StatusClosed    = "closed"    // connection closed, terminal
)

// State is the lifecycle state of a stream after an event: everything the
// rules need to judge the next event, so a backend reads only the stream's
// last event (which carries it) before an append, never the whole stream.
type State struct {
	Status          string  `json:"s"`
	Percentage      float64 `json:"p,omitempty"`
	Attempt         int     `json:"a,omitempty"`
	CancelRequested bool    `json:"c,omitempty"`
}

// Terminal reports whether no further event may follow.
func (s State) Terminal() bool {
	switch s.Status {
	case StatusCompleted, StatusFailed, StatusCancelled, StatusTimedOut, StatusClosed:
		return true
	}
	return false
}

// Head is what a backend knows of a stream's last event before an append.
// The zero Head is an empty stream.
type Head struct {
	Version int64
	Hash    string
	State   State
}

// Limits shared by every backend, so that an append that one backend takes
// is taken by all (DynamoDB's limits are the binding ones: 400 KB per item,
// 100 items and 4 MB per TransactWriteItems).
const (
	// MaxEventSize bounds one event's JSON envelope (Encode). It leaves room
	// under DynamoDB's 400 KB item limit for attribute names and bookkeeping.
	MaxEventSize = 390 * 1024
	// MaxAppendEvents bounds the events of one Append call.
	MaxAppendEvents = 100
	// MaxAppendSize bounds the summed envelope sizes of one Append call.
	MaxAppendSize = 3_900_000
)

// Prepare is the backend-independent half of an append: it checks every
// event against the size limits and the lifecycle rules starting from head,
// and stamps each with its stream, version (head.Version+1, +2, …), ID (if
// unset), time, schema version (if unset) and hash chain links. It returns
// the stamped events and the State after each, which the backend stores with
// the event. Prepare does no I/O; the backend must write all results
// atomically and only if the stream is still at head.Version.
func Prepare(stream string, head Head, evs []Event, now time.Time) ([]Event, []State, error) {
	kind, _, err := ParseStream(stream)
	if err != nil {
		return nil, nil, err
	}
	if len(evs) == 0 {
		return nil, nil, invalid("append needs at least one event")
	}
	if len(evs) > MaxAppendEvents {
		return nil, nil, fmt.Errorf("%w: %d events, at most %d", ErrTooManyEvents, len(evs), MaxAppendEvents)
	}
	ts := stampTime(now)
	out := make([]Event, len(evs))
	states := make([]State, len(evs))
	state, prev, version := head.State, head.Hash, head.Version
	total := 0
	for i, in := range evs {
		version++
		e := in
		e.StreamID, e.Version, e.Time, e.PrevHash, e.Hash = stream, version, ts, prev, ""
		if e.ID == "" {
			e.ID = NewID()
		}
		if e.SchemaVersion == 0 {
			e.SchemaVersion = CurrentSchema(e.Type)
		}
		if err := checkTypeAndStream(stream, e.Type); err != nil {
			return nil, nil, err
		}
		if e.SchemaVersion < 1 || e.SchemaVersion > CurrentSchema(e.Type) {
			return nil, nil, invalid("%s: schema version %d not in 1..%d", e.Type, e.SchemaVersion, CurrentSchema(e.Type))
		}
		if err := checkObject(e.Data); err != nil {
			return nil, nil, fmt.Errorf("%s at version %d: %w", e.Type, version, err)
		}
		if err := checkUTF8(e); err != nil {
			return nil, nil, fmt.Errorf("%s at version %d: %w", e.Type, version, err)
		}
		payload, err := DecodePayload(e)
		if err != nil {
			return nil, nil, fmt.Errorf("%s at version %d: %w", e.Type, version, err)
		}
		next, terr := transition(kind, state, e.Type, payload)
		if terr != nil {
			terr.Stream, terr.Version, terr.Type, terr.Status = stream, version, e.Type, state.Status
			return nil, nil, terr
		}
		var dataLen int
		if e.Hash, dataLen, err = hashEvent(prev, e); err != nil {
			return nil, nil, fmt.Errorf("%w: %v", ErrInvalidEvent, err)
		}
		// The size is len(Encode(e)); hashing has measured the data, so
		// the envelope need not be marshalled just to be measured.
		size, ok := encodedLen(e, dataLen)
		if !ok {
			enc, err := Encode(e)
			if err != nil {
				return nil, nil, fmt.Errorf("%w: %v", ErrInvalidEvent, err)
			}
			size = len(enc)
		}
		if size > MaxEventSize {
			return nil, nil, fmt.Errorf("%w: %s at version %d is %d bytes encoded, the limit is %d (DynamoDB's 400 KB item limit less bookkeeping)",
				ErrEventTooLarge, e.Type, version, size, MaxEventSize)
		}
		if total += size; total > MaxAppendSize {
			return nil, nil, fmt.Errorf("%w: the events of one append exceed %d bytes encoded (DynamoDB's 4 MB transaction limit)", ErrEventTooLarge, MaxAppendSize)
		}
		out[i], states[i] = e, next
		state, prev = next, e.Hash
	}
	return out, states, nil
}

// transition applies one event to a state, or says which rule it breaks.
func transition(kind StreamKind, s State, typ string, payload any) (State, *TransitionError) {
	fail := func(r Rule, format string, args ...any) (State, *TransitionError) {
		return s, &TransitionError{Rule: r, Detail: fmt.Sprintf(format, args...)}
	}
	if s.Terminal() {
		return fail(RuleAfterTerminal, "the stream ended with status %s", s.Status)
	}
	if kind == KindConnection {
		switch {
		case s.Status == StatusNone && typ != ConnectionOpened:
			return fail(RuleFirstOpened, "a connection stream starts with %s", ConnectionOpened)
		case s.Status != StatusNone && typ == ConnectionOpened:
			return fail(RuleAlreadyOpened, "the connection is already open")
		case typ == ConnectionClosed:
			s.Status = StatusClosed
		default:
			s.Status = StatusOpen
		}
		return s, nil
	}
	if s.Status == StatusNone && typ != RequestSubmitted {
		return fail(RuleFirstSubmitted, "a request stream starts with %s", RequestSubmitted)
	}
	switch typ {
	case RequestSubmitted:
		if s.Status != StatusNone {
			return fail(RuleAlreadySubmitted, "the request was already submitted")
		}
		s.Status = StatusQueued
	case RequestStarted:
		p := payload.(*Started)
		if p.Attempt <= s.Attempt {
			return fail(RuleAttemptNotGrowing, "attempt %d does not follow attempt %d", p.Attempt, s.Attempt)
		}
		s.Status, s.Attempt = StatusRunning, p.Attempt
	case RequestProgressed:
		p := payload.(*Progress)
		if s.Status != StatusRunning {
			return fail(RuleProgressNotRunning, "progress needs a started request")
		}
		if p.Percentage < s.Percentage {
			return fail(RulePercentageDown, "percentage %v is below %v", p.Percentage, s.Percentage)
		}
		s.Percentage = p.Percentage
	case RequestCompleted:
		if s.Status != StatusRunning {
			return fail(RuleCompleteNotRunning, "completion needs a started request")
		}
		s.Status, s.Percentage = StatusCompleted, 100
	case RequestFailed:
		s.Status = StatusFailed
	case RequestCancelRequested:
		if s.CancelRequested {
			return fail(RuleCancelTwice, "cancellation was already requested")
		}
		s.CancelRequested = true
	case RequestCancelled:
		s.Status = StatusCancelled
	case RequestTimedOut:
		s.Status = StatusTimedOut
	}
	return s, nil
}

// Fold replays a stream's events into the State after the last one, using
// the same rules as Prepare. It is how a view or a tool derives the lifecycle
// state of a stream from the log.
func Fold(evs []Event) (State, error) {
	var s State
	for _, e := range evs {
		kind, _, err := ParseStream(e.StreamID)
		if err != nil {
			return s, err
		}
		p, err := DecodePayload(e)
		if err != nil {
			return s, err
		}
		next, terr := transition(kind, s, e.Type, p)
		if terr != nil {
			terr.Stream, terr.Version, terr.Type, terr.Status = e.StreamID, e.Version, e.Type, s.Status
			return s, terr
		}
		s = next
	}
	return s, nil
}

// checkUTF8 rejects strings that are not valid UTF-8: a JSON encoder or a
// DynamoDB client would replace the bad bytes, so the stored event would no
// longer match its hash. Every backend therefore refuses them alike.
func checkUTF8(e Event) error {
	m := e.Meta
	for _, f := range [...]struct{ name, v string }{{"id", e.ID}, {"actor", m.Actor}, {"tenant", m.Tenant},
		{"correlationId", m.CorrelationID}, {"causationId", m.CausationID}, {"traceId", m.TraceID}, {"source", m.Source}} {
		if !utf8.ValidString(f.v) {
			return invalid("%s is not valid UTF-8", f.name)
		}
	}
	if !utf8.Valid(e.Data) {
		return invalid("data is not valid UTF-8")
	}
	return nil
}
