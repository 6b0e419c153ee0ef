package fanout

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/streamer/streamer/events"
	"github.com/streamer/streamer/feed"
)

// Fanout pushes request events to WebSocket connections. It implements
// feed.Consumer and is safe for concurrent use.
type Fanout struct {
	cfg    Config
	log    *slog.Logger
	owners *ownerCache
}

var _ feed.Consumer = (*Fanout)(nil)

// New builds a Fanout; cfg's zero fields take the defaults.
func New(cfg Config) (*Fanout, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	return &Fanout{cfg: cfg, log: cfg.Logger.With("consumer", cfg.Name), owners: newOwnerCache(cfg.OwnerCacheSize)}, nil
}

// Name implements feed.Consumer.
func (f *Fanout) Name() string { return f.cfg.Name }

// item is one event of the batch on its way to its plan's targets.
type item struct {
	ev    events.Event
	plan  *plan
	frame frame
}

// stats are the figures of one batch, logged when it is done.
type stats struct {
	events, requests, connections            int
	posts, retries, gone, dropped, truncated int
}

func (s *stats) add(r seqResult) {
	s.posts += r.posts
	s.retries += r.retries
	s.dropped += r.dropped
	s.truncated += r.truncated
	if r.gone {
		s.gone++
	}
}

// Handle implements feed.Consumer. It posts every request event of evs to
// its targets (connection events are ignored) and returns a Failure only for
// a request stream whose targets could not be read, whose `gone` connection
// could not be recorded in the log, or whose delivery ctx cut short. A post
// that fails on the client side is retried, then dropped and logged, never
// reported.
func (f *Fanout) Handle(ctx context.Context, evs []events.Event) []feed.Failure {
	start := time.Now()
	plans, items := f.plan(ctx, evs)
	if len(plans) == 0 {
		return nil
	}
	st := stats{events: len(items), requests: len(plans)}
	f.resolveAll(ctx, plans)

	// One ordered sequence per connection: the batch order, which is the
	// version order within each request.
	seqs := map[string][]*item{}
	var conns []string
	for _, it := range items {
		if it.plan.err != nil || len(it.plan.targets) == 0 {
			continue
		}
		var err error
		if it.frame, err = buildFrame(it.ev); err != nil {
			f.log.WarnContext(ctx, "fanout: posting the event without its data (truncated)", "request", it.plan.requestID,
				"stream", it.ev.StreamID, "version", it.ev.Version, "type", it.ev.Type, "trace", it.ev.Meta.TraceID, "err", err)
		}
		for _, c := range it.plan.targets {
			if _, seen := seqs[c]; !seen {
				conns = append(conns, c)
			}
			seqs[c] = append(seqs[c], it)
		}
	}
	st.connections = len(conns)
	results := f.deliverAll(ctx, conns, seqs)

	failures := f.failures(ctx, plans, results, &st)
	level := slog.LevelDebug
	if st.gone+st.dropped+len(failures) > 0 {
		level = slog.LevelInfo
	}
	f.log.Log(ctx, level, "fanout: batch", "events", st.events, "requests", st.requests, "connections", st.connections,
		"posts", st.posts, "retries", st.retries, "gone", st.gone, "dropped", st.dropped, "truncated", st.truncated,
		"failedStreams", len(failures), "duration", time.Since(start))
	return failures
}

// failures adds up results into st and builds one Failure per stream that
// is not done: its targets were not read, or, at its first such event, a
// `gone` was not recorded or ctx cut the delivery short.
func (f *Fanout) failures(ctx context.Context, plans []*plan, results []seqResult, st *stats) []feed.Failure {
	firstFailed := map[*plan]*item{}
	why := map[*plan]error{}
	mark := func(it *item, err error) {
		if cur, ok := firstFailed[it.plan]; !ok || it.ev.Version < cur.ev.Version {
			firstFailed[it.plan], why[it.plan] = it, err
		}
	}
	for _, r := range results {
		st.add(r)
		if r.failAt != nil {
			mark(r.failAt, r.failErr)
		}
		for _, it := range r.cut {
			mark(it, fmt.Errorf("delivery to connection %s interrupted: %w", r.conn, context.Cause(ctx)))
		}
	}
	var failures []feed.Failure
	for _, p := range plans {
		switch {
		case p.err != nil:
			f.log.ErrorContext(ctx, "fanout: stream failed: targets not read", "request", p.requestID, "stream", p.stream,
				"version", p.evs[0].Version, "err", p.err)
			failures = append(failures, feed.FailStream(p.evs[0], p.err))
		case firstFailed[p] != nil:
			it := firstFailed[p]
			f.log.ErrorContext(ctx, "fanout: stream failed", "request", p.requestID, "stream", p.stream,
				"version", it.ev.Version, "err", why[p])
			failures = append(failures, feed.FailStream(it.ev, why[p]))
		}
	}
	return failures
}

// plan groups the request events of evs by stream, in order of first
// appearance, and lists them as items in batch order. Connection events,
// events of unknown streams and repeated versions are left out.
func (f *Fanout) plan(ctx context.Context, evs []events.Event) ([]*plan, []*item) {
	byStream := map[string]*plan{}
	var plans []*plan
	var items []*item
	for _, e := range evs {
		kind, id, err := events.ParseStream(e.StreamID)
		if err != nil {
			f.log.WarnContext(ctx, "fanout: event of an invalid stream skipped", "stream", e.StreamID, "version", e.Version, "err", err)
			continue
		}
		if kind != events.KindRequest {
			continue
		}
		p := byStream[e.StreamID]
		if p == nil {
			p = &plan{requestID: id, stream: e.StreamID}
			byStream[e.StreamID] = p
			plans = append(plans, p)
		} else if e.Version <= p.evs[len(p.evs)-1].Version {
			continue // delivered twice in one batch
		}
		p.evs = append(p.evs, e)
		items = append(items, &item{ev: e, plan: p})
	}
	return plans, items
}
