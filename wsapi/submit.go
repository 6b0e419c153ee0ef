package wsapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"runtime/debug"
	"time"

	"github.com/streamer/streamer/auth"
	"github.com/streamer/streamer/events"
	"github.com/streamer/streamer/handler"
	"github.com/streamer/streamer/protocol"
)

// maxFailureMessage bounds the handler error text kept in request.failed.
const maxFailureMessage = 1024

// submit answers a handler action: it validates the payload, then runs a
// sync handler inline (one atomic append of submitted, started and the
// outcome) or queues an async request (request.submitted, then the
// submitting connection follows it). With an idempotency key the request
// ID is derived from it; a request that already exists is re-attached
// instead of being created (or run) again.
func (c *call) submit(ctx context.Context) error {
	c.in.RequestID = "" // the server names the request
	h, ok := c.a.cfg.Router.Lookup(c.in.Action)
	if !ok {
		return protocol.Errorf(protocol.CodeUnknownAction, "no handler for action %q", c.in.Action)
	}
	id := events.NewID()
	if c.in.IdempotencyKey != "" {
		id = events.RequestID(c.p.Tenant, c.p.User, c.in.IdempotencyKey)
	}
	c.in.RequestID = id
	c.log = c.log.With("request_id", id)
	c.s.log = c.log
	req := &handler.Request{
		ID: id, Action: c.in.Action, Payload: c.in.Payload, Principal: c.p,
		ConnectionID: c.connID, ClientRequestID: c.in.ClientRequestID, SubmittedAt: c.a.cfg.Now().UTC(),
	}
	if err := c.a.cfg.Router.Validate(req); err != nil {
		c.in.RequestID = ""
		return c.validationError(ctx, err)
	}
	if c.in.IdempotencyKey != "" {
		switch _, err := c.a.request(ctx, id); {
		case err == nil:
			return c.reattach(ctx, id)
		case !errors.Is(err, auth.ErrNotFound):
			return err
		}
	}
	if !c.a.cfg.Router.Async(h) {
		done, err := c.runSync(ctx, req)
		if done || err != nil {
			return err
		}
		c.log.DebugContext(ctx, "wsapi: handler asked for async processing")
	}
	return c.queue(ctx, req)
}

// validationError turns a Router.Validate error into its refusal:
// validation_failed carrying the handler's message, unknown_action, or —
// for a Validate that panicked — internal_error.
func (c *call) validationError(ctx context.Context, err error) error {
	var pe *handler.PanicError
	switch {
	case errors.Is(err, handler.ErrUnknownAction):
		return protocol.Errorf(protocol.CodeUnknownAction, "no handler for action %q", c.in.Action)
	case errors.As(err, &pe):
		return fmt.Errorf("validate %s: %w", c.in.Action, err)
	}
	msg := err.Error()
	if msg == "" {
		msg = "invalid payload"
	}
	c.log.DebugContext(ctx, "wsapi: payload refused", "err", err)
	return protocol.Errorf(protocol.CodeValidationFailed, "%s", truncate(msg, maxFailureMessage))
}

// submitted is the request.submitted event of req.
func (c *call) submitted(req *handler.Request) (events.Event, error) {
	return events.New(events.RequestSubmitted, events.Submitted{
		Action: req.Action, Payload: req.Payload, Owner: c.p.User, Tenant: c.p.Tenant, ConnectionID: c.connID,
		IdempotencyKey: c.in.IdempotencyKey, ClientRequestID: c.in.ClientRequestID,
	}, c.meta(req.ID))
}

// queue appends request.submitted and makes the connection follow the
// request: queued (version 1) first, then whatever happened since.
func (c *call) queue(ctx context.Context, req *handler.Request) error {
	e, err := c.submitted(req)
	if err != nil {
		return err
	}
	_, err = c.a.cfg.Store.Append(ctx, events.RequestStream(req.ID), 0, e)
	switch {
	case errors.Is(err, events.ErrVersionConflict) && c.in.IdempotencyKey != "":
		return c.reattach(ctx, req.ID)
	case err != nil:
		return fmt.Errorf("submit %s: %w", req.ID, err)
	}
	c.a.requests.put(req.ID, requestInfo{tenant: c.p.Tenant, owner: c.p.User, action: req.Action}, nil)
	c.log.InfoContext(ctx, "wsapi: request queued")
	queued := protocol.Outbound{Type: protocol.TypeQueued, Action: c.in.Action, RequestID: req.ID, Version: 1, ClientRequestID: c.in.ClientRequestID}
	return c.follow(ctx, req.ID, 1, &queued, nil)
}

// reattach answers a submission whose idempotency key names an existing
// request: queued with duplicate set, then everything after version 1, as
// for a fresh async request. The key is scoped to the caller (tenant and
// user are part of the derived ID), so the request is the caller's own.
func (c *call) reattach(ctx context.Context, id string) error {
	info, err := c.a.request(ctx, id)
	if err != nil {
		return err
	}
	if info.tenant != c.p.Tenant || info.owner != c.p.User {
		return fmt.Errorf("idempotency key of another user: %w", auth.ErrNotFound)
	}
	c.log.InfoContext(ctx, "wsapi: duplicate submission re-attached")
	queued := protocol.Outbound{Type: protocol.TypeQueued, Action: c.in.Action, RequestID: id, Version: 1, ClientRequestID: c.in.ClientRequestID, Duplicate: true}
	return c.follow(ctx, id, 1, &queued, nil)
}

// runSync runs a sync handler inline and records the whole request in one
// append. done is false when the handler asked for async processing.
func (c *call) runSync(ctx context.Context, req *handler.Request) (done bool, err error) {
	resp, perr := c.process(ctx, req)
	if errors.Is(perr, handler.ErrAsyncRequired) {
		return false, nil
	}
	frame := protocol.Outbound{Type: protocol.TypeResponse, Action: c.in.Action, RequestID: req.ID, ClientRequestID: c.in.ClientRequestID}
	var result json.RawMessage
	if perr == nil && resp != nil {
		result = resp.Result
	}
	if perr == nil && len(result) > 0 && !json.Valid(result) {
		perr = errors.New("handler returned a result that is not valid JSON")
	}
	var outcome events.Event
	if perr == nil {
		outcome, err = events.New(events.RequestCompleted, events.Completed{Result: result}, c.meta(req.ID))
		frame.Status, frame.Result = events.StatusCompleted, result
	} else {
		outcome, err = c.failure(ctx, req, perr, &frame)
	}
	if err != nil {
		return true, err
	}
	stored, err := c.appendSync(ctx, req, outcome)
	if errors.Is(err, events.ErrEventTooLarge) && outcome.Type == events.RequestCompleted {
		c.log.WarnContext(ctx, "wsapi: sync result too large to store", "err", err)
		if outcome, err = c.failure(ctx, req, fmt.Errorf("the result is too large to store (%d bytes)", len(frame.Result)), &frame); err != nil {
			return true, err
		}
		frame.Result = nil
		stored, err = c.appendSync(ctx, req, outcome)
	}
	switch {
	case errors.Is(err, events.ErrVersionConflict) && c.in.IdempotencyKey != "":
		return true, c.reattach(ctx, req.ID)
	case err != nil:
		return true, fmt.Errorf("record sync request %s: %w", req.ID, err)
	}
	c.a.requests.put(req.ID, requestInfo{tenant: c.p.Tenant, owner: c.p.User, action: req.Action}, nil)
	frame.Version = stored[len(stored)-1].Version
	c.log.InfoContext(ctx, "wsapi: sync request done", "status", frame.Status)
	c.s.post(ctx, frame)
	return true, nil
}

// failure builds the request.failed event of a sync handler error, and
// fills the failed response frame.
func (c *call) failure(ctx context.Context, req *handler.Request, perr error, frame *protocol.Outbound) (events.Event, error) {
	code, msg, retryable := protocol.CodeHandlerError, perr.Error(), false
	var panicked *handler.PanicError
	switch {
	case errors.As(perr, &panicked):
		code, msg = protocol.CodeInternal, "the handler panicked; the server log has details"
	case errors.Is(perr, context.DeadlineExceeded):
		code, retryable = protocol.CodeTimeout, true
	}
	c.log.WarnContext(ctx, "wsapi: sync handler failed", "code", code, "err", perr)
	failed := events.Failed{Code: code, Message: truncate(msg, maxFailureMessage), Retryable: retryable, Attempt: 1}
	frame.Status, frame.Result = events.StatusFailed, nil
	frame.Error = &protocol.Error{Code: failed.Code, Message: failed.Message, Retryable: failed.Retryable}
	return events.New(events.RequestFailed, failed, c.meta(req.ID))
}

// appendSync appends submitted, started (attempt 1) and outcome at once.
func (c *call) appendSync(ctx context.Context, req *handler.Request, outcome events.Event) ([]events.Event, error) {
	submitted, err := c.submitted(req)
	if err != nil {
		return nil, err
	}
	started, err := events.New(events.RequestStarted, events.Started{Attempt: 1, Worker: c.a.cfg.Source}, c.meta(req.ID))
	if err != nil {
		return nil, err
	}
	return c.a.cfg.Store.Append(ctx, events.RequestStream(req.ID), 0, submitted, started, outcome)
}

// process runs the handler inline within SyncTimeout. A deadline that
// passes makes the error match context.DeadlineExceeded — also when the
// handler ignores its context: process stops waiting at the deadline and
// whatever the handler returns later is discarded (logged). A panic
// becomes an error.
func (c *call) process(ctx context.Context, req *handler.Request) (*handler.Response, error) {
	pctx, cancel := context.WithTimeout(auth.WithPrincipal(ctx, c.p), c.a.cfg.SyncTimeout)
	defer cancel()
	type outcome struct {
		resp *handler.Response
		err  error
	}
	done := make(chan outcome, 1)
	go func() {
		var o outcome
		defer func() {
			if r := recover(); r != nil {
				stack := debug.Stack()
				c.log.ErrorContext(ctx, "wsapi: handler panicked", "panic", fmt.Sprint(r), "stack", string(stack))
				o = outcome{err: &handler.PanicError{Action: req.Action, RequestID: req.ID, Value: r, Stack: stack}}
			}
			done <- o
		}()
		o.resp, o.err = c.a.cfg.Router.Process(pctx, req)
	}()
	var o outcome
	select {
	case o = <-done:
	case <-pctx.Done():
		select {
		case o = <-done: // it returned at the deadline
		default:
			began := time.Now()
			go func() {
				late := <-done
				c.log.WarnContext(ctx, "wsapi: sync handler returned after its deadline; its result was discarded",
					"action", req.Action, "requestId", req.ID, "late", time.Since(began), "err", late.err)
			}()
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			return nil, fmt.Errorf("%w after %s: the handler did not return", context.DeadlineExceeded, c.a.cfg.SyncTimeout)
		}
	}
	if o.err != nil && !errors.Is(o.err, context.DeadlineExceeded) && errors.Is(pctx.Err(), context.DeadlineExceeded) && ctx.Err() == nil {
		o.err = fmt.Errorf("%w after %s: %w", context.DeadlineExceeded, c.a.cfg.SyncTimeout, o.err)
	}
	return o.resp, o.err
}
