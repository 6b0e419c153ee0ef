package local

import (
	"context"
	"sync"
)

// queue is a rule's FIFO of deliveries waiting for a worker. Unlike a
// channel it can take a batch at once beyond its nominal size (the outbox
// path stores a Publish call's deliveries first and queues them all), and
// it lets Publish wait for room without holding a place.
type queue struct {
	mu     sync.Mutex
	items  []delivery
	closed bool
	// changed is closed (and cleared) when deliveries are added or taken or
	// the queue closes; nil while nobody waits.
	changed chan struct{}
}

// wait returns the channel that the next change closes. The caller holds
// q.mu.
func (q *queue) wait() <-chan struct{} {
	if q.changed == nil {
		q.changed = make(chan struct{})
	}
	return q.changed
}

// signal wakes the waiters. The caller holds q.mu.
func (q *queue) signal() {
	if q.changed != nil {
		close(q.changed)
		q.changed = nil
	}
}

// waitRoom waits until fewer than size deliveries are queued, then
// appends ds (none: it only waits). It ends early, appending nothing, with
// ctx's error or ErrClosed when closing is closed.
func (q *queue) waitRoom(ctx context.Context, closing <-chan struct{}, size int, ds ...delivery) error {
	for {
		q.mu.Lock()
		if len(q.items) < size {
			if len(ds) > 0 {
				q.items = append(q.items, ds...)
				q.signal()
			}
			q.mu.Unlock()
			return nil
		}
		ch := q.wait()
		q.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		case <-closing:
			return ErrClosed
		}
	}
}

// push appends ds, in order. The bus never pushes after close (Close takes
// the bus lock that every push holds for reading).
func (q *queue) push(ds ...delivery) {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.items = append(q.items, ds...)
	q.signal()
}

// pop takes the oldest delivery, waiting for one; false once the queue is
// closed and empty.
func (q *queue) pop() (delivery, bool) {
	for {
		q.mu.Lock()
		if len(q.items) > 0 {
			d := q.items[0]
			q.items[0] = delivery{} // let the event be collected
			q.items = q.items[1:]
			q.signal()
			q.mu.Unlock()
			return d, true
		}
		if q.closed {
			q.mu.Unlock()
			return delivery{}, false
		}
		ch := q.wait()
		q.mu.Unlock()
		<-ch
	}
}

// close lets the workers drain what is queued and stop.
func (q *queue) close() {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.closed = true
	q.signal()
}
