package client

import (
	"cmp"
	"context"
	"encoding/json"
	"slices"
	"sync"
	"time"

	"github.com/streamer/streamer/protocol"
)

// follower is one Request or Follow waiting for a request's end. The reader
// orders its frames (seq) under Client.mu and queues what is deliverable;
// the waiting goroutine takes the queue and runs the callbacks.
type follower struct {
	// Under Client.mu.
	requestID   string
	seq         sequencer
	subCRID     string      // clientRequestId of the unanswered subscribe; "" if none
	resyncs     int         // re-subscriptions in a row that delivered nothing
	unknownConn int         // subscribes refused as unauthorized (connection unknown), each answered by a reconnect
	timer       *time.Timer // a delayed re-subscription
	registered  bool        // in Client.follows
	done        bool        // retired: no frame reaches it any more

	qmu    sync.Mutex
	queue  []Event
	peeked *Event // the terminal event the caller already had (Follow from it)
	err    error
	notify chan struct{} // capacity 1: "the queue changed"
}

func newFollower(requestID string) *follower {
	return &follower{requestID: requestID, notify: make(chan struct{}, 1)}
}

// deliver hands events, a peeked end or an error to the waiting goroutine.
func (f *follower) deliver(evs []Event, peeked *Event, err error) {
	f.qmu.Lock()
	f.queue = append(f.queue, evs...)
	if peeked != nil {
		f.peeked = peeked
	}
	if err != nil && f.err == nil {
		f.err = err
	}
	f.qmu.Unlock()
	select {
	case f.notify <- struct{}{}:
	default:
	}
}

func (f *follower) take() ([]Event, *Event, error) {
	f.qmu.Lock()
	defer f.qmu.Unlock()
	evs := f.queue
	f.queue = nil
	return evs, f.peeked, f.err
}

// wait runs f's callbacks on the calling goroutine until the request ends.
func (c *Client) wait(ctx context.Context, f *follower, onEvent func(Event), onProgress func(Progress)) (*Result, error) {
	var seen []Event
	for {
		select {
		case <-f.notify:
		case <-ctx.Done():
			c.mu.Lock()
			c.endLocked(f, nil, nil, true)
			c.mu.Unlock()
			return nil, ctx.Err()
		}
		evs, peeked, err := f.take()
		for _, e := range evs {
			seen = append(seen, e)
			if onEvent != nil {
				onEvent(e)
			}
			if p, ok := e.Progress(); ok && onProgress != nil {
				onProgress(p)
			}
			if IsTerminal(e.Type) {
				return resultOf(e, seen), nil
			}
		}
		if peeked != nil {
			return resultOf(*peeked, seen), nil
		}
		if err != nil {
			return nil, err
		}
	}
}

func (c *Client) registerLocked(f *follower) {
	f.registered = true
	c.follows[f.requestID] = append(c.follows[f.requestID], f)
}

// adoptLocked starts following the request a queued frame names. The queued
// frame stands for version 1 (request.submitted); the server has
// subscribed the connection, and events from 2 follow on it — replayed
// first when the request was already further along (a duplicate).
func (c *Client) adoptLocked(f *follower, q protocol.Outbound) {
	f.requestID = q.RequestID
	f.seq.last = 1
	c.registerLocked(f)
	early := c.orphans[q.RequestID]
	if len(early) > 0 {
		delete(c.orphans, q.RequestID)
		c.orphanN -= len(early)
		slices.SortStableFunc(early, func(a, b Event) int { return cmp.Compare(a.Version, b.Version) })
	}
	for _, e := range early {
		if f.done {
			return
		}
		c.offerLocked(f, e)
	}
	// A re-attach (duplicate) is answered with queued at version 1 and a
	// replay of everything after it, like a fresh submission; a queued
	// frame further along than 1 would skip versions: fetch them.
	if !f.done && q.Version > 1 && f.subCRID == "" {
		c.resyncLocked(f)
	}
}

// onEventLocked routes an event frame to the request's followers.
func (c *Client) onEventLocked(fr protocol.Outbound) {
	e := Event{RequestID: fr.RequestID, Version: fr.Version, Type: fr.Event, Data: fr.Data, Truncated: fr.Truncated}
	if fr.Time != nil {
		e.Time = *fr.Time
	}
	fs := c.follows[fr.RequestID]
	if len(fs) == 0 {
		// A fan-out may overtake the queued frame of a submission still
		// waiting for it: keep the event for adoptLocked.
		if c.adopting > 0 && c.orphanN < maxOrphans && fr.RequestID != "" {
			if c.orphans == nil {
				c.orphans = make(map[string][]Event)
			}
			c.orphans[fr.RequestID] = append(c.orphans[fr.RequestID], e)
			c.orphanN++
		}
		return
	}
	if len(fs) > 1 {
		fs = slices.Clone(fs) // offerLocked may retire followers
	}
	for _, f := range fs {
		c.offerLocked(f, e)
	}
}

// offerLocked passes one event to f's sequencer and delivers what is in
// order; a gap outside a replay triggers a re-subscription.
func (c *Client) offerLocked(f *follower, e Event) {
	ready, peeked := f.seq.offer(e)
	if peeked != nil && IsTerminal(peeked.Type) {
		c.endLocked(f, peeked, nil, false)
		return
	}
	if len(ready) > 0 {
		f.resyncs = 0
		for i, r := range ready {
			if IsTerminal(r.Type) {
				f.deliver(ready[:i+1], nil, nil)
				c.endLocked(f, nil, nil, false) // an ended request's subscription ends with it
				return
			}
		}
		f.deliver(ready, nil, nil)
	}
	if len(f.seq.pending) > 0 && f.subCRID == "" {
		c.log.Debug("gap in request stream; re-subscribing", "requestId", f.requestID, "version", f.seq.last)
		c.resyncLocked(f)
	}
}

// resyncLocked subscribes f again from what it has, to fill a gap (or for
// Follow's first subscribe). The first re-subscription in a row goes at
// once; later ones back off like redials, so a server that keeps missing
// versions is not hammered.
func (c *Client) resyncLocked(f *follower) {
	crid := c.newCRID()
	if f.subCRID != "" {
		delete(c.subs, f.subCRID)
	}
	f.subCRID = crid
	c.subs[crid] = f
	if f.timer != nil {
		f.timer.Stop()
		f.timer = nil
	}
	n := f.resyncs
	f.resyncs++
	if n == 0 {
		c.writeAsync(c.subscribeFrameLocked(f, crid))
		return
	}
	f.timer = time.AfterFunc(c.opts.Reconnect.backoff(n-1), func() {
		c.mu.Lock()
		defer c.mu.Unlock()
		if !f.done && f.subCRID == crid && c.err == nil {
			c.writeAsync(c.subscribeFrameLocked(f, crid))
		}
	})
}

// resubscribeLocked is resyncLocked for a new connection: a fresh
// subscribe from the last version delivered, returned for the caller to
// write in order with the resent calls.
func (c *Client) resubscribeLocked(f *follower) []byte {
	if f.subCRID != "" {
		delete(c.subs, f.subCRID)
	}
	if f.timer != nil {
		f.timer.Stop()
		f.timer = nil
	}
	f.subCRID = c.newCRID()
	c.subs[f.subCRID] = f
	return c.subscribeFrameLocked(f, f.subCRID)
}

func (c *Client) subscribeFrameLocked(f *follower, crid string) []byte {
	b, _ := json.Marshal(protocol.Inbound{Action: protocol.ActionSubscribe, ClientRequestID: crid,
		RequestID: f.requestID, FromVersion: f.seq.resumeFrom()})
	return b
}

// matchSubLocked finds the follower whose subscribe fr answers.
func (c *Client) matchSubLocked(fr protocol.Outbound) *follower {
	if fr.ClientRequestID != "" {
		return c.subs[fr.ClientRequestID]
	}
	if fr.Action != protocol.ActionSubscribe {
		return nil
	}
	for _, f := range c.follows[fr.RequestID] {
		if f.subCRID != "" {
			return f
		}
	}
	return nil
}

// onSubscribeReplyLocked handles the ack (or error) of f's subscribe. The
// ack comes after the replay and carries the stream's head: anything still
// missing below it is a gap to fill.
func (c *Client) onSubscribeReplyLocked(f *follower, fr protocol.Outbound) {
	delete(c.subs, f.subCRID)
	f.subCRID = ""
	switch fr.Type {
	case protocol.TypeAck:
		if f.seq.gap(fr.Version) {
			c.log.Debug("replay left a gap; re-subscribing", "requestId", f.requestID,
				"version", f.seq.last, "head", fr.Version)
			c.resyncLocked(f)
		}
	case protocol.TypeError:
		e := fr.Error
		if e == nil {
			e = protocol.Errorf(protocol.CodeInternal, "error frame without an error")
		}
		if e.Retryable {
			f.resyncs = max(f.resyncs, 1)
			c.resyncLocked(f)
			return
		}
		if e.Code == protocol.CodeUnauthorized && f.unknownConn < maxUnknownConn && c.conn != nil {
			// The server has this connection as closed (e.g. recorded
			// gone): a new connection resumes the follow.
			f.unknownConn++
			c.log.Warn("server does not know this connection; reconnecting", "requestId", f.requestID)
			c.conn.CloseNow()
			return
		}
		c.endLocked(f, nil, e, false)
	default:
		c.endLocked(f, nil, unexpected(fr), false)
	}
}

// maxUnknownConn bounds the reconnects one follower asks for because the
// server refused its subscribe as unauthorized.
const maxUnknownConn = 3

// endLocked retires f: no frame reaches it any more. peeked or err go to
// the waiting goroutine. With unsubscribe (a follower given up before the
// end), the server stops pushing the request to this connection once no
// other follower of the client wants it.
func (c *Client) endLocked(f *follower, peeked *Event, err error, unsubscribe bool) {
	if f.done {
		return
	}
	f.done = true
	if f.timer != nil {
		f.timer.Stop()
		f.timer = nil
	}
	if f.subCRID != "" {
		delete(c.subs, f.subCRID)
		f.subCRID = ""
	}
	if f.registered {
		rest := slices.DeleteFunc(slices.Clone(c.follows[f.requestID]), func(x *follower) bool { return x == f })
		if len(rest) > 0 {
			c.follows[f.requestID] = rest
		} else {
			delete(c.follows, f.requestID)
			if unsubscribe && c.err == nil {
				b, _ := json.Marshal(protocol.Inbound{Action: protocol.ActionUnsubscribe,
					ClientRequestID: c.newCRID(), RequestID: f.requestID})
				c.writeAsync(b)
			}
		}
	}
	if peeked != nil || err != nil {
		f.deliver(nil, peeked, err)
	}
}
