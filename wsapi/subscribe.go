package wsapi

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/streamer/streamer/events"
	"github.com/streamer/streamer/projections"
	"github.com/streamer/streamer/protocol"
)

// Backoff of the wait for a subscription to become visible in the view.
const (
	visibleMinDelay = 5 * time.Millisecond
	visibleMaxDelay = 200 * time.Millisecond
)

// subscribe answers subscribe{requestId, fromVersion}: a reader of the
// request follows it from fromVersion on.
func (c *call) subscribe(ctx context.Context) error {
	if _, err := c.readable(ctx); err != nil {
		return err
	}
	ack := protocol.Outbound{Type: protocol.TypeAck, Action: protocol.ActionSubscribe, RequestID: c.in.RequestID, ClientRequestID: c.in.ClientRequestID}
	return c.follow(ctx, c.in.RequestID, c.in.FromVersion, nil, &ack)
}

// follow makes the connection follow request id, of which the client
// holds versions 1..from, without loss:
//
//  1. unless the request has already ended, append connection.subscribed
//     and wait until the connection view shows it — from then on the
//     fan-out posts every new event of the request to this connection;
//  2. post first (queued, for a submission), if any;
//  3. replay from the log every event after from up to the head — the
//     log read happens after step 1, so every event is either in the
//     replay or appended later and fanned out (possibly both: clients
//     drop versions they hold);
//  4. post last (the ack of subscribe), if any, with the head's version.
//
// A request that has ended gets no subscription: nothing can follow its
// terminal event, so the replay is complete on its own.
func (c *call) follow(ctx context.Context, id string, from int64, first, last *protocol.Outbound) error {
	stream := events.RequestStream(id)
	evs, err := events.LoadAll(ctx, c.a.cfg.Store, stream, max(from, 1))
	if err != nil {
		return notFound(id, err)
	}
	if len(evs) == 0 { // from is past the head: the head tells whether it ended
		if evs, err = events.LoadAll(ctx, c.a.cfg.Store, stream, 1); err != nil {
			return notFound(id, err)
		}
	}
	if len(evs) == 0 || !events.IsTerminal(evs[len(evs)-1].Type) {
		if err := c.subscribeConnection(ctx, id, from, first == nil); err != nil {
			return err
		}
		more, err := events.LoadAll(ctx, c.a.cfg.Store, stream, nextVersion(evs))
		if err != nil {
			return notFound(id, err)
		}
		evs = append(evs, more...)
	}
	if first != nil && !c.s.post(ctx, *first) {
		return nil
	}
	var head int64
	for _, e := range evs {
		head = e.Version
		if e.Version <= from {
			continue
		}
		f, err := protocol.EventFrame(e)
		if err != nil {
			return fmt.Errorf("replay %s: %w", id, err)
		}
		if !c.s.post(ctx, f) {
			return nil
		}
	}
	if last != nil {
		f := *last
		f.Version = head
		c.s.post(ctx, f)
	}
	return nil
}

// nextVersion is the version after the last of evs (1 for none).
func nextVersion(evs []events.Event) int64 {
	if len(evs) == 0 {
		return 1
	}
	return evs[len(evs)-1].Version + 1
}

// notFound turns a missing request stream into the not_found refusal.
func notFound(id string, err error) error {
	if errors.Is(err, events.ErrStreamNotFound) {
		return fmt.Errorf("request %s: %w", id, errNoRequest)
	}
	return fmt.Errorf("load request %s: %w", id, err)
}

// errNoRequest: the request stream does not exist.
var errNoRequest = protocol.Errorf(protocol.CodeNotFound, "no such request")

// subscribeConnection records that the connection follows id (from
// version from) and waits until the connection view shows it. strict
// enforces MaxSubscriptions; a submission is not strict: over the limit
// it records no subscription, because the fan-out posts a request's
// events to every connection of its owner anyway, and waits only until the
// connection itself is visible.
func (c *call) subscribeConnection(ctx context.Context, id string, from int64, strict bool) error {
	for range appendRetries {
		st, err := c.a.connection(ctx, c.connID, true)
		if err != nil {
			return err
		}
		if !st.view.Open() {
			return errConnectionClosed
		}
		target := st.view.Version
		_, subscribed := st.view.Subscriptions[id]
		switch {
		case subscribed: // visible once the view reaches the fold's version
		case len(st.view.Subscriptions) >= c.a.cfg.MaxSubscriptions:
			released, err := c.releaseEnded(ctx, st)
			if err != nil {
				return err
			}
			if released {
				continue // count again from the log
			}
			if strict {
				return protocol.Errorf(protocol.CodeTooManySubscriptions, "a connection follows at most %d requests: unsubscribe first", c.a.cfg.MaxSubscriptions)
			}
			c.log.WarnContext(ctx, "wsapi: subscription limit reached; relying on the owner's live events")
		default:
			e, err := events.New(events.ConnectionSubscribed, events.Subscribed{RequestID: id, FromVersion: from}, c.meta(c.connID))
			if err != nil {
				return err
			}
			stored, err := c.a.cfg.Store.Append(ctx, events.ConnectionStream(c.connID), st.view.Version, e)
			switch {
			case errors.Is(err, events.ErrVersionConflict):
				continue
			case errors.Is(err, events.ErrInvalidTransition):
				return errConnectionClosed
			case err != nil:
				return fmt.Errorf("subscribe %s to %s: %w", c.connID, id, err)
			}
			target = stored[0].Version
			c.remember(st, stored)
		}
		return c.waitVisible(ctx, target)
	}
	return errBusy
}

// releaseEnded unsubscribes the connection, in one append, from the
// requests it follows that have ended (by their view: an ended request
// never runs again, so a terminal view is final). Subscriptions are not
// dropped when a request ends, so a busy connection would otherwise reach
// MaxSubscriptions with requests that will never send another event.
// released reports that something changed (or the stream moved on): the
// caller counts again.
func (c *call) releaseEnded(ctx context.Context, st connState) (released bool, err error) {
	var evs []events.Event
	for _, id := range slices.Sorted(maps.Keys(st.view.Subscriptions)) {
		v, err := c.a.cfg.Reader.GetRequest(ctx, id)
		if err != nil || !v.Terminal() {
			continue
		}
		e, err := events.New(events.ConnectionUnsubscribed, events.Unsubscribed{RequestID: id}, c.meta(c.connID))
		if err != nil {
			return false, err
		}
		evs = append(evs, e)
	}
	if len(evs) == 0 {
		return false, nil
	}
	stored, err := c.a.cfg.Store.Append(ctx, events.ConnectionStream(c.connID), st.view.Version, evs...)
	switch {
	case errors.Is(err, events.ErrVersionConflict):
		return true, nil
	case errors.Is(err, events.ErrInvalidTransition):
		return false, errConnectionClosed
	case err != nil:
		return false, fmt.Errorf("release ended subscriptions of %s: %w", c.connID, err)
	}
	c.log.InfoContext(ctx, "wsapi: released subscriptions of ended requests", "count", len(stored))
	c.remember(st, stored)
	return true, nil
}

// remember folds events just appended to the connection stream into the
// cached state.
func (c *call) remember(st connState, stored []events.Event) {
	for _, e := range stored {
		v, err := projections.ApplyConnection(st.view, e, projections.TTL{})
		if err != nil {
			return
		}
		st.view = v
	}
	c.a.conns.put(c.connID, st, func(old connState) bool { return old.view.Version > st.view.Version })
}

// waitVisible waits until the connection view is at version target or
// later, polling with a growing delay for at most SubscribeWait.
func (c *call) waitVisible(ctx context.Context, target int64) error {
	wctx, cancel := context.WithTimeout(ctx, c.a.cfg.SubscribeWait)
	defer cancel()
	delay := visibleMinDelay
	var lastErr error
	for {
		v, err := c.a.cfg.Reader.GetConnection(wctx, c.connID)
		switch {
		case err == nil && v.Version >= target:
			return nil
		case err != nil && !errors.Is(err, projections.ErrNotFound) && wctx.Err() == nil:
			lastErr = err
		}
		t := time.NewTimer(delay)
		select {
		case <-wctx.Done():
			t.Stop()
			if ctx.Err() != nil {
				return ctx.Err()
			}
			if lastErr != nil {
				return fmt.Errorf("connection view of %s: %w: %w", c.connID, events.ErrTransient, lastErr)
			}
			c.log.WarnContext(ctx, "wsapi: subscription not visible in time", "target_version", target, "wait", c.a.cfg.SubscribeWait)
			e := protocol.Errorf(protocol.CodeTimeout, "the subscription was recorded but did not become visible within %s: subscribe again", c.a.cfg.SubscribeWait)
			e.Retryable = true
			return e
		case <-t.C:
		}
		delay = min(2*delay, visibleMaxDelay)
	}
}

// unsubscribe answers unsubscribe{requestId}: the connection stops
// following the request. Not following it is no error.
func (c *call) unsubscribe(ctx context.Context) error {
	ack := protocol.Outbound{Type: protocol.TypeAck, Action: protocol.ActionUnsubscribe, RequestID: c.in.RequestID, ClientRequestID: c.in.ClientRequestID}
	for range appendRetries {
		st, err := c.a.connection(ctx, c.connID, true)
		if err != nil {
			return err
		}
		if !st.view.Open() {
			return errConnectionClosed
		}
		if _, ok := st.view.Subscriptions[c.in.RequestID]; !ok {
			c.s.post(ctx, ack)
			return nil
		}
		e, err := events.New(events.ConnectionUnsubscribed, events.Unsubscribed{RequestID: c.in.RequestID}, c.meta(c.connID))
		if err != nil {
			return err
		}
		stored, err := c.a.cfg.Store.Append(ctx, events.ConnectionStream(c.connID), st.view.Version, e)
		switch {
		case errors.Is(err, events.ErrVersionConflict):
			continue
		case errors.Is(err, events.ErrInvalidTransition):
			return errConnectionClosed
		case err != nil:
			return fmt.Errorf("unsubscribe %s from %s: %w", c.connID, c.in.RequestID, err)
		}
		c.remember(st, stored)
		c.s.post(ctx, ack)
		return nil
	}
	return errBusy
}
