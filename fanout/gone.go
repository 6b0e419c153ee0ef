package fanout

import (
	"context"
	"errors"
	"fmt"

	"github.com/streamer/streamer/events"
)

// recordGone appends connection.closed{reason: gone} to the stream of conn,
// which @connections answered 410 Gone for while posting cause. A stream
// that is already closed is left as it is (so a connection is closed once,
// however many fan-outs see it gone); a concurrent append makes it read the
// head again and retry, up to Retries times.
func (f *Fanout) recordGone(ctx context.Context, conn string, cause events.Event) error {
	stream := events.ConnectionStream(conn)
	closed := events.MustNew(events.ConnectionClosed, events.Closed{Reason: events.CloseGone}, events.Meta{
		Actor:       "system:" + f.cfg.Name,
		CausationID: cause.ID,
		TraceID:     cause.Meta.TraceID,
		Source:      f.cfg.Name,
	})
	var err error
	for attempt := 0; ; attempt++ {
		var done bool
		done, err = f.closeOnce(ctx, stream, closed)
		if done {
			return nil
		}
		if err == nil || attempt >= f.cfg.Retries || ctx.Err() != nil ||
			!(errors.Is(err, events.ErrVersionConflict) || errors.Is(err, events.ErrTransient)) {
			break
		}
		f.log.DebugContext(ctx, "fanout: retry recording gone", "connection", conn, "attempt", attempt+1, "err", err)
		if errors.Is(err, events.ErrTransient) {
			if serr := sleep(ctx, f.backoff(attempt)); serr != nil {
				err = errors.Join(err, serr)
				break
			}
		}
	}
	return fmt.Errorf("record connection %s gone: %w", conn, err)
}

// closeOnce reads the head of stream and appends closed onto it. done is
// true when the stream is closed now (by this call or before) or does not
// exist.
func (f *Fanout) closeOnce(ctx context.Context, stream string, closed events.Event) (done bool, err error) {
	evs, err := events.LoadAll(ctx, f.cfg.Store, stream, 1)
	switch {
	case errors.Is(err, events.ErrStreamNotFound):
		f.log.WarnContext(ctx, "fanout: gone connection has no stream; nothing to close", "stream", stream)
		return true, nil
	case err != nil:
		return false, err
	}
	head := evs[len(evs)-1]
	if head.Type == events.ConnectionClosed {
		return true, nil
	}
	if opened, perr := events.PayloadAs[*events.Opened](evs[0]); perr == nil {
		closed.Meta.Tenant = opened.Tenant
	}
	if closed.Meta.Tenant == "" {
		closed.Meta.Tenant = evs[0].Meta.Tenant
	}
	_, err = f.cfg.Store.Append(ctx, stream, head.Version, closed)
	switch {
	case err == nil:
		f.log.InfoContext(ctx, "fanout: connection gone, closed", "connection", stream, "version", head.Version+1)
		return true, nil
	case errors.Is(err, events.ErrInvalidTransition):
		return true, nil // closed meanwhile
	}
	return false, err
}
