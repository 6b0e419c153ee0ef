package audit

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/streamer/streamer/events"
	"github.com/streamer/streamer/projections"
)

// Errors of the package. ErrNotFound wraps events.ErrStreamNotFound when the
// request has no events at all.
var (
	// ErrNotFound: the request has no events (at the time asked for).
	ErrNotFound = errors.New("request not found")
	// ErrInvalidID: a request ID that cannot name a stream (empty, with a
	// '/', not UTF-8, too long).
	ErrInvalidID = errors.New("invalid request id")
	// ErrReplay: the stored events do not fold into a request view (an
	// event that cannot be decoded, or out of order) — typically a log
	// that fails verification too.
	ErrReplay = errors.New("history cannot be replayed")
)

// CheckID reports whether id can be a request ID (ErrInvalidID if not).
func CheckID(id string) error {
	if _, _, err := events.ParseStream(events.RequestStream(id)); err != nil {
		return fmt.Errorf("%w: %v", ErrInvalidID, err)
	}
	return nil
}

// History loads every event of request id, in version order. A request
// with no events is ErrNotFound (wrapping events.ErrStreamNotFound).
func History(ctx context.Context, s events.Store, id string) ([]events.Event, error) {
	if err := CheckID(id); err != nil {
		return nil, err
	}
	evs, err := events.LoadAll(ctx, s, events.RequestStream(id), 1)
	if errors.Is(err, events.ErrStreamNotFound) || err == nil && len(evs) == 0 {
		return nil, fmt.Errorf("%w: %s: %w", ErrNotFound, id, events.ErrStreamNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("history of %s: %w", id, err)
	}
	return evs, nil
}

// AsOf returns the events of evs that had been appended at time t: the
// longest prefix whose events all carry a Time at or before t. The log is
// append-ordered, so an event stamped at or before t that follows one
// stamped after t (clocks of different appenders disagree) was appended
// after the later one and is not part of the state at t. The result shares
// evs' backing array.
func AsOf(evs []events.Event, t time.Time) []events.Event {
	for i, e := range evs {
		if e.Time.After(t) {
			return evs[:i]
		}
	}
	return evs
}

// Replay folds evs, the events 1..n of one request stream, into the request
// view after event n. No events is ErrNotFound; events that do not fold
// are ErrReplay.
func Replay(evs []events.Event) (projections.RequestView, error) {
	var v projections.RequestView
	if len(evs) == 0 {
		return v, ErrNotFound
	}
	for _, e := range evs {
		next, err := projections.ApplyRequest(v, e)
		if err != nil {
			return v, fmt.Errorf("%w: at version %d: %v", ErrReplay, e.Version, err)
		}
		v = next
	}
	return v, nil
}

// Parties returns the tenant and the owner of a request from its first
// event (request.submitted): the owner and tenant of the payload, the
// tenant of the event's meta when the payload has none. An event that
// cannot be decoded (a damaged log) gives its meta's tenant and no owner,
// so only readers with the audit permission of that tenant can see it.
func Parties(first events.Event) (tenant, owner string) {
	tenant = first.Meta.Tenant
	if first.Type != events.RequestSubmitted {
		return tenant, ""
	}
	p, err := events.PayloadAs[*events.Submitted](first)
	if err != nil {
		return tenant, ""
	}
	if p.Tenant != "" {
		tenant = p.Tenant
	}
	return tenant, p.Owner
}

// Result is the outcome of verifying a request's hash chain.
type Result struct {
	OK       bool   `json:"ok"`
	Version  int64  `json:"version"`            // head version: how many events were checked
	BrokenAt int64  `json:"brokenAt,omitempty"` // first version that does not verify (when not OK)
	Reason   string `json:"reason,omitempty"`   // what did not match (when not OK)
}

// Verify checks the hash chain of evs, the events of one stream from
// version 1 (see events.Verify).
func Verify(evs []events.Event) Result {
	r := Result{OK: true}
	if n := len(evs); n > 0 {
		r.Version = evs[n-1].Version
	}
	err := events.Verify(evs)
	if err == nil {
		return r
	}
	r.OK = false
	var ce *events.ChainError
	if errors.As(err, &ce) {
		r.BrokenAt, r.Reason = ce.Version, ce.Reason
	} else {
		r.BrokenAt, r.Reason = 1, err.Error()
	}
	return r
}

// String renders r as `streamer audit --verify` prints it.
func (r Result) String() string {
	if r.OK {
		return fmt.Sprintf("chain ok (%d events)", r.Version)
	}
	return fmt.Sprintf("chain BROKEN at version %d: %s", r.BrokenAt, r.Reason)
}
