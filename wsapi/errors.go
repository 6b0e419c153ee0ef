package wsapi

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"github.com/streamer/streamer/auth"
	"github.com/streamer/streamer/events"
	"github.com/streamer/streamer/protocol"
)

// errBusy: a stream kept moving under a bounded number of guarded appends.
var errBusy = errors.New("stream busy: too many concurrent appends")

// refusal turns err into the error of an error frame. Refusals the client
// caused keep their own code; failures of the server's dependencies become
// unavailable (retry) and anything else internal_error, logged in full
// (the frame says only that the log has details).
func (a *API) refusal(ctx context.Context, log *slog.Logger, err error) *protocol.Error {
	var pe *protocol.Error
	var te *events.TransitionError
	switch {
	case errors.As(err, &pe):
		return pe
	case errors.Is(err, errUnknownConnection):
		return protocol.Errorf(protocol.CodeUnauthorized, "unknown connection: connect again")
	case errors.Is(err, errConnectionClosed):
		return protocol.Errorf(protocol.CodeUnauthorized, "the connection is closed: connect again")
	case errors.Is(err, auth.ErrNotFound):
		return protocol.Errorf(protocol.CodeNotFound, "no such request")
	case errors.Is(err, auth.ErrForbidden):
		return protocol.Errorf(protocol.CodeForbidden, "%s", forbiddenMessage(err))
	case errors.As(err, &te):
		return protocol.Errorf(protocol.CodeInvalidTransition, "request is %s: %s (rule %s)", te.Status, te.Detail, te.Rule)
	case errors.Is(err, events.ErrInvalidTransition):
		return protocol.Errorf(protocol.CodeInvalidTransition, "the request does not allow this now")
	case errors.Is(err, events.ErrTransient), errors.Is(err, context.DeadlineExceeded),
		errors.Is(err, events.ErrVersionConflict), errors.Is(err, errBusy):
		log.WarnContext(ctx, "wsapi: dependency unavailable", "err", err)
		e := protocol.Errorf(protocol.CodeUnavailable, "the service is busy or a dependency is unavailable: retry")
		e.Retryable = true
		return e
	case errors.Is(err, context.Canceled):
		log.InfoContext(ctx, "wsapi: invocation cancelled", "err", err)
		e := protocol.Errorf(protocol.CodeUnavailable, "the request was cancelled by the server: retry")
		e.Retryable = true
		return e
	}
	log.ErrorContext(ctx, "wsapi: internal error", "err", err)
	return protocol.Errorf(protocol.CodeInternal, "internal error; the server log has details")
}

// forbiddenMessage is the reason of an auth.ErrForbidden, without the
// sentinel's own text.
func forbiddenMessage(err error) string {
	switch {
	case errors.Is(err, errNotOwner):
		return "only the owner may change a request"
	}
	return "the request belongs to another user; reading it needs the " + auth.PermAuditRead + " permission"
}

// errNotOwner marks a CanControl refusal (see authorizeControl).
var errNotOwner = errors.New("not the owner")

// authorizeRead checks that p may read the request described by info.
func authorizeRead(p auth.Principal, info requestInfo) error {
	return auth.CanRead(p, info.tenant, info.owner)
}

// authorizeControl checks that p may change the request described by info.
func authorizeControl(p auth.Principal, info requestInfo) error {
	err := auth.CanControl(p, info.tenant, info.owner)
	if errors.Is(err, auth.ErrForbidden) {
		return fmt.Errorf("%w: %w", errNotOwner, err)
	}
	return err
}
