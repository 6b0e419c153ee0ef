package processor

import (
	"context"
	"fmt"
	"sync"

	"github.com/streamer/streamer/events"
)

// pool is the worker pool's state.
type pool struct {
	queue chan string

	mu       sync.Mutex
	inPool   map[string]bool // queued or running here: a second Submit is a no-op
	started  bool
	stopOnce sync.Once
	stopCh   chan struct{}      // closed when the pool stops taking work
	cancel   context.CancelFunc // cancels every running attempt
	workers  sync.WaitGroup
}

func (pl *pool) init(size int) {
	pl.queue = make(chan string, size)
	pl.inPool = map[string]bool{}
	pl.stopCh = make(chan struct{})
}

func (pl *pool) beginStop() {
	pl.stopOnce.Do(func() { close(pl.stopCh) })
}

func (pl *pool) release(id string) {
	pl.mu.Lock()
	delete(pl.inPool, id)
	pl.mu.Unlock()
}

// Start starts Config.Workers workers and returns. They take requests
// from the queue (Submit) and Run each. When ctx ends, the pool stops at
// once: running attempts are cancelled and left for re-delivery. Stop is
// the graceful way.
func (p *Processor) Start(ctx context.Context) error {
	pl := &p.pool
	pl.mu.Lock()
	defer pl.mu.Unlock()
	select {
	case <-pl.stopCh:
		return ErrStopped
	default:
	}
	if pl.started {
		return ErrAlreadyStarted
	}
	pl.started = true
	runCtx, cancel := context.WithCancel(ctx)
	pl.cancel = cancel
	for i := range p.cfg.Workers {
		worker := fmt.Sprintf("%s/%d", p.cfg.WorkerName, i+1)
		pl.workers.Go(func() { p.work(runCtx, worker) })
	}
	go func() {
		select {
		case <-runCtx.Done():
			pl.beginStop()
		case <-pl.stopCh:
		}
	}()
	return nil
}

func (p *Processor) work(ctx context.Context, worker string) {
	pl := &p.pool
	for {
		select {
		case <-pl.stopCh:
			return
		case <-ctx.Done():
			return
		case id := <-pl.queue:
			select {
			case <-pl.stopCh: // stopping: leave it queued in the log
				pl.release(id)
				return
			default:
			}
			if err := p.run(ctx, id, worker); err != nil {
				p.log.WarnContext(ctx, "processor: request not finished", "requestId", id, "worker", worker, "err", err)
			}
			pl.release(id)
		}
	}
}

// Submit queues requestID for a worker. It blocks while the queue is full
// (backpressure) until there is room, ctx ends (ctx's error) or the pool
// stops (ErrStopped). A request already queued or running in this pool is
// not queued twice (Submit returns nil). Submit may be called before Start;
// the queue holds the requests until workers take them.
func (p *Processor) Submit(ctx context.Context, requestID string) error {
	pl := &p.pool
	pl.mu.Lock()
	select {
	case <-pl.stopCh:
		pl.mu.Unlock()
		return ErrStopped
	default:
	}
	if pl.inPool[requestID] {
		pl.mu.Unlock()
		return nil
	}
	pl.inPool[requestID] = true
	pl.mu.Unlock()
	select {
	case pl.queue <- requestID:
		return nil
	case <-ctx.Done():
		pl.release(requestID)
		return ctx.Err()
	case <-pl.stopCh:
		pl.release(requestID)
		return ErrStopped
	}
}

// Stop stops the pool gracefully: no new request is taken (requests still
// queued stay queued in the log, for re-delivery), and Stop waits for the
// running ones to end. When ctx ends first, the running attempts are
// cancelled — left in the log as they are, never marked failed — and Stop
// returns ctx's error once the workers have returned (each waits at most
// HandlerGrace for its handler).
func (p *Processor) Stop(ctx context.Context) error {
	pl := &p.pool
	pl.beginStop()
	done := make(chan struct{})
	go func() {
		pl.workers.Wait()
		close(done)
	}()
	pl.mu.Lock()
	cancel := pl.cancel
	pl.mu.Unlock()
	if cancel == nil {
		cancel = func() {}
	}
	select {
	case <-done:
		cancel()
		return nil
	case <-ctx.Done():
		cancel()
		<-done
		return ctx.Err()
	}
}

// Resume submits every request of the store that has not ended, oldest
// first, and returns how many it submitted. It is the local runtime's
// re-delivery: a request interrupted by a shutdown or a crash stays
// queued or running in the log, and the change feed will not deliver its
// request.submitted again once its checkpoint has passed it. Call it after
// Start, when this process is the only processor of the store. With
// Config.Pending it submits what that lists; otherwise it reads the whole
// log (Store.Scan).
func (p *Processor) Resume(ctx context.Context) (int, error) {
	if p.cfg.Pending != nil {
		ids, err := p.cfg.Pending(ctx)
		if err != nil {
			return 0, fmt.Errorf("resume: list pending requests: %w", err)
		}
		for i, id := range ids {
			if err := p.Submit(ctx, id); err != nil {
				return i, fmt.Errorf("resume: submit %s: %w", id, err)
			}
		}
		return len(ids), nil
	}
	open := map[string]bool{}
	var order []string
	err := p.store.Scan(ctx, events.ScanOptions{}, func(e events.Event) error {
		kind, id, err := events.ParseStream(e.StreamID)
		if err != nil || kind != events.KindRequest {
			return nil
		}
		switch {
		case e.Type == events.RequestSubmitted:
			open[id] = true
			order = append(order, id)
		case events.IsTerminal(e.Type):
			delete(open, id)
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("resume: scan: %w", err)
	}
	n := 0
	for _, id := range order {
		if !open[id] {
			continue
		}
		if err := p.Submit(ctx, id); err != nil {
			return n, fmt.Errorf("resume: submit %s: %w", id, err)
		}
		n++
	}
	return n, nil
}
