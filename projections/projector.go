package projections

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/streamer/streamer/events"
	"github.com/streamer/streamer/feed"
)

// Projector is the feed.Consumer that keeps the request and connection
// views current. One projector handles both kinds: they come from the same
// feed (on AWS the same DynamoDB stream, whose readers are limited to two),
// and a batch mixes them anyway; each stream is dispatched on its kind.
//
// For each stream of a batch it loads the view, applies the batch's events
// to it under the version guard (skipping duplicates, filling gaps from the
// log), and writes the view once, guarded on the version it loaded. A
// guarded write that loses to a concurrent writer is reloaded and retried a
// bounded number of times. While a rebuild runs, the projector writes the
// rebuilding generation first, then the active one, with stores fenced on
// the Meta epoch so that no write aimed at an outdated set of generations
// lands.
type Projector struct {
	log         events.Store
	gens        Generations
	name        string
	ttl         TTL
	retries     int
	concurrency int
	logger      *slog.Logger

	mu     sync.Mutex
	stores map[string]fencedStore // by generation
}

type fencedStore struct {
	fence int64
	store ViewStore
}

var _ feed.Consumer = (*Projector)(nil)

// ProjectorOption tunes a Projector.
type ProjectorOption func(*Projector)

// WithName sets the consumer name (its feed checkpoint key); default
// "projector".
func WithName(name string) ProjectorOption { return func(p *Projector) { p.name = name } }

// WithTTL sets the connection view TTL; zero fields keep the defaults.
func WithTTL(ttl TTL) ProjectorOption { return func(p *Projector) { p.ttl = ttl } }

// WithRetries bounds the retries of one stream after a version conflict or
// a fenced write; default 8.
func WithRetries(n int) ProjectorOption { return func(p *Projector) { p.retries = n } }

// WithConcurrency sets how many streams of a batch are projected in
// parallel; default 4.
func WithConcurrency(n int) ProjectorOption { return func(p *Projector) { p.concurrency = n } }

// WithLogger sets the logger; default slog.Default().
func WithLogger(l *slog.Logger) ProjectorOption { return func(p *Projector) { p.logger = l } }

// NewProjector returns a projector that reads missing events from log and
// writes the views of gens.
func NewProjector(log events.Store, gens Generations, opts ...ProjectorOption) *Projector {
	p := &Projector{log: log, gens: gens, name: "projector", retries: 8, concurrency: 4, stores: map[string]fencedStore{}}
	for _, o := range opts {
		o(p)
	}
	p.ttl = p.ttl.withDefaults()
	p.retries = max(p.retries, 0)
	p.concurrency = max(p.concurrency, 1)
	if p.logger == nil {
		p.logger = slog.Default()
	}
	return p
}

// Name implements feed.Consumer.
func (p *Projector) Name() string { return p.name }

// Handle implements feed.Consumer: it projects every stream of evs and
// returns one Failure per stream it could not bring up to date, naming the
// first event of that stream the views do not reflect yet.
func (p *Projector) Handle(ctx context.Context, evs []events.Event) []feed.Failure {
	order, byStream := groupByStream(evs)
	if len(order) == 0 {
		return nil
	}
	meta, err := Bootstrap(ctx, p.gens)
	if err != nil {
		p.logger.ErrorContext(ctx, "projector: resolve generations", "err", err)
		var failures []feed.Failure
		for _, s := range order {
			if f := p.failure(ctx, nil, s, byStream[s], err); f != nil {
				failures = append(failures, *f)
			}
		}
		return failures
	}
	results := make([]*feed.Failure, len(order))
	sem := make(chan struct{}, p.concurrency)
	var wg sync.WaitGroup
	for i, stream := range order {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			results[i] = p.handleStream(ctx, meta, stream, byStream[stream])
		})
	}
	wg.Wait()
	var failures []feed.Failure
	for _, f := range results {
		if f != nil {
			failures = append(failures, *f)
		}
	}
	return failures
}

// handleStream brings every target generation's view of stream up to the
// batch's events, or returns the failure to report.
func (p *Projector) handleStream(ctx context.Context, meta Meta, stream string, evs []events.Event) *feed.Failure {
	var err error
	for attempt := 0; ; attempt++ {
		if err = p.writeTargets(ctx, meta, stream, evs); err == nil {
			return nil
		}
		retryable := errors.Is(err, ErrViewConflict) || errors.Is(err, ErrFenced)
		if !retryable || attempt >= p.retries || ctx.Err() != nil {
			break
		}
		p.logger.DebugContext(ctx, "projector: retry stream", "stream", stream, "attempt", attempt+1, "err", err)
		if errors.Is(err, ErrFenced) {
			m, merr := Bootstrap(ctx, p.gens)
			if merr != nil {
				err = errors.Join(err, merr)
				break
			}
			meta = m
		}
		if serr := sleep(ctx, backoff(attempt)); serr != nil {
			err = errors.Join(err, serr)
			break
		}
	}
	return p.failure(ctx, &meta, stream, evs, err)
}

// failure builds the Failure of a stream that failed with err: it names
// the first event of evs the views do not reflect, read even when ctx was
// cancelled (briefly), or nil when they reflect every one after all.
func (p *Projector) failure(ctx context.Context, meta *Meta, stream string, evs []events.Event, err error) *feed.Failure {
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	first := &evs[0]
	if meta == nil {
		if m, merr := Bootstrap(rctx, p.gens); merr == nil {
			meta = &m
		}
	}
	if meta != nil {
		first = p.firstUnreflected(rctx, *meta, stream, evs)
	}
	if first == nil {
		p.logger.InfoContext(ctx, "projector: stream already up to date despite an error", "stream", stream, "err", err)
		return nil
	}
	p.logger.ErrorContext(ctx, "projector: stream failed", "stream", stream, "version", first.Version, "err", err)
	f := feed.FailStream(*first, err)
	return &f
}

// writeTargets projects the stream into each target generation in order.
func (p *Projector) writeTargets(ctx context.Context, meta Meta, stream string, evs []events.Event) error {
	for _, gen := range meta.Targets() {
		vs, err := p.store(ctx, gen, meta.Epoch)
		if err != nil {
			return err
		}
		if err := p.project(ctx, vs, stream, evs); err != nil {
			return fmt.Errorf("project %s into generation %s: %w", stream, gen, err)
		}
	}
	return nil
}

// project loads one view, applies evs and writes it once.
func (p *Projector) project(ctx context.Context, vs ViewStore, stream string, evs []events.Event) error {
	sv, err := newStreamView(stream)
	if err != nil {
		return err
	}
	if err := sv.load(ctx, vs); err != nil {
		return err
	}
	base := sv.version()
	last := evs[len(evs)-1].Version
	if base >= last {
		p.logger.DebugContext(ctx, "projector: duplicates skipped", "stream", stream, "version", last, "viewVersion", base, "generation", vs.Generation())
		return nil
	}
	if err := advance(ctx, p.log, &sv, evs, p.ttl); err != nil {
		return err
	}
	if err := sv.put(ctx, vs, base); err != nil {
		return err
	}
	p.logger.DebugContext(ctx, "projector: view written", "stream", stream, "version", sv.version(), "from", base, "generation", vs.Generation())
	return nil
}

// firstUnreflected is the first event of evs above the lowest version any
// target generation holds; the first event when that cannot be read, nil
// when every event is reflected.
func (p *Projector) firstUnreflected(ctx context.Context, meta Meta, stream string, evs []events.Event) *events.Event {
	reflected := int64(-1)
	for _, gen := range meta.Targets() {
		sv, err := newStreamView(stream)
		if err != nil {
			return &evs[0]
		}
		vs, err := p.store(ctx, gen, meta.Epoch)
		if err != nil {
			return &evs[0]
		}
		if err := sv.load(ctx, vs); err != nil {
			return &evs[0]
		}
		if reflected < 0 || sv.version() < reflected {
			reflected = sv.version()
		}
	}
	for i := range evs {
		if evs[i].Version > reflected {
			return &evs[i]
		}
	}
	return nil
}

// store returns the handle of gen fenced on epoch.
func (p *Projector) store(ctx context.Context, gen string, epoch int64) (ViewStore, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if fs, ok := p.stores[gen]; ok && fs.fence == epoch {
		return fs.store, nil
	}
	vs, err := p.gens.Open(ctx, gen, epoch)
	if err != nil {
		return nil, fmt.Errorf("open generation %s: %w", gen, err)
	}
	p.stores[gen] = fencedStore{fence: epoch, store: vs}
	return vs, nil
}

// groupByStream splits evs by stream, keeping each stream's order and the
// streams in order of first appearance.
func groupByStream(evs []events.Event) ([]string, map[string][]events.Event) {
	var order []string
	by := map[string][]events.Event{}
	for _, e := range evs {
		if _, ok := by[e.StreamID]; !ok {
			order = append(order, e.StreamID)
		}
		by[e.StreamID] = append(by[e.StreamID], e)
	}
	return order, by
}

// backoff is the pause before retry attempt+1: exponential from 1 ms,
// capped at 128 ms, with full jitter.
func backoff(attempt int) time.Duration {
	d := time.Millisecond << min(attempt, 7)
	return time.Duration(rand.Int64N(int64(d)) + 1)
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
