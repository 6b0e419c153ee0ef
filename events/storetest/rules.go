package storetest

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/streamer/streamer/events"
)

func testLifecycle(t *testing.T, h Harness) {
	ctx := context.Background()
	s := h.New(t)
	ev := func(typ string, p any) events.Event { return events.MustNew(typ, p, meta) }
	completed := ev(events.RequestCompleted, events.Completed{Result: []byte(`{"ok":true}`)})
	opened := ev(events.ConnectionOpened, events.Opened{User: "u", Tenant: "t"})
	cases := []struct {
		name   string
		setup  []events.Event // appended first, must succeed
		stream string         // "request" or "connection"
		bad    events.Event
		rule   events.Rule
	}{
		{"progress before start", []events.Event{submitted()}, "request", progress(10, ""), events.RuleProgressNotRunning},
		{"progress first", nil, "request", progress(10, ""), events.RuleFirstSubmitted},
		{"submitted twice", []events.Event{submitted()}, "request", submitted(), events.RuleAlreadySubmitted},
		{"percentage decreases", []events.Event{submitted(), started(1), progress(60, "")}, "request", progress(59.9, ""), events.RulePercentageDown},
		{"nothing after completed", []events.Event{submitted(), started(1), completed}, "request", progress(100, ""), events.RuleAfterTerminal},
		{"nothing after failed", []events.Event{submitted(), ev(events.RequestFailed, events.Failed{Code: "boom"})}, "request", started(1), events.RuleAfterTerminal},
		{"nothing after cancelled", []events.Event{submitted(), ev(events.RequestCancelled, events.Cancelled{})}, "request", completed, events.RuleAfterTerminal},
		{"nothing after timed out", []events.Event{submitted(), ev(events.RequestTimedOut, events.TimedOut{Deadline: time.Now()})}, "request", started(1), events.RuleAfterTerminal},
		{"complete before start", []events.Event{submitted()}, "request", completed, events.RuleCompleteNotRunning},
		{"attempt must grow", []events.Event{submitted(), started(2)}, "request", started(2), events.RuleAttemptNotGrowing},
		{"cancel requested twice", []events.Event{submitted(), ev(events.RequestCancelRequested, events.CancelRequested{})}, "request", ev(events.RequestCancelRequested, events.CancelRequested{}), events.RuleCancelTwice},
		{"connection starts with opened", nil, "connection", ev(events.ConnectionSubscribed, events.Subscribed{RequestID: "r"}), events.RuleFirstOpened},
		{"opened twice", []events.Event{opened}, "connection", opened, events.RuleAlreadyOpened},
		{"nothing after closed", []events.Event{opened, ev(events.ConnectionClosed, events.Closed{Reason: events.CloseGone})}, "connection", ev(events.ConnectionSubscribed, events.Subscribed{RequestID: "r"}), events.RuleAfterTerminal},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			stream := newStream(t)
			if tc.stream == "connection" {
				stream = events.ConnectionStream(strings.TrimPrefix(stream, events.RequestStreamPrefix))
			}
			if len(tc.setup) > 0 {
				if _, err := s.Append(ctx, stream, 0, tc.setup...); err != nil {
					t.Fatalf("setup: %v", err)
				}
			}
			_, err := s.Append(ctx, stream, int64(len(tc.setup)), tc.bad)
			mustFail(t, err, events.ErrInvalidTransition)
			var te *events.TransitionError
			if !errors.As(err, &te) || te.Rule != tc.rule {
				t.Fatalf("error %v names rule %v, want %s", err, te, tc.rule)
			}
			if te.Version != int64(len(tc.setup)+1) || te.Stream != stream {
				t.Fatalf("TransitionError at %s@%d, want %s@%d", te.Stream, te.Version, stream, len(tc.setup)+1)
			}
			if p, err := s.Load(ctx, stream, 1, 0); len(p.Events) != len(tc.setup) && !(len(tc.setup) == 0 && errors.Is(err, events.ErrStreamNotFound)) {
				t.Fatalf("rejected event was written: %d events, err %v", len(p.Events), err)
			}
		})
	}
	t.Run("event type of the wrong stream kind", func(t *testing.T) {
		_, err := s.Append(ctx, newStream(t), 0, opened)
		mustFail(t, err, events.ErrInvalidEvent)
	})
	t.Run("bad stream name", func(t *testing.T) {
		_, err := s.Append(ctx, "orders/1", 0, submitted())
		mustFail(t, err, events.ErrInvalidEvent)
	})
	t.Run("invalid UTF-8", func(t *testing.T) {
		bad := progress(1, "")
		bad.Data = []byte("{\"percentage\":1,\"message\":\"\xff\xfe\"}")
		stream := running(t, s)
		_, err := s.Append(ctx, stream, 2, bad)
		mustFail(t, err, events.ErrInvalidEvent)
		badMeta := progress(1, "")
		badMeta.Meta.Actor = "\xc3\x28"
		_, err = s.Append(ctx, stream, 2, badMeta)
		mustFail(t, err, events.ErrInvalidEvent)
	})
	t.Run("payload fails validation", func(t *testing.T) {
		_, err := s.Append(ctx, newStream(t), 0, ev(events.RequestSubmitted, events.Submitted{Owner: "u"}))
		mustFail(t, err, events.ErrInvalidEvent)
	})
}

func testHashChain(t *testing.T, h Harness) {
	ctx := context.Background()
	s := h.New(t)
	stream := running(t, s)
	head := int64(2)
	for i := 0; i < 20; i++ {
		batch := []events.Event{}
		for j := 0; j <= i%3; j++ {
			batch = append(batch, progress(float64(i), ""))
		}
		if _, err := s.Append(ctx, stream, head, batch...); err != nil {
			t.Fatal(err)
		}
		head += int64(len(batch))
	}
	evs := loadAll(t, s, stream)
	for i := 1; i < len(evs); i++ {
		if evs[i].PrevHash != evs[i-1].Hash {
			t.Fatalf("version %d: prevHash is not the hash of version %d", evs[i].Version, evs[i-1].Version)
		}
	}
	if err := events.VerifyStream(ctx, s, stream); err != nil {
		t.Fatalf("intact chain does not verify: %v", err)
	}
	h.Tamper(t, s, stream, 7, []byte(`{"percentage":99,"message":"rewritten"}`))
	err := events.VerifyStream(ctx, s, stream)
	var ce *events.ChainError
	if !errors.As(err, &ce) || !errors.Is(err, events.ErrChainBroken) {
		t.Fatalf("tampered chain: %v, want a *events.ChainError", err)
	}
	if ce.Version != 7 || ce.Stream != stream {
		t.Fatalf("tamper detected at %s@%d, want version 7", ce.Stream, ce.Version)
	}
}

func testSizeLimits(t *testing.T, h Harness) {
	ctx := context.Background()
	s := h.New(t)
	stream := running(t, s)
	_, err := s.Append(ctx, stream, 2, bigProgress(1, 401*1024))
	mustFail(t, err, events.ErrEventTooLarge)
	if !strings.Contains(err.Error(), "400 KB") {
		t.Errorf("error %q does not say which limit", err)
	}
	if _, err := s.Append(ctx, stream, 2, bigProgress(1, 350*1024)); err != nil {
		t.Fatalf("a 350 KB event is within the limit: %v", err)
	}
	many := make([]events.Event, events.MaxAppendEvents+1)
	for i := range many {
		many[i] = progress(2, "")
	}
	_, err = s.Append(ctx, stream, 3, many...)
	mustFail(t, err, events.ErrTooManyEvents)
	if _, err := s.Append(ctx, stream, 3, many[:events.MaxAppendEvents]...); err != nil {
		t.Fatalf("an append of %d events is within the limit: %v", events.MaxAppendEvents, err)
	}
	total := make([]events.Event, 12)
	for i := range total {
		total[i] = bigProgress(3, 350*1024)
	}
	_, err = s.Append(ctx, stream, 3+events.MaxAppendEvents, total...)
	mustFail(t, err, events.ErrEventTooLarge)
	if got := loadAll(t, s, stream); lastVersion(got) != 3+events.MaxAppendEvents {
		t.Fatalf("rejected appends wrote: last version %d", lastVersion(got))
	}
}
