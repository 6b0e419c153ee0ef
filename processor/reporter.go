package processor

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/streamer/streamer/events"
	"github.com/streamer/streamer/handler"
)

// Outcomes of an attempt, as Run logs them.
const (
	outcomeCompleted      = "completed"
	outcomeFailed         = "failed"
	outcomeCancelled      = "cancelled"
	outcomeTimedOut       = "timed_out"
	outcomeEndedElsewhere = "ended_elsewhere" // another writer ended the request
	outcomeSuperseded     = "superseded"      // a newer attempt started
	outcomeInterrupted    = "interrupted"     // shutdown; left for re-delivery
)

// maxConflicts bounds the reload-and-retry rounds of one append.
const maxConflicts = 8

// reporter is one attempt of one request: the handler.Reporter the handler
// writes through, bound to the request stream, and the state the watcher
// and Run share. Every field below mu, and every append to the stream by
// this attempt, is guarded by mu, so appends of one attempt are serialised
// and always continue the head this attempt last saw.
type reporter struct {
	p        *Processor
	id       string
	stream   string
	attempt  int
	meta     events.Meta
	parent   context.Context         // Run's context: its end is a shutdown
	cancel   context.CancelCauseFunc // cancels the handler's context
	deadline *time.Time              // Submitted.Deadline, if any
	wake     chan struct{}           // Wake: check the log head now (buffer 1)

	mu           sync.Mutex
	head         int64
	co           *coalescer
	lastActivity time.Time
	ended        bool   // the end of this attempt is decided: nothing more is written
	outcome      string // set with ended
	endErr       error  // a store failure while writing the end the processor decided
	flush        *time.Timer
	cancelReason string // reason of a cancel_requested seen in the log
}

var _ handler.Reporter = (*reporter)(nil)

// Report implements handler.Reporter.
func (r *reporter) Report(ctx context.Context, percentage float64, message string) error {
	return r.ReportWithMetadata(ctx, percentage, message, nil)
}

// ReportWithMetadata implements handler.Reporter: the report goes through
// the coalescer and is written, kept pending, or refused.
func (r *reporter) ReportWithMetadata(ctx context.Context, percentage float64, message string, metadata map[string]any) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if err := r.usableLocked(); err != nil {
		return err
	}
	now := r.p.cfg.Now()
	r.lastActivity = now
	rep := report{pct: percentage, msg: message, md: metadata}
	write, err := r.co.offer(now, rep)
	if err != nil {
		return err
	}
	if !write {
		r.armFlushLocked(now)
		return nil
	}
	return r.writeProgressLocked(ctx, rep)
}

// Complete implements handler.Reporter: it appends request.completed
// (dropping a pending report: completion means 100%).
func (r *reporter) Complete(ctx context.Context, result json.RawMessage) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if err := r.usableLocked(); err != nil {
		return err
	}
	r.lastActivity = r.p.cfg.Now()
	if len(result) > 0 && !json.Valid(result) {
		return errors.New("processor: complete: result is not valid JSON")
	}
	ev, err := events.New(events.RequestCompleted, events.Completed{Result: result}, r.meta)
	if err != nil {
		return err
	}
	if err := r.writeLocked(ctx, ev); err != nil {
		return err
	}
	r.co.drop()
	r.endLocked(outcomeCompleted, handler.ErrRequestEnded)
	return nil
}

// Fail implements handler.Reporter: it appends request.failed (after a
// pending report above the last written one, in the same append). An
// empty code becomes handler_error.
func (r *reporter) Fail(ctx context.Context, code, message string, retryable bool) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if err := r.usableLocked(); err != nil {
		return err
	}
	r.lastActivity = r.p.cfg.Now()
	if code == "" {
		code = CodeHandlerError
	}
	ev, err := events.New(events.RequestFailed, events.Failed{Code: code, Message: message, Retryable: retryable, Attempt: r.attempt}, r.meta)
	if err != nil {
		return err
	}
	if err := r.writeLocked(ctx, r.withPendingLocked(ev)...); err != nil {
		return err
	}
	r.co.drop()
	r.endLocked(outcomeFailed, handler.ErrRequestEnded)
	return nil
}

// usableLocked refuses writes once the attempt has ended or the processor
// is shutting down; a call past the Submitted.Deadline ends the attempt as
// timed out.
func (r *reporter) usableLocked() error {
	if r.ended {
		return r.endedErrLocked()
	}
	if err := r.parent.Err(); err != nil {
		return fmt.Errorf("processor: shutting down: %w", err)
	}
	if r.deadline != nil && !r.p.cfg.Now().Before(*r.deadline) {
		r.terminateLocked(outcomeTimedOut, handler.ErrTimedOut, r.deadlineEvent(), true)
		return r.endedErrLocked()
	}
	return nil
}

func (r *reporter) endedErrLocked() error {
	switch r.outcome {
	case outcomeCancelled:
		return fmt.Errorf("%w: %w", handler.ErrRequestEnded, handler.ErrCancelled)
	case outcomeTimedOut:
		return fmt.Errorf("%w: %w", handler.ErrRequestEnded, handler.ErrTimedOut)
	case outcomeSuperseded, outcomeEndedElsewhere:
		return fmt.Errorf("%w: %w", handler.ErrRequestEnded, handler.ErrSuperseded)
	}
	return fmt.Errorf("%w (%s)", handler.ErrRequestEnded, r.outcome)
}

func (r *reporter) progressEvent(rep report) (events.Event, error) {
	return events.New(events.RequestProgressed, events.Progress{Percentage: rep.pct, Message: rep.msg, Metadata: rep.md}, r.meta)
}

// writeProgressLocked appends rep as request.progress.
func (r *reporter) writeProgressLocked(ctx context.Context, rep report) error {
	ev, err := r.progressEvent(rep)
	if err != nil {
		return err
	}
	if err := r.writeLocked(ctx, ev); err != nil {
		return err
	}
	r.co.wrote(rep, r.p.cfg.Now())
	return nil
}

// withPendingLocked puts the pending report worth keeping before end
// (the pending report stays pending until the caller drops it).
func (r *reporter) withPendingLocked(end events.Event) []events.Event {
	p := r.co.beforeEnd()
	if p == nil {
		return []events.Event{end}
	}
	pe, err := r.progressEvent(*p)
	if err != nil { // metadata that does not marshal: the pending report is dropped
		r.p.log.Warn("processor: pending progress dropped", "requestId", r.id, "err", err)
		return []events.Event{end}
	}
	return []events.Event{pe, end}
}

// writeLocked appends evs for the handler. On a version conflict it
// reloads what was appended meanwhile and reacts: the request ended or was
// taken over → the attempt ends quietly; cancel was requested → the
// attempt ends as cancelled; anything else → retry on the new head.
func (r *reporter) writeLocked(ctx context.Context, evs ...events.Event) error {
	for try := 0; ; try++ {
		stored, err := r.p.store.Append(ctx, r.stream, r.head, evs...)
		if err == nil {
			r.head = stored[len(stored)-1].Version
			return nil
		}
		if !errors.Is(err, events.ErrVersionConflict) || try >= maxConflicts {
			return err
		}
		obs, lerr := r.reloadLocked(r.parent)
		if lerr != nil {
			return fmt.Errorf("reload after a version conflict: %w", lerr)
		}
		if r.reactLocked(obs) {
			return r.endedErrLocked()
		}
	}
}

// observation is what a reload saw after the last known head.
type observation struct {
	cancelRequested bool
	terminal        bool
	superseded      bool
}

// reloadLocked loads the events after the known head and advances it.
func (r *reporter) reloadLocked(ctx context.Context) (observation, error) {
	var obs observation
	evs, err := events.LoadAll(ctx, r.p.store, r.stream, r.head+1)
	if err != nil {
		return obs, err
	}
	for _, e := range evs {
		r.head = e.Version
		switch {
		case events.IsTerminal(e.Type):
			obs.terminal = true
		case e.Type == events.RequestCancelRequested:
			obs.cancelRequested = true
			if p, err := events.PayloadAs[*events.CancelRequested](e); err == nil {
				r.cancelReason = p.Reason
			}
		case e.Type == events.RequestStarted:
			if p, err := events.PayloadAs[*events.Started](e); err == nil && p.Attempt > r.attempt {
				obs.superseded = true
			}
		}
	}
	return obs, nil
}

// reactLocked acts on obs and reports whether the attempt has ended.
func (r *reporter) reactLocked(obs observation) bool {
	switch {
	case obs.terminal:
		r.endLocked(outcomeEndedElsewhere, handler.ErrSuperseded)
	case obs.superseded:
		r.endLocked(outcomeSuperseded, handler.ErrSuperseded)
	case obs.cancelRequested:
		r.terminateLocked(outcomeCancelled, handler.ErrCancelled, r.cancelledEvent(), true)
	}
	return r.ended
}

func (r *reporter) cancelledEvent() events.Event {
	return events.MustNew(events.RequestCancelled, events.Cancelled{Reason: r.cancelReason}, r.meta)
}

// endLocked marks the attempt ended and cancels the handler's context
// with cause (the handler's own Complete or Fail included: after them the
// handler has nothing left to do for the request).
func (r *reporter) endLocked(outcome string, cause error) {
	if r.ended {
		return
	}
	r.ended, r.outcome = true, outcome
	if r.flush != nil {
		r.flush.Stop()
		r.flush = nil
	}
	if cause != nil {
		r.cancel(cause)
	}
}

// terminateLocked is an end the processor decides (cancelled, timed_out,
// or failed/completed after the handler returned): it ends the attempt
// (cancelling the handler's context with cause), then appends end, after
// the pending report when withPending. On a version conflict it reloads:
// an end written elsewhere stands; a cancel request turns end into
// request.cancelled. A store failure is kept in endErr: the request stays
// as it is in the log, for re-delivery.
func (r *reporter) terminateLocked(outcome string, cause error, end events.Event, withPending bool) {
	if r.ended {
		return
	}
	r.endLocked(outcome, cause)
	evs := []events.Event{end}
	if withPending {
		evs = r.withPendingLocked(end)
	}
	r.co.drop()
	for try := 0; ; try++ {
		stored, err := r.p.store.Append(r.parent, r.stream, r.head, evs...)
		if err == nil {
			r.head = stored[len(stored)-1].Version
			return
		}
		if !errors.Is(err, events.ErrVersionConflict) || try >= maxConflicts {
			r.endErr = fmt.Errorf("append %s: %w", end.Type, err)
			return
		}
		obs, lerr := r.reloadLocked(r.parent)
		if lerr != nil {
			r.endErr = fmt.Errorf("reload after a version conflict: %w", lerr)
			return
		}
		switch {
		case obs.terminal:
			r.outcome = outcomeEndedElsewhere
			return
		case obs.superseded:
			r.outcome = outcomeSuperseded
			return
		case obs.cancelRequested && end.Type != events.RequestCancelled:
			r.outcome = outcomeCancelled
			end = r.cancelledEvent()
			evs[len(evs)-1] = end
		}
	}
}

// armFlushLocked schedules the trailing flush of a pending report.
func (r *reporter) armFlushLocked(now time.Time) {
	at, ok := r.co.flushAt()
	if !ok || r.flush != nil {
		return
	}
	r.flush = time.AfterFunc(max(at.Sub(now), 0), r.flushPending)
}

// flushPending writes the pending report when it is still due.
func (r *reporter) flushPending() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.flush = nil
	if r.ended || r.parent.Err() != nil {
		return
	}
	if _, ok := r.co.flushAt(); !ok {
		return
	}
	if err := r.writeProgressLocked(r.parent, *r.co.pending); err != nil && !r.ended {
		r.p.log.Warn("processor: trailing progress flush failed", "requestId", r.id, "attempt", r.attempt, "err", err)
	}
}

// stopFlush stops the trailing flush timer (the attempt is over).
func (r *reporter) stopFlush() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.flush != nil {
		r.flush.Stop()
		r.flush = nil
	}
}
