package fanout

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"time"

	"github.com/streamer/streamer/events"
	"github.com/streamer/streamer/projections"
)

// plan is one request stream of a batch: its events and the connections
// they go to.
type plan struct {
	requestID string
	stream    string
	evs       []events.Event // in version order, duplicates removed
	targets   []string       // sorted, unique; set by resolve
	err       error          // the targets could not be read
}

// resolveAll resolves the targets of every plan, at most Parallelism at a
// time.
func (f *Fanout) resolveAll(ctx context.Context, plans []*plan) {
	sem := make(chan struct{}, f.cfg.Parallelism)
	var wg sync.WaitGroup
	for _, p := range plans {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			p.targets, p.err = f.targets(ctx, p)
		})
	}
	wg.Wait()
}

// targets is the union of the request's subscribers and its owner's open
// connections, sorted.
func (f *Fanout) targets(ctx context.Context, p *plan) ([]string, error) {
	o, err := f.owner(ctx, p)
	if err != nil {
		return nil, fmt.Errorf("owner of request %s: %w", p.requestID, err)
	}
	var subs, own []string
	err = f.retry(ctx, "subscribers", p.requestID, func() (err error) {
		subs, err = f.cfg.Reader.Subscribers(ctx, p.requestID)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("subscribers of request %s: %w", p.requestID, err)
	}
	err = f.retry(ctx, "user connections", p.requestID, func() (err error) {
		own, err = f.cfg.Reader.UserConnections(ctx, o.Tenant, o.User)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("connections of owner %s/%s of request %s: %w", o.Tenant, o.User, p.requestID, err)
	}
	all := make([]string, 0, len(subs)+len(own))
	all = append(append(all, subs...), own...)
	slices.Sort(all)
	return slices.Compact(all), nil
}

// owner resolves who p's request belongs to: from the cache, else from a
// request.submitted in the batch, else from the request view, else from the
// stream's first event in the log.
func (f *Fanout) owner(ctx context.Context, p *plan) (owner, error) {
	if o, ok := f.owners.get(p.requestID); ok {
		return o, nil
	}
	if first := p.evs[0]; first.Version == 1 {
		o, err := ownerFromSubmitted(first)
		if err != nil {
			return owner{}, err
		}
		f.owners.put(p.requestID, o)
		return o, nil
	}
	var view projections.RequestView
	err := f.retry(ctx, "request view", p.requestID, func() (err error) {
		view, err = f.cfg.Reader.GetRequest(ctx, p.requestID)
		return err
	})
	switch {
	case err == nil && view.Owner != "":
		o := owner{Tenant: view.Tenant, User: view.Owner}
		f.owners.put(p.requestID, o)
		return o, nil
	case err != nil && !errors.Is(err, projections.ErrNotFound):
		return owner{}, err
	}
	// The view does not exist yet (the projector lags behind): the
	// request's first event says.
	var page events.Page
	err = f.retry(ctx, "first event", p.requestID, func() (err error) {
		page, err = f.cfg.Store.Load(ctx, p.stream, 1, 1)
		return err
	})
	if err != nil {
		return owner{}, err
	}
	if len(page.Events) == 0 {
		return owner{}, fmt.Errorf("%w: %s has no first event", events.ErrStreamNotFound, p.stream)
	}
	o, err := ownerFromSubmitted(page.Events[0])
	if err != nil {
		return owner{}, err
	}
	f.owners.put(p.requestID, o)
	return o, nil
}

// ownerFromSubmitted reads the owner from a request's first event.
func ownerFromSubmitted(e events.Event) (owner, error) {
	if e.Type != events.RequestSubmitted {
		return owner{}, fmt.Errorf("%w: first event of %s is %s, not %s", events.ErrInvalidEvent, e.StreamID, e.Type, events.RequestSubmitted)
	}
	s, err := events.PayloadAs[*events.Submitted](e)
	if err != nil {
		return owner{}, err
	}
	o := owner{Tenant: s.Tenant, User: s.Owner}
	if o.Tenant == "" {
		o.Tenant = e.Meta.Tenant
	}
	return o, nil
}

// retry calls fn until it succeeds, fails permanently, the retries are used
// up or ctx ends, sleeping with backoff in between.
func (f *Fanout) retry(ctx context.Context, what, requestID string, fn func() error) error {
	for attempt := 0; ; attempt++ {
		err := fn()
		if err == nil || permanent(err) || attempt >= f.cfg.Retries || ctx.Err() != nil {
			return err
		}
		f.log.DebugContext(ctx, "fanout: retry read", "read", what, "request", requestID, "attempt", attempt+1, "err", err)
		if serr := sleep(ctx, f.backoff(attempt)); serr != nil {
			return errors.Join(err, serr)
		}
	}
}

// permanent reports whether a read error will not go away by retrying.
func permanent(err error) bool {
	return errors.Is(err, projections.ErrNotFound) || errors.Is(err, events.ErrStreamNotFound) ||
		errors.Is(err, events.ErrInvalidEvent)
}

// backoff is the delay before retry attempt (0-based): exponential with full
// jitter, a random duration in [0, min(MaxBackoff, Backoff·2^attempt)).
func (f *Fanout) backoff(attempt int) time.Duration {
	ceiling := MaxBackoff
	if attempt < 31 {
		ceiling = min(MaxBackoff, f.cfg.Backoff<<attempt)
	}
	if ceiling <= 0 {
		return 0
	}
	return rand.N(ceiling)
}

// sleep waits d or until ctx ends.
func sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
