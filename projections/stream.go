package projections

import (
	"context"
	"errors"
	"fmt"

	"github.com/streamer/streamer/events"
)

// streamView is the view of one stream of either kind, as the projector
// and the rebuild handle it.
type streamView struct {
	kind events.StreamKind
	id   string
	req  RequestView
	conn ConnectionView
}

func newStreamView(stream string) (streamView, error) {
	kind, id, err := events.ParseStream(stream)
	if err != nil {
		return streamView{}, err
	}
	return streamView{kind: kind, id: id}, nil
}

func (s *streamView) version() int64 {
	if s.kind == events.KindRequest {
		return s.req.Version
	}
	return s.conn.Version
}

func (s *streamView) apply(e events.Event, ttl TTL) error {
	var err error
	if s.kind == events.KindRequest {
		s.req, err = ApplyRequest(s.req, e)
	} else {
		s.conn, err = ApplyConnection(s.conn, e, ttl)
	}
	return err
}

// load reads the stored view; an absent view is the empty one.
func (s *streamView) load(ctx context.Context, vs ViewStore) error {
	var err error
	if s.kind == events.KindRequest {
		s.req, err = vs.GetRequest(ctx, s.id)
	} else {
		s.conn, err = vs.GetConnection(ctx, s.id)
	}
	if errors.Is(err, ErrNotFound) {
		s.req, s.conn = RequestView{}, ConnectionView{}
		return nil
	}
	return err
}

// put stores the view guarded on expected.
func (s *streamView) put(ctx context.Context, vs ViewStore, expected int64) error {
	if s.kind == events.KindRequest {
		return vs.PutRequest(ctx, s.req, expected)
	}
	return vs.PutConnection(ctx, s.conn, expected)
}

// addTo appends the view to a PutNewer batch.
func (s *streamView) addTo(b *Batch) {
	if s.kind == events.KindRequest {
		b.Requests = append(b.Requests, s.req)
	} else {
		b.Connections = append(b.Connections, s.conn)
	}
}

// advance applies evs (one stream's, in version order) onto s with the
// version guard: duplicates are skipped, and a gap is filled from the log
// before the event after it is applied.
func advance(ctx context.Context, log events.Store, s *streamView, evs []events.Event, ttl TTL) error {
	for _, e := range evs {
		switch Guard(s.version(), e.Version) {
		case Skip:
			continue
		case Gap:
			if err := catchUp(ctx, log, s, e, ttl); err != nil {
				return err
			}
		}
		if err := s.apply(e, ttl); err != nil {
			return err
		}
	}
	return nil
}

// catchUp applies the events of e's stream between the view and e, loaded
// from the log.
func catchUp(ctx context.Context, log events.Store, s *streamView, e events.Event, ttl TTL) error {
	from := s.version() + 1
	missing, err := events.LoadAll(ctx, log, e.StreamID, from)
	if err != nil {
		return fmt.Errorf("catch up %s from %d: %w", e.StreamID, from, err)
	}
	for _, m := range missing {
		if m.Version >= e.Version {
			break
		}
		if Guard(s.version(), m.Version) != Apply {
			continue
		}
		if err := s.apply(m, ttl); err != nil {
			return err
		}
	}
	if s.version() != e.Version-1 {
		return fmt.Errorf("catch up %s: the log has version %d, the batch has %d: %w", e.StreamID, s.version(), e.Version, ErrOutOfOrder)
	}
	return nil
}
