package projections

import (
	"fmt"
	"maps"
	"time"

	"github.com/streamer/streamer/events"
)

// Connection statuses.
const (
	ConnectionOpen   = events.StatusOpen
	ConnectionClosed = events.StatusClosed
)

// TTL says when a connection view may be deleted (ConnectionView.ExpiresAt;
// DynamoDB's TTL attribute). A closed connection is kept for Retention after
// it closed; an open one for MaxAge + Retention after it connected, so the
// view of a connection whose close was never recorded still goes away.
type TTL struct {
	MaxAge    time.Duration // longest life of a connection; 2 h like API Gateway
	Retention time.Duration // how long a view outlives its connection; 24 h
}

// Defaults of TTL.
const (
	DefaultMaxAge    = 2 * time.Hour
	DefaultRetention = 24 * time.Hour
)

// withDefaults fills zero fields.
func (t TTL) withDefaults() TTL {
	if t.MaxAge <= 0 {
		t.MaxAge = DefaultMaxAge
	}
	if t.Retention <= 0 {
		t.Retention = DefaultRetention
	}
	return t
}

// ConnectionView is the read view of one connection stream: who is
// connected, since when, until when the view is kept, and which requests the
// connection follows. It is the fold of the stream's events 1..Version.
type ConnectionView struct {
	ConnectionID string `json:"connectionId"`
	User         string `json:"user"`
	Tenant       string `json:"tenant"`
	Status       string `json:"status"`                // open|closed
	CloseReason  string `json:"closeReason,omitempty"` // client|gone|idle|expired
	// ConnectedAt is when the connection opened; LastSeen the time of its
	// latest event.
	ConnectedAt time.Time `json:"connectedAt,omitzero"`
	LastSeen    time.Time `json:"lastSeen,omitzero"`
	ExpiresAt   time.Time `json:"expiresAt,omitzero"` // the view may be deleted after this
	// Subscriptions maps each followed request ID to the version the client
	// subscribed from. It is nil when empty, and always empty once closed.
	Subscriptions map[string]int64 `json:"subscriptions,omitempty"`
	Version       int64            `json:"version"` // last applied event version
}

// Open reports whether the connection is open.
func (v ConnectionView) Open() bool { return v.Status == ConnectionOpen }

// ApplyConnection folds e onto v and returns the new view; v (its
// Subscriptions map included) is not modified. e must be the next event of
// v's stream, otherwise ErrOutOfOrder. ttl's zero fields take the defaults.
func ApplyConnection(v ConnectionView, e events.Event, ttl TTL) (ConnectionView, error) {
	kind, id, err := events.ParseStream(e.StreamID)
	if err != nil {
		return v, err
	}
	if kind != events.KindConnection {
		return v, fmt.Errorf("%w: %s is not a connection stream", ErrOutOfOrder, e.StreamID)
	}
	if err := checkNext(v.ConnectionID, v.Version, id, e); err != nil {
		return v, err
	}
	p, err := events.DecodePayload(e)
	if err != nil {
		return v, fmt.Errorf("apply %s@%d: %w", e.StreamID, e.Version, err)
	}
	ttl = ttl.withDefaults()
	at := e.Time.UTC()
	switch p := p.(type) {
	case *events.Opened:
		v.ConnectionID, v.User, v.Tenant = id, p.User, p.Tenant
		if v.Tenant == "" {
			v.Tenant = e.Meta.Tenant
		}
		v.Status, v.ConnectedAt = ConnectionOpen, at
		v.ExpiresAt = at.Add(ttl.MaxAge + ttl.Retention)
	case *events.Subscribed:
		subs := maps.Clone(v.Subscriptions)
		if subs == nil {
			subs = map[string]int64{}
		}
		subs[p.RequestID] = p.FromVersion
		v.Subscriptions = subs
	case *events.Unsubscribed:
		if _, ok := v.Subscriptions[p.RequestID]; ok {
			subs := maps.Clone(v.Subscriptions)
			delete(subs, p.RequestID)
			if len(subs) == 0 {
				subs = nil
			}
			v.Subscriptions = subs
		}
	case *events.Closed:
		v.Status, v.CloseReason, v.Subscriptions = ConnectionClosed, p.Reason, nil
		v.ExpiresAt = at.Add(ttl.Retention)
	default:
		return v, fmt.Errorf("%w: %s is not a connection event", events.ErrInvalidEvent, e.Type)
	}
	v.LastSeen, v.Version = at, e.Version
	return v, nil
}
