package handler

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"
	"time"
)

// Call is one handler invocation as middleware sees it.
type Call struct {
	Request *Request
	Handler Handler
	// Reporter is set on the async path (ProcessWithProgress) and nil on
	// the sync path. A middleware may replace it with a decorator.
	Reporter Reporter
}

// Async reports whether the call is on the async path.
func (c *Call) Async() bool { return c.Reporter != nil }

// Endpoint runs a call. On the sync path it returns the handler's
// Response; on the async path the Response is nil and the outcome goes
// through c.Reporter (or the returned error).
type Endpoint func(ctx context.Context, c *Call) (*Response, error)

// Middleware wraps an Endpoint. The same middleware runs on both paths;
// c.Async() tells them apart.
type Middleware func(next Endpoint) Endpoint

// Outcomes of a call, as Logging reports them.
const (
	OutcomeOK            = "ok"
	OutcomeAsyncRequired = "async_required"
	OutcomeCancelled     = "cancelled"
	OutcomeError         = "error"
	OutcomePanic         = "panic"
)

// Outcome classifies the error a call returned.
func Outcome(err error) string {
	var pe *PanicError
	switch {
	case err == nil:
		return OutcomeOK
	case errors.As(err, &pe):
		return OutcomePanic
	case errors.Is(err, ErrAsyncRequired):
		return OutcomeAsyncRequired
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded),
		errors.Is(err, ErrCancelled), errors.Is(err, ErrTimedOut), errors.Is(err, ErrSuperseded):
		return OutcomeCancelled
	}
	return OutcomeError
}

// Logging logs one record per call when it returns: requestId, action,
// attempt, path (sync or async), duration, outcome (ok, async_required,
// cancelled, error, panic) and err. Successful and async_required calls
// log at Info, cancelled and error at Warn, panics at Error. Payloads and
// results are never logged.
func Logging(logger *slog.Logger) Middleware {
	if logger == nil {
		logger = slog.Default()
	}
	return func(next Endpoint) Endpoint {
		return func(ctx context.Context, c *Call) (*Response, error) {
			start := time.Now()
			resp, err := next(ctx, c)
			path := "sync"
			if c.Async() {
				path = "async"
			}
			outcome := Outcome(err)
			level := slog.LevelInfo
			switch outcome {
			case OutcomeCancelled, OutcomeError:
				level = slog.LevelWarn
			case OutcomePanic:
				level = slog.LevelError
			}
			attrs := []slog.Attr{
				slog.String("requestId", c.Request.ID),
				slog.String("action", c.Request.Action),
				slog.Int("attempt", c.Request.Attempt),
				slog.String("path", path),
				slog.Duration("duration", time.Since(start)),
				slog.String("outcome", outcome),
			}
			if err != nil {
				attrs = append(attrs, slog.String("err", err.Error()))
			}
			logger.LogAttrs(ctx, level, "handler call", attrs...)
			return resp, err
		}
	}
}

// Recover turns a panic in the rest of the chain into a *PanicError and
// logs it, with its stack, at Error level. The Router always recovers
// panics itself; Recover is for placing the recovery elsewhere in a chain,
// or around an Endpoint used without a Router.
func Recover(logger *slog.Logger) Middleware {
	if logger == nil {
		logger = slog.Default()
	}
	return func(next Endpoint) Endpoint {
		return func(ctx context.Context, c *Call) (resp *Response, err error) {
			defer func() {
				v := recover()
				if v == nil {
					return
				}
				pe := newPanicError(c.Request.Action, c.Request.ID, v)
				logger.ErrorContext(ctx, "handler panicked", "requestId", pe.RequestID, "action", pe.Action,
					"panic", fmt.Sprint(v), "stack", string(pe.Stack))
				resp, err = nil, pe
			}()
			return next(ctx, c)
		}
	}
}

func newPanicError(action, requestID string, v any) *PanicError {
	return &PanicError{Action: action, RequestID: requestID, Value: v, Stack: debug.Stack()}
}
