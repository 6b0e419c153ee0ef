package wsapi

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/streamer/streamer/connections"
	"github.com/streamer/streamer/protocol"
)

// postRetries bounds the retries of one frame the @connections API
// throttled or failed transiently.
const postRetries = 2

// sender posts the frames answering one client message, in order, through
// the Poster. After a post fails for good (the connection is gone, or the
// API keeps failing) it stops: later frames would arrive with a hole before
// them, so none are sent and the client resumes by subscribing again.
type sender struct {
	a       *API
	connID  string
	log     *slog.Logger
	stopped bool
}

func (a *API) newSender(connID string, log *slog.Logger) *sender {
	return &sender{a: a, connID: connID, log: log}
}

// post sends f and reports whether the client can still be written to.
func (s *sender) post(ctx context.Context, f protocol.Outbound) bool {
	if s.stopped {
		return false
	}
	data := f.MarshalBounded()
	var err error
	for attempt := 0; ; attempt++ {
		if err = s.a.cfg.Poster.Post(ctx, s.connID, data); err == nil {
			return true
		}
		retryable := errors.Is(err, connections.ErrThrottled) || errors.Is(err, connections.ErrUnavailable)
		if !retryable || attempt >= postRetries || ctx.Err() != nil {
			break
		}
		t := time.NewTimer(time.Duration(50<<attempt) * time.Millisecond)
		select {
		case <-ctx.Done():
		case <-t.C:
		}
		t.Stop()
	}
	s.stopped = true
	level := slog.LevelWarn
	if errors.Is(err, connections.ErrGone) {
		level = slog.LevelInfo
	}
	s.log.Log(ctx, level, "wsapi: post failed; not replying further",
		"frame", f.Type, "request_id", f.RequestID, "version", f.Version, "err", err)
	return false
}

// fail posts the error frame answering in.
func (s *sender) fail(ctx context.Context, in *protocol.Inbound, e *protocol.Error) {
	s.post(ctx, protocol.ErrorFrame(in, e))
}
