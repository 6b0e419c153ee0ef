package fanout

import (
	"context"
	"errors"
	"sync"

	"github.com/streamer/streamer/connections"
)

// seqResult is what became of one connection's sequence.
type seqResult struct {
	conn                               string
	posts, retries, dropped, truncated int
	gone                               bool
	failAt                             *item   // its `gone` could not be recorded: fail the stream here
	failErr                            error   // why
	cut                                []*item // not delivered because ctx ended
}

// outcome of posting one item to one connection.
type outcome int

const (
	delivered outcome = iota
	gone              // the connection no longer exists
	dropped           // retries or budget used up, or refused for good
	cut               // ctx ended
)

// slots bounds the posts in flight. A sequence holds a slot while it posts
// and gives it up while it backs off, so a throttled or failing connection
// never keeps another from posting.
type slots chan struct{}

func (s slots) acquire(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	select {
	case s <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (s slots) release() { <-s }

// deliverAll runs one sequence per connection, concurrently, and returns
// their results in the order of conns.
func (f *Fanout) deliverAll(ctx context.Context, conns []string, seqs map[string][]*item) []seqResult {
	results := make([]seqResult, len(conns))
	sem := make(slots, f.cfg.Parallelism)
	var wg sync.WaitGroup
	for i, c := range conns {
		if err := sem.acquire(ctx); err != nil {
			for j := i; j < len(conns); j++ {
				results[j] = seqResult{conn: conns[j], cut: seqs[conns[j]]}
			}
			break
		}
		wg.Go(func() { results[i] = f.deliver(ctx, sem, c, seqs[c]) })
	}
	wg.Wait()
	return results
}

// deliver posts seq to conn in order. It is called holding one slot of sem.
// It stops at the first item it cannot deliver: after `gone` nothing more
// can be, and after a drop the client has a gap anyway and must resubscribe,
// so posting later versions would only delay the others.
func (f *Fanout) deliver(ctx context.Context, sem slots, conn string, seq []*item) seqResult {
	held := true
	defer func() {
		if held {
			sem.release()
		}
	}()
	bctx, cancel := context.WithTimeout(ctx, f.cfg.Budget)
	defer cancel()
	r := seqResult{conn: conn}
	for i, it := range seq {
		switch f.post(ctx, bctx, sem, &held, conn, it, &r) {
		case delivered:
			r.posts++
		case gone:
			r.gone = true
			if err := f.recordGone(ctx, conn, it.ev); err != nil {
				r.failAt, r.failErr = it, err
			}
			return r
		case dropped:
			r.dropped += len(seq) - i
			if rest := len(seq) - i - 1; rest > 0 {
				f.log.WarnContext(ctx, "fanout: later events of the batch dropped for the connection", "connection", conn, "count", rest)
			}
			return r
		case cut:
			r.cut = seq[i:]
			return r
		}
	}
	return r
}

// post posts it to conn, retrying transient failures with backoff. ctx is
// the batch's context, bctx the sequence's budget; *held says whether this
// sequence holds a slot of sem.
func (f *Fanout) post(ctx, bctx context.Context, sem slots, held *bool, conn string, it *item, r *seqResult) outcome {
	data, bare := it.frame.full, false
	if data == nil {
		data, bare = it.frame.bare, true
	}
	warn := func(msg string, attempts int, err error) {
		f.log.WarnContext(ctx, msg, "connection", conn, "request", it.plan.requestID, "version", it.ev.Version,
			"type", it.ev.Type, "attempts", attempts, "trace", it.ev.Meta.TraceID, "err", err)
	}
	for attempt := 0; ; {
		if !*held {
			if err := sem.acquire(bctx); err != nil {
				return f.stopped(ctx, warn, attempt, err)
			}
			*held = true
		}
		actx, cancel := context.WithTimeout(bctx, f.cfg.PostTimeout)
		err := f.cfg.Poster.Post(actx, conn, data)
		cancel()
		attempt++
		switch {
		case err == nil:
			if bare {
				r.truncated++
			}
			return delivered
		case errors.Is(err, connections.ErrGone):
			return gone
		case ctx.Err() != nil || bctx.Err() != nil:
			return f.stopped(ctx, warn, attempt, err)
		case errors.Is(err, connections.ErrTooLarge) && !bare:
			// The API's limit is below ours: send the frame without data
			// at once (not a retry; the size will not change).
			warn("fanout: message too large, posting the event without its data", attempt, err)
			data, bare = it.frame.bare, true
			continue
		case errors.Is(err, connections.ErrTooLarge):
			warn("fanout: event dropped for the connection: even its frame without data is too large", attempt, err)
			return dropped
		case attempt > f.cfg.Retries:
			warn("fanout: event dropped for the connection after retries", attempt, err)
			return dropped
		}
		// Throttled, unavailable, an attempt timeout or an unknown error:
		// back off without holding a slot, then try again.
		r.retries++
		sem.release()
		*held = false
		if serr := sleep(bctx, f.backoff(attempt-1)); serr != nil {
			return f.stopped(ctx, warn, attempt, errors.Join(err, serr))
		}
	}
}

// stopped is the outcome of a post interrupted by the end of ctx (cut) or
// of the sequence's budget (dropped).
func (f *Fanout) stopped(ctx context.Context, warn func(string, int, error), attempts int, err error) outcome {
	if ctx.Err() != nil {
		return cut
	}
	warn("fanout: event dropped for the connection: its budget for the batch ran out", attempts, err)
	return dropped
}
