package handler

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/streamer/streamer/auth"
	"github.com/streamer/streamer/protocol"
)

// Router holds the handlers by action and runs them through the middleware
// chain. It is safe for concurrent use; handlers and middleware are usually
// registered once, before the first request.
type Router struct {
	threshold time.Duration
	logger    *slog.Logger

	mu       sync.RWMutex
	handlers map[string]Handler
	mws      []Middleware
}

// RouterOption tunes a Router.
type RouterOption func(*Router)

// WithAsyncThreshold sets the estimate above which a ProgressHandler runs
// asynchronously (default DefaultAsyncThreshold). A negative d is ignored.
func WithAsyncThreshold(d time.Duration) RouterOption {
	return func(r *Router) {
		if d >= 0 {
			r.threshold = d
		}
	}
}

// WithLogger sets the logger of the Router's own panic safety net (default
// slog.Default()).
func WithLogger(l *slog.Logger) RouterOption {
	return func(r *Router) {
		if l != nil {
			r.logger = l
		}
	}
}

// NewRouter returns an empty Router.
func NewRouter(opts ...RouterOption) *Router {
	r := &Router{threshold: DefaultAsyncThreshold, logger: slog.Default(), handlers: map[string]Handler{}}
	for _, o := range opts {
		o(r)
	}
	return r
}

// Threshold is the Router's async threshold.
func (r *Router) Threshold() time.Duration { return r.threshold }

// Register adds h under h.Action(). It refuses a nil handler, an action
// that cannot be routed (ErrInvalidAction), a reserved action
// (ErrReservedAction) and an action already registered
// (ErrDuplicateAction).
func (r *Router) Register(h Handler) error {
	if h == nil {
		return fmt.Errorf("%w: nil handler", ErrInvalidAction)
	}
	action := h.Action()
	if err := checkAction(action); err != nil {
		return err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, dup := r.handlers[action]; dup {
		return fmt.Errorf("%w: %q", ErrDuplicateAction, action)
	}
	r.handlers[action] = h
	return nil
}

func checkAction(action string) error {
	switch {
	case action == "":
		return fmt.Errorf("%w: empty", ErrInvalidAction)
	case len(action) > protocol.MaxActionLength:
		return fmt.Errorf("%w: %q is longer than %d bytes", ErrInvalidAction, action, protocol.MaxActionLength)
	case !utf8.ValidString(action):
		return fmt.Errorf("%w: %q is not valid UTF-8", ErrInvalidAction, action)
	case strings.HasPrefix(action, "$"):
		return fmt.Errorf("%w: %q: names starting with '$' are API Gateway's route keys", ErrInvalidAction, action)
	case strings.IndexFunc(action, func(c rune) bool { return unicode.IsSpace(c) || unicode.IsControl(c) }) >= 0:
		return fmt.Errorf("%w: %q holds spaces or control characters", ErrInvalidAction, action)
	case protocol.IsReserved(action):
		return fmt.Errorf("%w: %q", ErrReservedAction, action)
	}
	return nil
}

// Use appends middleware to the chain. The first middleware ever added is
// the outermost: Use(a, b) runs a, then b, then the handler.
func (r *Router) Use(mw ...Middleware) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, m := range mw {
		if m != nil {
			r.mws = append(r.mws, m)
		}
	}
}

// Lookup returns the handler of action.
func (r *Router) Lookup(action string) (Handler, bool) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	h, ok := r.handlers[action]
	return h, ok
}

// Actions lists the registered actions, sorted.
func (r *Router) Actions() []string {
	r.mu.RLock()
	defer r.mu.RUnlock()
	out := make([]string, 0, len(r.handlers))
	for a := range r.handlers {
		out = append(out, a)
	}
	slices.Sort(out)
	return out
}

// Async reports whether h runs asynchronously without calling Process
// first: its EstimatedDuration exceeds the threshold and it implements
// ProgressHandler. (A handler may still turn a call async at run time by
// returning ErrAsyncRequired from Process.)
func (r *Router) Async(h Handler) bool {
	_, ok := h.(ProgressHandler)
	return ok && h.EstimatedDuration() > r.threshold
}

// Validate runs the handler's Validate for req.Action: ErrUnknownAction
// when no handler is registered, a *ValidationError wrapping the handler's
// error when it refuses the payload, a *PanicError when Validate panics.
// Process and ProcessWithProgress do not validate: callers validate once,
// before anything is stored.
func (r *Router) Validate(req *Request) (err error) {
	h, err := r.lookup(req)
	if err != nil {
		return err
	}
	defer func() {
		if v := recover(); v != nil {
			err = newPanicError(h.Action(), req.ID, v)
			r.logger.Error("handler validate panicked", "requestId", req.ID, "action", h.Action(), "panic", fmt.Sprint(v), "stack", string(err.(*PanicError).Stack))
		}
	}()
	if verr := h.Validate(req); verr != nil {
		return &ValidationError{Action: h.Action(), Err: verr}
	}
	return nil
}

// Process runs req on the sync path: the middleware chain, then the
// handler's Process. It returns ErrUnknownAction for an unregistered
// action, ErrAsyncRequired (possibly wrapped) when the handler wants to run
// asynchronously, and a *PanicError when the handler panicked. A nil
// Response with a nil error means a result of no value.
func (r *Router) Process(ctx context.Context, req *Request) (*Response, error) {
	h, err := r.lookup(req)
	if err != nil {
		return nil, err
	}
	return r.run(ctx, &Call{Request: req, Handler: h}, syncEndpoint)
}

// ProcessWithProgress runs req on the async path: the middleware chain,
// then the handler's ProcessWithProgress with rep. A handler that is not a
// ProgressHandler has its Process run instead and rep.Complete called with
// its result; if that Process returns ErrAsyncRequired again, the call fails
// with ErrNotProgressHandler. Like Process, it never lets a panic escape.
func (r *Router) ProcessWithProgress(ctx context.Context, req *Request, rep Reporter) error {
	if rep == nil {
		return errors.New("handler: ProcessWithProgress needs a Reporter")
	}
	h, err := r.lookup(req)
	if err != nil {
		return err
	}
	_, err = r.run(ctx, &Call{Request: req, Handler: h, Reporter: rep}, asyncEndpoint)
	return err
}

func (r *Router) lookup(req *Request) (Handler, error) {
	if req == nil {
		return nil, errors.New("handler: nil request")
	}
	h, ok := r.Lookup(req.Action)
	if !ok {
		return nil, fmt.Errorf("%w: %q", ErrUnknownAction, req.Action)
	}
	return h, nil
}

// run puts the request's principal on ctx (unless ctx has one) and builds
// the chain: a recovery layer outside everything (a panicking
// middleware), the registered middleware, and a recovery layer right around
// the handler (so every middleware sees a handler's panic as a *PanicError).
func (r *Router) run(ctx context.Context, c *Call, final Endpoint) (*Response, error) {
	if _, ok := auth.FromContext(ctx); !ok && c.Request.Principal.User != "" {
		ctx = auth.WithPrincipal(ctx, c.Request.Principal)
	}
	r.mu.RLock()
	mws := slices.Clone(r.mws)
	r.mu.RUnlock()
	safety := Recover(r.logger)
	ep := safety(final)
	for i := len(mws) - 1; i >= 0; i-- {
		ep = mws[i](ep)
	}
	return safety(ep)(ctx, c)
}

// syncEndpoint is the innermost step of the sync path.
func syncEndpoint(ctx context.Context, c *Call) (*Response, error) {
	return c.Handler.Process(ctx, c.Request)
}

// asyncEndpoint is the innermost step of the async path.
func asyncEndpoint(ctx context.Context, c *Call) (*Response, error) {
	if ph, ok := c.Handler.(ProgressHandler); ok {
		return nil, ph.ProcessWithProgress(ctx, c.Request, c.Reporter)
	}
	resp, err := c.Handler.Process(ctx, c.Request)
	if errors.Is(err, ErrAsyncRequired) {
		return nil, fmt.Errorf("%w: %q", ErrNotProgressHandler, c.Handler.Action())
	}
	if err != nil {
		return nil, err
	}
	var result json.RawMessage
	if resp != nil {
		result = resp.Result
	}
	return nil, c.Reporter.Complete(ctx, result)
}
