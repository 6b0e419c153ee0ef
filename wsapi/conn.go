package wsapi

import (
	"context"
	"errors"
	"fmt"

	"github.com/streamer/streamer/auth"
	"github.com/streamer/streamer/events"
	"github.com/streamer/streamer/projections"
)

// Errors of the connection and request lookups.
var (
	// errUnknownConnection: the connection stream does not exist (no
	// successful $connect for it).
	errUnknownConnection = errors.New("unknown connection")
	// errConnectionClosed: the connection stream has ended (closed, e.g.
	// the fan-out recorded it gone).
	errConnectionClosed = errors.New("connection closed")
)

// connState is what the log says of one connection: who opened it, and
// the fold of its stream (subscriptions, head version).
type connState struct {
	principal auth.Principal
	view      projections.ConnectionView // fold of events 1..view.Version
}

// connection returns the state of connID, read from the log — never from
// the view, which may lag. The principal never changes once opened, so a
// cached state serves when fresh is false; fresh brings the fold up to the
// log's head (needed before appending to the stream or counting its
// subscriptions) by loading only the events after the cached version.
func (a *API) connection(ctx context.Context, connID string, fresh bool) (connState, error) {
	st, cached := a.conns.get(connID)
	if cached && !fresh {
		return st, nil
	}
	from := st.view.Version + 1
	evs, err := events.LoadAll(ctx, a.cfg.Store, events.ConnectionStream(connID), from)
	switch {
	case errors.Is(err, events.ErrStreamNotFound):
		return connState{}, fmt.Errorf("connection %s: %w", connID, errUnknownConnection)
	case err != nil:
		return connState{}, fmt.Errorf("load connection %s: %w", connID, err)
	}
	for _, e := range evs {
		if e.Version == 1 {
			p, err := events.PayloadAs[*events.Opened](e)
			if err != nil {
				return connState{}, fmt.Errorf("connection %s: first event: %w", connID, err)
			}
			st.principal = auth.Principal{User: p.User, Tenant: p.Tenant, Permissions: p.Permissions}
			if st.principal.Tenant == "" {
				st.principal.Tenant = e.Meta.Tenant
			}
		}
		if st.view, err = projections.ApplyConnection(st.view, e, projections.TTL{}); err != nil {
			return connState{}, fmt.Errorf("fold connection %s: %w", connID, err)
		}
	}
	if st.view.Version == 0 {
		return connState{}, fmt.Errorf("connection %s: %w", connID, errUnknownConnection)
	}
	a.conns.put(connID, st, func(old connState) bool { return old.view.Version > st.view.Version })
	return st, nil
}

// requestInfo is what never changes about a request: who owns it, in
// which tenant. It comes from request.submitted, the stream's first event.
type requestInfo struct {
	tenant, owner, action string
}

// request returns the owner and tenant of requestID from its
// request.submitted event in the log (cached: they never change). A
// missing stream is auth.ErrNotFound.
func (a *API) request(ctx context.Context, requestID string) (requestInfo, error) {
	if info, ok := a.requests.get(requestID); ok {
		return info, nil
	}
	page, err := a.cfg.Store.Load(ctx, events.RequestStream(requestID), 1, 1)
	switch {
	case errors.Is(err, events.ErrStreamNotFound):
		return requestInfo{}, fmt.Errorf("request %s: %w", requestID, auth.ErrNotFound)
	case err != nil:
		return requestInfo{}, fmt.Errorf("load request %s: %w", requestID, err)
	case len(page.Events) == 0:
		return requestInfo{}, fmt.Errorf("request %s: %w", requestID, auth.ErrNotFound)
	}
	p, err := events.PayloadAs[*events.Submitted](page.Events[0])
	if err != nil {
		return requestInfo{}, fmt.Errorf("request %s: first event: %w", requestID, err)
	}
	info := requestInfo{tenant: p.Tenant, owner: p.Owner, action: p.Action}
	if info.tenant == "" {
		info.tenant = page.Events[0].Meta.Tenant
	}
	a.requests.put(requestID, info, nil)
	return info, nil
}

// validRequestID reports whether id can name a request stream; anything
// else cannot exist, so it is simply not found.
func validRequestID(id string) bool {
	_, _, err := events.ParseStream(events.RequestStream(id))
	return err == nil
}
