package wsapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/streamer/streamer/auth"
	"github.com/streamer/streamer/events"
	"github.com/streamer/streamer/projections"
	"github.com/streamer/streamer/protocol"
)

// readable loads who owns the frame's request and checks that the caller
// may read it.
func (c *call) readable(ctx context.Context) (requestInfo, error) {
	if !validRequestID(c.in.RequestID) {
		return requestInfo{}, fmt.Errorf("request ID %q: %w", c.in.RequestID, auth.ErrNotFound)
	}
	info, err := c.a.request(ctx, c.in.RequestID)
	if err != nil {
		return requestInfo{}, err
	}
	return info, authorizeRead(c.p, info)
}

// cancel answers cancel{requestId, reason}: the owner asks for the
// request to stop; request.cancel_requested is appended at the head (the
// processor does the stopping). Asking twice is acknowledged again; a
// request that has ended is an invalid transition.
func (c *call) cancel(ctx context.Context) error {
	if !validRequestID(c.in.RequestID) {
		return fmt.Errorf("request ID %q: %w", c.in.RequestID, auth.ErrNotFound)
	}
	info, err := c.a.request(ctx, c.in.RequestID)
	if err != nil {
		return err
	}
	if err := authorizeControl(c.p, info); err != nil {
		return err
	}
	stream := events.RequestStream(c.in.RequestID)
	ack := protocol.Outbound{Type: protocol.TypeAck, Action: protocol.ActionCancel, RequestID: c.in.RequestID, ClientRequestID: c.in.ClientRequestID}
	for range appendRetries {
		evs, err := events.LoadAll(ctx, c.a.cfg.Store, stream, 1)
		if err != nil {
			return notFound(c.in.RequestID, err)
		}
		state, err := events.Fold(evs)
		if err != nil {
			return fmt.Errorf("fold %s: %w", stream, err)
		}
		head := evs[len(evs)-1].Version
		switch {
		case state.Terminal():
			return protocol.Errorf(protocol.CodeInvalidTransition, "the request has already ended (%s)", state.Status)
		case state.CancelRequested:
			ack.Version = head
			c.s.post(ctx, ack)
			return nil
		}
		e, err := events.New(events.RequestCancelRequested, events.CancelRequested{Reason: c.in.Reason, By: c.p.User}, c.meta(c.in.RequestID))
		if err != nil {
			return err
		}
		stored, err := c.a.cfg.Store.Append(ctx, stream, head, e)
		switch {
		case errors.Is(err, events.ErrVersionConflict), errors.Is(err, events.ErrInvalidTransition):
			continue // the head moved (perhaps to an end): judge again
		case err != nil:
			return fmt.Errorf("cancel %s: %w", c.in.RequestID, err)
		}
		c.log.InfoContext(ctx, "wsapi: cancel requested", "version", stored[0].Version)
		ack.Version = stored[0].Version
		c.s.post(ctx, ack)
		return nil
	}
	return errBusy
}

// status answers status{requestId} with the request view. The view may lag
// the log (the projector runs behind the appends), so any events past the
// view's version are folded onto it from the log: the answer is never
// older than an event the client was already sent.
func (c *call) status(ctx context.Context) error {
	if _, err := c.readable(ctx); err != nil {
		return err
	}
	view, err := c.currentView(ctx, c.in.RequestID)
	if err != nil {
		return err
	}
	body, err := json.Marshal(view)
	if err != nil {
		return fmt.Errorf("encode view of %s: %w", c.in.RequestID, err)
	}
	c.s.post(ctx, protocol.Outbound{Type: protocol.TypeStatus, Action: protocol.ActionStatus, RequestID: c.in.RequestID,
		Version: view.Version, ClientRequestID: c.in.ClientRequestID, Request: body})
	return nil
}

// currentView is the request view brought up to the log's head.
func (c *call) currentView(ctx context.Context, id string) (projections.RequestView, error) {
	view, err := c.a.cfg.Reader.GetRequest(ctx, id)
	if err != nil {
		if !errors.Is(err, projections.ErrNotFound) {
			c.log.WarnContext(ctx, "wsapi: request view unreadable; folding the log", "err", err)
		}
		view = projections.RequestView{}
	}
	if v, err := c.foldOnto(ctx, view, id); err == nil || view.Version == 0 {
		return v, err
	} else {
		c.log.WarnContext(ctx, "wsapi: request view does not continue the log; folding the log", "view_version", view.Version, "err", err)
	}
	return c.foldOnto(ctx, projections.RequestView{}, id)
}

// foldOnto applies the log's events after view.Version to view.
func (c *call) foldOnto(ctx context.Context, view projections.RequestView, id string) (projections.RequestView, error) {
	evs, err := events.LoadAll(ctx, c.a.cfg.Store, events.RequestStream(id), view.Version+1)
	if err != nil {
		return view, notFound(id, err)
	}
	for _, e := range evs {
		if view, err = projections.ApplyRequest(view, e); err != nil {
			return view, fmt.Errorf("fold %s: %w", e.StreamID, err)
		}
	}
	if view.Version == 0 {
		return view, fmt.Errorf("request %s: %w", id, errNoRequest)
	}
	return view, nil
}
