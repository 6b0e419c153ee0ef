package processor

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/streamer/streamer/auth"
	"github.com/streamer/streamer/events"
	"github.com/streamer/streamer/handler"
	"github.com/streamer/streamer/protocol"
)

// Failure codes the processor writes in request.failed (a handler's own
// Fail chooses its own code).
const (
	CodeHandlerError     = protocol.CodeHandlerError     // the handler returned an error without ending the request
	CodeInternal         = protocol.CodeInternal         // the handler panicked
	CodeUnknownAction    = protocol.CodeUnknownAction    // no handler for the submitted action
	CodeValidationFailed = protocol.CodeValidationFailed // the handler's Validate refused the payload
)

// Actor and Source of the events the processor appends.
const (
	Actor  = "system:processor"
	Source = "processor"
)

// Errors.
var (
	// ErrStopped: the worker pool is stopping or stopped.
	ErrStopped = errors.New("processor: stopped")
	// ErrAlreadyStarted: Start was called twice.
	ErrAlreadyStarted = errors.New("processor: already started")
	// ErrContended: the request's stream kept moving under Run; it gave up
	// after a bounded number of reloads (re-delivery will try again).
	ErrContended = errors.New("processor: request stream contended")
	// ErrInvalidDetail: an EventBridge detail that is neither an event
	// envelope nor a reference.
	ErrInvalidDetail = errors.New("processor: invalid EventBridge detail")
)

// Processor runs async requests: one at a time through Run (the AWS
// processor Lambda), or from a bounded queue by a worker pool fed by the
// local change feed (Start, Submit, Consumer).
type Processor struct {
	cfg    Config
	store  events.Store
	router *handler.Router
	log    *slog.Logger
	pool   pool

	runMu   sync.Mutex
	running map[string]*reporter // attempts executing here, by request ID (for Wake)
}

// New returns a Processor; it validates cfg and applies its defaults.
func New(cfg Config) (*Processor, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	p := &Processor{cfg: cfg, store: cfg.Store, router: cfg.Router, log: cfg.Logger, running: map[string]*reporter{}}
	p.pool.init(cfg.QueueSize)
	return p, nil
}

// Run executes request requestID once, idempotently; see docs/handlers.md.
// It loads the stream and decides: a request already ended is left alone;
// a cancel requested, or a Submitted.Deadline passed, before the start ends
// it as cancelled or timed out; an unknown action or a payload the handler
// refuses fails it; otherwise Run appends request.started (attempt = the
// previous attempts + 1) and runs the handler with a Reporter bound to the
// stream until the request ends.
//
// Run returns nil when the request reached an end (written by this run or
// by anyone else) or another worker took it. It returns an error when the
// store failed or ctx ended (a shutdown): the request is then left as it
// is in the log — never marked failed — for re-delivery.
func (p *Processor) Run(ctx context.Context, requestID string) error {
	return p.run(ctx, requestID, p.cfg.WorkerName)
}

// snapshot is a request stream as Run loaded it.
type snapshot struct {
	head         int64
	state        events.State
	submitted    events.Event
	sub          *events.Submitted
	cancelReason string
	lastAt       time.Time // time of the last event
}

func load(ctx context.Context, store events.Store, stream string) (*snapshot, error) {
	evs, err := events.LoadAll(ctx, store, stream, 1)
	if err != nil {
		return nil, fmt.Errorf("load: %w", err)
	}
	if len(evs) == 0 {
		return nil, fmt.Errorf("load: %w", events.ErrStreamNotFound)
	}
	st, err := events.Fold(evs)
	if err != nil {
		return nil, fmt.Errorf("fold: %w", err)
	}
	sub, err := events.PayloadAs[*events.Submitted](evs[0])
	if err != nil {
		return nil, fmt.Errorf("submitted: %w", err)
	}
	s := &snapshot{head: evs[len(evs)-1].Version, state: st, submitted: evs[0], sub: sub, lastAt: evs[len(evs)-1].Time}
	for _, e := range evs {
		if e.Type == events.RequestCancelRequested {
			if c, err := events.PayloadAs[*events.CancelRequested](e); err == nil {
				s.cancelReason = c.Reason
			}
		}
	}
	return s, nil
}

func (s *snapshot) meta() events.Meta {
	return events.Meta{Actor: Actor, Tenant: s.sub.Tenant, CorrelationID: s.submitted.Meta.CorrelationID,
		CausationID: s.submitted.ID, TraceID: s.submitted.Meta.TraceID, Source: Source}
}

func (p *Processor) run(ctx context.Context, id, worker string) error {
	stream := events.RequestStream(id)
	if _, _, err := events.ParseStream(stream); err != nil {
		return fmt.Errorf("run %s: %w", id, err)
	}
	firstAttempt := -1
	for try := 0; try <= maxConflicts; try++ {
		snap, err := load(ctx, p.store, stream)
		if err != nil {
			return fmt.Errorf("run %s: %w", id, err)
		}
		if firstAttempt < 0 {
			firstAttempt = snap.state.Attempt
		} else if snap.state.Attempt > firstAttempt && !snap.state.Terminal() {
			p.log.InfoContext(ctx, "processor: request taken by another worker", "requestId", id, "attempt", snap.state.Attempt)
			return nil
		}
		started, err := p.decide(ctx, id, stream, snap, worker)
		switch {
		case errors.Is(err, events.ErrVersionConflict):
			continue // someone moved the stream: reload and decide again
		case err != nil:
			return fmt.Errorf("run %s: %w", id, err)
		case started == nil:
			return nil
		}
		return p.execute(ctx, snap, started)
	}
	return fmt.Errorf("run %s: %w", id, ErrContended)
}

// start is what decide hands to execute.
type start struct {
	req     *handler.Request
	attempt int
	head    int64
}

// decide ends a request that must not run, or starts it. It returns a nil
// start (and nil error) when the request needs nothing more from this run.
func (p *Processor) decide(ctx context.Context, id, stream string, snap *snapshot, worker string) (*start, error) {
	st, sub, meta := snap.state, snap.sub, snap.meta()
	log := p.log.With("requestId", id, "action", sub.Action)
	end := func(typ string, payload any, msg string) (*start, error) {
		ev, err := events.New(typ, payload, meta)
		if err != nil {
			return nil, err
		}
		if _, err := p.store.Append(ctx, stream, snap.head, ev); err != nil {
			return nil, err
		}
		log.InfoContext(ctx, msg, "event", typ)
		return nil, nil
	}
	now := p.cfg.Now()
	if st.Terminal() {
		log.DebugContext(ctx, "processor: request already ended", "status", st.Status)
		return nil, nil
	}
	if st.CancelRequested {
		return end(events.RequestCancelled, events.Cancelled{Reason: snap.cancelReason}, "processor: cancelled before start")
	}
	if sub.Deadline != nil && !now.Before(*sub.Deadline) {
		return end(events.RequestTimedOut, events.TimedOut{Deadline: sub.Deadline.UTC(), LastSeenAt: snap.lastAt}, "processor: deadline passed before start")
	}
	req := &handler.Request{
		ID: id, Action: sub.Action, Payload: sub.Payload,
		Principal:    auth.Principal{User: sub.Owner, Tenant: sub.Tenant},
		ConnectionID: sub.ConnectionID, ClientRequestID: sub.ClientRequestID,
		Attempt: st.Attempt + 1, SubmittedAt: snap.submitted.Time,
	}
	if _, ok := p.router.Lookup(sub.Action); !ok {
		return end(events.RequestFailed, events.Failed{Code: CodeUnknownAction, Message: fmt.Sprintf("no handler for action %q", sub.Action), Attempt: st.Attempt},
			"processor: unknown action")
	}
	if err := p.router.Validate(req); err != nil {
		code := CodeValidationFailed
		var pe *handler.PanicError
		if errors.As(err, &pe) {
			code = CodeInternal
		}
		return end(events.RequestFailed, events.Failed{Code: code, Message: err.Error(), Attempt: st.Attempt}, "processor: payload refused")
	}
	ev, err := events.New(events.RequestStarted, events.Started{Attempt: req.Attempt, Worker: worker}, meta)
	if err != nil {
		return nil, err
	}
	stored, err := p.store.Append(ctx, stream, snap.head, ev)
	if err != nil {
		return nil, err
	}
	return &start{req: req, attempt: req.Attempt, head: stored[len(stored)-1].Version}, nil
}

// execute runs the handler of a started attempt until the request ends.
func (p *Processor) execute(ctx context.Context, snap *snapshot, s *start) error {
	hctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	if dl := snap.sub.Deadline; dl != nil {
		// The handler sees the deadline (ctx.Deadline) and its context
		// ends exactly then; the watcher writes request.timed_out.
		var cancelDL context.CancelFunc
		hctx, cancelDL = context.WithDeadlineCause(hctx, *dl, handler.ErrTimedOut)
		defer cancelDL()
	}
	r := &reporter{
		p: p, id: s.req.ID, stream: events.RequestStream(s.req.ID), attempt: s.attempt, meta: snap.meta(),
		parent: ctx, cancel: cancel, head: s.head, deadline: snap.sub.Deadline,
		co: newCoalescer(p.cfg.Coalesce, snap.state.Percentage), lastActivity: p.cfg.Now(),
		wake: make(chan struct{}, 1),
	}
	p.register(r)
	defer p.unregister(r)
	began := time.Now()
	stopWatch := make(chan struct{})
	var watch sync.WaitGroup
	watch.Go(func() { p.watch(r, stopWatch) })

	done := make(chan error, 1)
	go func() { done <- p.router.ProcessWithProgress(hctx, s.req, r) }()
	var herr error
	abandoned := false
	select {
	case herr = <-done:
	case <-hctx.Done():
		grace := time.NewTimer(p.cfg.HandlerGrace)
		select {
		case herr = <-done:
		case <-grace.C:
			abandoned = true
		}
		grace.Stop()
	}
	close(stopWatch)
	watch.Wait()
	r.stopFlush()
	if abandoned {
		p.log.WarnContext(ctx, "processor: handler did not return after its context was cancelled; abandoned",
			"requestId", s.req.ID, "attempt", s.attempt, "grace", p.cfg.HandlerGrace)
	}
	return p.settle(ctx, r, herr, errors.Is(context.Cause(hctx), handler.ErrTimedOut), began)
}

// settle writes the end of an attempt whose handler returned (or was
// abandoned) without the request having ended.
func (p *Processor) settle(ctx context.Context, r *reporter, herr error, deadlinePassed bool, began time.Time) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	switch {
	case r.ended:
	case ctx.Err() != nil:
		r.endLocked(outcomeInterrupted, context.Cause(ctx))
	case deadlinePassed && r.deadline != nil: // the handler returned at its deadline before the watcher's next round
		r.terminateLocked(outcomeTimedOut, handler.ErrTimedOut, r.deadlineEvent(), true)
	case herr != nil:
		code := CodeHandlerError
		var pe *handler.PanicError
		if errors.As(herr, &pe) {
			code = CodeInternal
		}
		ev, err := events.New(events.RequestFailed, events.Failed{Code: code, Message: herr.Error(), Attempt: r.attempt}, r.meta)
		if err != nil {
			return err
		}
		r.terminateLocked(outcomeFailed, handler.ErrRequestEnded, ev, true)
	default:
		r.terminateLocked(outcomeCompleted, handler.ErrRequestEnded, events.MustNew(events.RequestCompleted, events.Completed{}, r.meta), false)
	}
	attrs := []any{"requestId", r.id, "attempt", r.attempt, "outcome", r.outcome, "duration", time.Since(began)}
	switch {
	case r.outcome == outcomeInterrupted:
		p.log.InfoContext(ctx, "processor: attempt interrupted by shutdown; left for re-delivery", attrs...)
		return fmt.Errorf("run %s: interrupted, left for re-delivery: %w", r.id, context.Cause(ctx))
	case r.endErr != nil:
		p.log.ErrorContext(ctx, "processor: could not write the end of the request; left for re-delivery", append(attrs, "err", r.endErr)...)
		return fmt.Errorf("run %s: %w", r.id, r.endErr)
	}
	if herr != nil {
		attrs = append(attrs, "handlerErr", herr.Error())
	}
	p.log.InfoContext(ctx, "processor: attempt ended", attrs...)
	return nil
}

// watch checks the log head every CancelPoll, and at once when Wake is
// called for the request, for a cancel request (or an end written
// elsewhere), and checks the deadline and the silence.
func (p *Processor) watch(r *reporter, stop <-chan struct{}) {
	t := time.NewTicker(p.cfg.CancelPoll)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case <-r.parent.Done():
			return
		case <-t.C:
		case <-r.wake:
		}
		if r.check() {
			return
		}
	}
}

// Wake makes the attempt of request requestID running in this process, if
// any, read its log head now instead of at its next CancelPoll tick, and
// reports whether one was running. The local stack calls it from a bus
// rule on request.cancel_requested, so a cancel ends a running handler's
// context within one store read, and CancelPoll is only the backstop (and
// the clock of the silence check). Wake never blocks: wakes that arrive
// while a check is pending are merged into it.
func (p *Processor) Wake(requestID string) bool {
	p.runMu.Lock()
	r := p.running[requestID]
	p.runMu.Unlock()
	if r == nil {
		return false
	}
	select {
	case r.wake <- struct{}{}:
	default:
	}
	return true
}

// Cancel makes a request.cancel_requested already in the log take effect
// now in this process: it wakes the attempt running here (Wake), or, when
// none runs here, runs the request once (Run), which ends a request that
// has not started — queued behind busy workers, or not yet delivered — as
// cancelled without starting it, and does nothing to one that has ended.
// Racing a worker that takes the same request is safe: both decide from
// the log, and the append of the loser fails on the version and reloads.
// The local stacks call it for every request.cancel_requested; on AWS the
// processor Lambda has no such trigger (queued requests are ended when
// the invocation for their request.submitted runs).
func (p *Processor) Cancel(ctx context.Context, requestID string) error {
	if p.Wake(requestID) {
		return nil
	}
	return p.Run(ctx, requestID)
}

func (p *Processor) register(r *reporter) {
	p.runMu.Lock()
	p.running[r.id] = r
	p.runMu.Unlock()
}

func (p *Processor) unregister(r *reporter) {
	p.runMu.Lock()
	if p.running[r.id] == r {
		delete(p.running, r.id)
	}
	p.runMu.Unlock()
}

// deadlineEvent is request.timed_out for the Submitted.Deadline.
func (r *reporter) deadlineEvent() events.Event {
	return events.MustNew(events.RequestTimedOut, events.TimedOut{Deadline: r.deadline.UTC(), LastSeenAt: r.lastActivity.UTC()}, r.meta)
}

// check is one watcher round; it reports whether the attempt has ended.
func (r *reporter) check() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.ended {
		return true
	}
	obs, err := r.reloadLocked(r.parent)
	if err != nil {
		if r.parent.Err() == nil {
			r.p.log.Warn("processor: watcher could not load the log head", "requestId", r.id, "err", err)
		}
		return false
	}
	if r.reactLocked(obs) {
		return true
	}
	now, silence := r.p.cfg.Now(), r.p.cfg.SilenceTimeout
	last := r.lastActivity.UTC()
	switch {
	case r.deadline != nil && !now.Before(*r.deadline):
		r.terminateLocked(outcomeTimedOut, handler.ErrTimedOut, r.deadlineEvent(), true)
	case now.Sub(r.lastActivity) >= silence:
		r.terminateLocked(outcomeTimedOut, handler.ErrTimedOut,
			events.MustNew(events.RequestTimedOut, events.TimedOut{Deadline: last.Add(silence), LastSeenAt: last}, r.meta), true)
	}
	return r.ended
}
