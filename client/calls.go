package client

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/streamer/streamer/protocol"
)

// maxSubmitRetries bounds the resubmissions after retryable error frames.
const maxSubmitRetries = 4

// RequestOptions tune one submission.
type RequestOptions struct {
	// IdempotencyKey names the request: resubmitting a key returns the
	// existing request. Generated when empty, so a resubmission after a
	// reconnect can never create a second request.
	IdempotencyKey string
	// ClientRequestID is echoed in the direct answer; generated when empty.
	// It must be unique among this client's calls in flight.
	ClientRequestID string
	// OnProgress is called for each request.progress event, OnEvent for
	// every event (progress included), in version order, on the goroutine
	// that called Request.
	OnProgress func(Progress)
	OnEvent    func(Event)
}

// call is one frame awaiting its direct answer (matched by clientRequestId).
type call struct {
	seq       uint64
	crid      string
	action    string
	requestID string
	frame     []byte
	sentGen   uint64     // connection generation it was last written on
	done      chan reply // buffered: the reader never blocks on it
	follow    *follower  // Request: adopted when the answer is queued
}

type reply struct {
	f   protocol.Outbound
	err error
}

// Submit sends a handler action and returns its first answer without
// waiting for the end: queued (the connection is now subscribed to the
// request; follow it with Follow) or response (sync, final). An error frame
// is returned as a *protocol.Error; a retryable one (timeout, unavailable)
// is first retried with the same idempotency key, up to 4 times with
// backoff.
func (c *Client) Submit(ctx context.Context, action string, payload any, opts RequestOptions) (Submission, error) {
	return c.submit(ctx, action, payload, opts, nil)
}

// Request submits a handler action and waits for its end: the response of a
// sync request, or, for a queued one, its events until the terminal one.
// A request that failed, was cancelled or timed out is a Result (see
// Result.Err), not an error; errors are the transport's, the client's and
// error frames (*protocol.Error).
func (c *Client) Request(ctx context.Context, action string, payload any, opts RequestOptions) (*Result, error) {
	f := newFollower("")
	sub, err := c.submit(ctx, action, payload, opts, f)
	if err != nil {
		return nil, err
	}
	if !sub.Queued() {
		return sub.Outcome(), nil
	}
	return c.wait(ctx, f, opts.OnEvent, opts.OnProgress)
}

// Follow subscribes to requestID from fromVersion (0 for the whole stream;
// else the last version the caller already has) and waits for the
// terminal event, calling onEvent (may be nil) for each later version in
// order. If the request has already ended, the replay contains its end; if
// it ended exactly at fromVersion, Follow returns its Result with no new
// events.
func (c *Client) Follow(ctx context.Context, requestID string, fromVersion int64, onEvent func(Event)) (*Result, error) {
	if requestID == "" {
		return nil, errors.New("follow: empty request id")
	}
	if fromVersion < 0 {
		return nil, fmt.Errorf("follow: negative fromVersion %d", fromVersion)
	}
	f := newFollower(requestID)
	f.seq.last = fromVersion
	f.seq.peek = fromVersion
	c.mu.Lock()
	if c.err != nil {
		c.mu.Unlock()
		return nil, c.err
	}
	c.registerLocked(f)
	c.resyncLocked(f)
	c.mu.Unlock()
	return c.wait(ctx, f, onEvent, nil)
}

// Cancel asks the server to cancel requestID and returns the stream version
// the ack carries. The request ends later with request.cancelled (or
// whatever came first); a Follow sees it. A cancel resent after a
// reconnect may answer invalid_transition if the first one took effect and
// the request has ended meanwhile.
func (c *Client) Cancel(ctx context.Context, requestID, reason string) (int64, error) {
	f, err := c.roundTrip(ctx, protocol.Inbound{Action: protocol.ActionCancel, RequestID: requestID, Reason: reason}, nil)
	if err != nil {
		return 0, err
	}
	if f.Type != protocol.TypeAck {
		return 0, unexpected(f)
	}
	return f.Version, nil
}

// Status returns the request's view (the "request" field of the status
// frame; docs/protocol.md lists its fields).
func (c *Client) Status(ctx context.Context, requestID string) (json.RawMessage, error) {
	f, err := c.roundTrip(ctx, protocol.Inbound{Action: protocol.ActionStatus, RequestID: requestID}, nil)
	if err != nil {
		return nil, err
	}
	if f.Type != protocol.TypeStatus {
		return nil, unexpected(f)
	}
	return f.Request, nil
}

// Ping round-trips a ping frame.
func (c *Client) Ping(ctx context.Context) error {
	f, err := c.roundTrip(ctx, protocol.Inbound{Action: protocol.ActionPing}, nil)
	if err != nil {
		return err
	}
	if f.Type != protocol.TypePong {
		return unexpected(f)
	}
	return nil
}

// Unsubscribe stops the server pushing requestID's events to this
// connection (Submit leaves it subscribed until the request ends; the
// server caps the requests not yet ended a connection follows). A Request
// or Follow whose caller gives up unsubscribes by itself.
func (c *Client) Unsubscribe(ctx context.Context, requestID string) error {
	f, err := c.roundTrip(ctx, protocol.Inbound{Action: protocol.ActionUnsubscribe, RequestID: requestID}, nil)
	if err != nil {
		return err
	}
	if f.Type != protocol.TypeAck {
		return unexpected(f)
	}
	return nil
}

func (c *Client) submit(ctx context.Context, action string, payload any, opts RequestOptions, f *follower) (Submission, error) {
	if action == "" || protocol.IsReserved(action) {
		return Submission{}, fmt.Errorf("submit: %q is not a handler action", action)
	}
	var raw json.RawMessage
	if payload != nil {
		b, err := json.Marshal(payload)
		if err != nil {
			return Submission{}, fmt.Errorf("submit %s: encode payload: %w", action, err)
		}
		raw = b
	}
	key := opts.IdempotencyKey
	if key == "" {
		key = rand.Text()
	}
	in := protocol.Inbound{Action: action, ClientRequestID: opts.ClientRequestID, IdempotencyKey: key, Payload: raw}
	if in.ClientRequestID == "" {
		in.ClientRequestID = c.newCRID()
	}
	var fr protocol.Outbound
	var err error
	for attempt := 0; ; attempt++ {
		fr, err = c.roundTrip(ctx, in, f)
		// A retryable refusal (timeout, unavailable) may come after the
		// request was created: the same key makes the retry safe.
		var pe *protocol.Error
		if err == nil || !errors.As(err, &pe) || !pe.Retryable || attempt >= maxSubmitRetries {
			break
		}
		c.log.Debug("submission refused for now; retrying", "action", action, "code", pe.Code, "attempt", attempt+1)
		t := time.NewTimer(c.opts.Reconnect.backoff(attempt))
		select {
		case <-ctx.Done():
			t.Stop()
			return Submission{}, ctx.Err()
		case <-t.C:
		}
	}
	if err != nil {
		return Submission{}, err
	}
	switch fr.Type {
	case protocol.TypeQueued, protocol.TypeResponse:
		return Submission{
			Type: fr.Type, RequestID: fr.RequestID, Version: fr.Version, Duplicate: fr.Duplicate,
			Status: fr.Status, Result: fr.Result, Error: fr.Error, Truncated: fr.Truncated, IdempotencyKey: key,
		}, nil
	}
	return Submission{}, unexpected(fr)
}

// roundTrip sends in and waits for its direct answer. Until answered, the
// call is resent on every new connection. An error frame is returned as
// its *protocol.Error. With follow set, a queued answer adopts it (see
// adoptLocked).
func (c *Client) roundTrip(ctx context.Context, in protocol.Inbound, follow *follower) (protocol.Outbound, error) {
	if in.ClientRequestID == "" {
		in.ClientRequestID = c.newCRID()
	}
	frame, err := json.Marshal(in)
	if err != nil {
		return protocol.Outbound{}, fmt.Errorf("%s: encode: %w", in.Action, err)
	}
	if len(frame) > protocol.MaxMessageSize {
		return protocol.Outbound{}, protocol.Errorf(protocol.CodeMessageTooLarge,
			"message of %d bytes exceeds the %d byte limit", len(frame), protocol.MaxMessageSize)
	}
	cl := &call{crid: in.ClientRequestID, action: in.Action, requestID: in.RequestID, frame: frame,
		done: make(chan reply, 1), follow: follow}
	c.mu.Lock()
	if c.err != nil {
		c.mu.Unlock()
		return protocol.Outbound{}, c.err
	}
	if _, dup := c.calls[cl.crid]; dup {
		c.mu.Unlock()
		return protocol.Outbound{}, fmt.Errorf("%s: clientRequestId %q is already in flight", in.Action, cl.crid)
	}
	c.callSeq++
	cl.seq = c.callSeq
	c.calls[cl.crid] = cl
	if follow != nil {
		c.adopting++
	}
	c.mu.Unlock()
	c.send(cl)
	select {
	case r := <-cl.done:
		if r.err != nil {
			return protocol.Outbound{}, r.err
		}
		if r.f.Type == protocol.TypeError {
			if r.f.Error == nil {
				return r.f, protocol.Errorf(protocol.CodeInternal, "error frame without an error")
			}
			return r.f, r.f.Error
		}
		return r.f, nil
	case <-ctx.Done():
		c.forget(cl)
		return protocol.Outbound{}, ctx.Err()
	}
}

// send writes cl on the current connection unless it is already written
// there; without a connection, the reconnect resends it.
func (c *Client) send(cl *call) {
	c.mu.Lock()
	conn, gen := c.conn, c.gen
	if conn == nil || cl.sentGen == gen || c.calls[cl.crid] != cl {
		c.mu.Unlock()
		return
	}
	cl.sentGen = gen
	c.mu.Unlock()
	_ = c.writeTo(conn, cl.frame) // on failure the connection drops and the call is resent
}

// forget abandons a call whose caller gave up.
func (c *Client) forget(cl *call) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.calls[cl.crid] == cl {
		delete(c.calls, cl.crid)
		if cl.follow != nil {
			c.adoptingDoneLocked()
		}
	}
	if f := cl.follow; f != nil && f.registered && !f.done {
		c.endLocked(f, nil, nil, true)
	}
}

func (c *Client) adoptingDoneLocked() {
	c.adopting--
	if c.adopting == 0 {
		c.orphans, c.orphanN = nil, 0
	}
}

// dispatch routes one server frame (on the reader's goroutine).
func (c *Client) dispatch(fr protocol.Outbound) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if fr.Type == protocol.TypeEvent {
		c.onEventLocked(fr)
		return
	}
	if cl := c.matchCallLocked(fr); cl != nil {
		c.answerLocked(cl, fr)
		return
	}
	if f := c.matchSubLocked(fr); f != nil {
		c.onSubscribeReplyLocked(f, fr)
		return
	}
	c.log.Debug("dropping unmatched frame", "type", fr.Type, "action", fr.Action,
		"requestId", fr.RequestID, "clientRequestId", fr.ClientRequestID)
}

// matchCallLocked finds the call fr answers: by clientRequestId, or, for a
// server that did not echo it, the oldest call of the same action (and
// request). Submissions are matched by clientRequestId only: guessing
// there could bind a call to another request.
func (c *Client) matchCallLocked(fr protocol.Outbound) *call {
	if fr.ClientRequestID != "" {
		return c.calls[fr.ClientRequestID]
	}
	action := fr.Action
	switch fr.Type {
	case protocol.TypePong:
		action = protocol.ActionPing
	case protocol.TypeStatus:
		action = protocol.ActionStatus
	case protocol.TypeAck, protocol.TypeError:
	default:
		return nil
	}
	if !protocol.IsReserved(action) {
		return nil
	}
	var best *call
	for _, cl := range c.calls {
		if cl.action == action && (fr.RequestID == "" || cl.requestID == "" || cl.requestID == fr.RequestID) &&
			(best == nil || cl.seq < best.seq) {
			best = cl
		}
	}
	return best
}

func (c *Client) answerLocked(cl *call, fr protocol.Outbound) {
	delete(c.calls, cl.crid)
	if cl.follow != nil {
		if fr.Type == protocol.TypeQueued && fr.RequestID != "" {
			c.adoptLocked(cl.follow, fr)
		}
		c.adoptingDoneLocked()
	}
	cl.done <- reply{f: fr}
}

func unexpected(f protocol.Outbound) error {
	return fmt.Errorf("unexpected %q frame (action %q, request %q)", f.Type, f.Action, f.RequestID)
}
