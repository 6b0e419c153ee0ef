package bus_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/streamer/streamer/bus"
	"github.com/streamer/streamer/bus/pattern"
	"github.com/streamer/streamer/events"
	"github.com/streamer/streamer/feed"
)

// ev is an event of stream s at version v (only the fields the bus looks
// at).
func ev(s string, v int64) events.Event {
	return events.Event{ID: fmt.Sprintf("%s-%d", s, v), StreamID: events.RequestStream(s), Version: v, Type: events.RequestProgressed,
		SchemaVersion: 2, Time: time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC), Data: json.RawMessage(`{"percentage":1}`)}
}

// fakePublisher records what it publishes and fails the events in fail.
type fakePublisher struct {
	published []string
	fail      map[string]error
	plain     error // returned as is (not a PublishError) when set
}

func (p *fakePublisher) Publish(_ context.Context, evs []events.Event) error {
	if p.plain != nil {
		return p.plain
	}
	var pe bus.PublishError
	for _, e := range evs {
		if err, ok := p.fail[e.ID]; ok {
			pe.Failed = append(pe.Failed, bus.Failed{Event: e, Err: err})
			continue
		}
		p.published = append(p.published, e.ID)
	}
	if len(pe.Failed) > 0 {
		return &pe
	}
	return nil
}

// consumer fails the given streams from the given versions.
func consumer(failFrom map[string]int64) feed.Consumer {
	return feed.ConsumerFunc{ConsumerName: "projector", Fn: func(_ context.Context, evs []events.Event) []feed.Failure {
		var out []feed.Failure
		done := map[string]bool{}
		for _, e := range evs {
			if v, ok := failFrom[e.StreamID]; ok && e.Version >= v && !done[e.StreamID] {
				out = append(out, feed.FailStream(e, errors.New("view write failed")))
				done[e.StreamID] = true
			}
		}
		return out
	}}
}

func TestPublishAfter(t *testing.T) {
	a, b, c := events.RequestStream("a"), events.RequestStream("b"), events.RequestStream("c")
	batch := []events.Event{ev("a", 1), ev("b", 1), ev("a", 2), ev("c", 1), ev("b", 2), ev("a", 3), ev("c", 2)}
	boom := errors.New("bus down")
	for _, tc := range []struct {
		name      string
		failFrom  map[string]int64 // projector failures
		pubFail   []string         // event IDs the bus refuses
		plain     error
		published []string
		failures  map[string]int64 // stream → version the feed must redeliver from
	}{
		{name: "all good",
			published: []string{"a-1", "b-1", "a-2", "c-1", "b-2", "a-3", "c-2"}},
		{name: "projector failure is not published", failFrom: map[string]int64{a: 2},
			published: []string{"a-1", "b-1", "c-1", "b-2", "c-2"}, failures: map[string]int64{a: 2}},
		{name: "publish failure fails the stream from that event", pubFail: []string{"b-1"},
			published: []string{"a-1", "a-2", "c-1", "b-2", "a-3", "c-2"}, failures: map[string]int64{b: 1}},
		{name: "earliest failure of a stream wins", pubFail: []string{"c-2", "c-1"},
			published: []string{"a-1", "b-1", "a-2", "b-2", "a-3"}, failures: map[string]int64{c: 1}},
		{name: "publish failure before a projector failure", failFrom: map[string]int64{a: 3}, pubFail: []string{"a-1"},
			published: []string{"b-1", "a-2", "c-1", "b-2", "c-2"}, failures: map[string]int64{a: 1}},
		{name: "a publisher without details fails everything it was given", failFrom: map[string]int64{c: 1}, plain: boom,
			failures: map[string]int64{a: 1, b: 1, c: 1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pub := &fakePublisher{fail: map[string]error{}, plain: tc.plain}
			for _, id := range tc.pubFail {
				pub.fail[id] = boom
			}
			c := bus.PublishAfter(consumer(tc.failFrom), pub)
			if c.Name() != "projector" {
				t.Fatalf("name %q", c.Name())
			}
			got := c.Handle(context.Background(), batch)
			if strings.Join(pub.published, ",") != strings.Join(tc.published, ",") {
				t.Fatalf("published %v, want %v", pub.published, tc.published)
			}
			if len(got) != len(tc.failures) {
				t.Fatalf("failures %+v, want %v", got, tc.failures)
			}
			for _, f := range got {
				want, ok := tc.failures[f.Stream]
				if !ok || f.Version != want || f.EventID != fmt.Sprintf("%s-%d", strings.TrimPrefix(f.Stream, "request/"), want) || f.Err == nil {
					t.Fatalf("failure %+v, want %s from %d", f, f.Stream, want)
				}
			}
		})
	}
}

func TestPublishError(t *testing.T) {
	cause := errors.New("throttled")
	err := error(&bus.PublishError{Failed: []bus.Failed{{Event: ev("a", 1), Err: cause}, {Event: ev("a", 2), Err: cause},
		{Event: ev("a", 3), Err: cause}, {Event: ev("a", 4), Err: cause}, {Event: ev("a", 5), Err: cause}}})
	if !errors.Is(err, bus.ErrNotPublished) || !errors.Is(err, cause) {
		t.Fatalf("%v does not match its sentinel and cause", err)
	}
	var pe *bus.PublishError
	if !errors.As(err, &pe) || len(pe.IDs()) != 5 || pe.IDs()[4] != "a-5" {
		t.Fatalf("IDs %v", pe.IDs())
	}
	if msg := err.Error(); !strings.HasPrefix(msg, "5 event(s) not published") || !strings.Contains(msg, "and 2 more") {
		t.Fatalf("message %q", msg)
	}
}

func TestProcessorPattern(t *testing.T) {
	for _, src := range []string{"streamer", "acme.streamer"} {
		p := pattern.MustCompile(bus.ProcessorPatternFor(src))
		for _, tc := range []struct {
			source, detailType string
			want               bool
		}{
			{src, events.RequestSubmitted, true},
			{src, events.RequestCompleted, false},
			{"other", events.RequestSubmitted, false},
		} {
			evJSON := fmt.Sprintf(`{"source":%q,"detail-type":%q,"detail":{}}`, tc.source, tc.detailType)
			if got, _ := p.Match([]byte(evJSON)); got != tc.want {
				t.Errorf("%s: %s from %s: %v, want %v", bus.ProcessorPatternFor(src), tc.detailType, tc.source, got, tc.want)
			}
		}
	}
	var a, b map[string][]string
	if json.Unmarshal([]byte(bus.ProcessorPattern), &a) != nil || json.Unmarshal([]byte(bus.ProcessorPatternFor(bus.DefaultSource)), &b) != nil ||
		fmt.Sprint(a) != fmt.Sprint(b) {
		t.Fatalf("ProcessorPattern %s differs from ProcessorPatternFor(default) %s", bus.ProcessorPattern, bus.ProcessorPatternFor(bus.DefaultSource))
	}
}

func TestDetailForms(t *testing.T) {
	e := ev("r1", 3)
	e.Hash = strings.Repeat("a", 64)
	full, err := bus.Detail(e)
	if err != nil {
		t.Fatal(err)
	}
	dec, err := events.Decode(full)
	if err != nil || dec.ID != e.ID || dec.Hash != e.Hash {
		t.Fatalf("full detail does not decode back: %v", err)
	}
	ref, err := bus.RefDetailOf(e)
	if err != nil {
		t.Fatal(err)
	}
	var rd bus.RefDetail
	if err := json.Unmarshal(ref, &rd); err != nil || rd.Ref.Stream != e.StreamID || rd.Ref.Version != 3 || rd.ID != e.ID || rd.Type != e.Type || !rd.Time.Equal(e.Time) {
		t.Fatalf("ref detail %s: %v", ref, err)
	}
	// 14 for Time plus the UTF-8 bytes of source, detail-type, detail and
	// resources.
	if got := bus.EntrySize("streamer", "request.progress", []byte(`{"é":1}`), true, []string{"arn:x"}); got != 14+8+16+8+5 {
		t.Fatalf("EntrySize = %d", got)
	}
	eb := bus.EventBridgeEvent(e, "id-1", "streamer", "123", "local", full)
	if eb.DetailType != e.Type || eb.Time.Nanosecond() != 0 || eb.Resources == nil || eb.Version != "0" {
		t.Fatalf("EventBridgeEvent %+v", eb)
	}
}

func TestCancelPattern(t *testing.T) {
	p := pattern.MustCompile(bus.CancelPattern)
	for _, tc := range []struct {
		source, detailType string
		want               bool
	}{
		{bus.DefaultSource, events.RequestCancelRequested, true},
		{bus.DefaultSource, events.RequestCancelled, false},
		{bus.DefaultSource, events.RequestSubmitted, false},
		{"other", events.RequestCancelRequested, false},
	} {
		evJSON := fmt.Sprintf(`{"source":%q,"detail-type":%q,"detail":{}}`, tc.source, tc.detailType)
		if got, _ := p.Match([]byte(evJSON)); got != tc.want {
			t.Errorf("%s from %s: %v, want %v", tc.detailType, tc.source, got, tc.want)
		}
	}
}
