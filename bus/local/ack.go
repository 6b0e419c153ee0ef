package local

import (
	"context"
	"log/slog"
	"time"
)

// maxAckBatch bounds the IDs one outbox Delete removes.
const maxAckBatch = 512

// acker deletes the outbox entries of finished deliveries in the
// background, batching what accumulates while a Delete runs: a delivery
// costs no write of its own under load. A delivery finished but not yet
// deleted when the process dies is delivered again at the next start (at
// least once).
type acker struct {
	outbox Outbox
	log    *slog.Logger
	c      chan int64
	done   chan struct{}
	retry  time.Duration // pause after a failed Delete
}

func newAcker(o Outbox, log *slog.Logger) *acker {
	a := &acker{outbox: o, log: log, c: make(chan int64, maxAckBatch), done: make(chan struct{}), retry: time.Second}
	go a.run()
	return a
}

// ack queues id for deletion, waiting while maxAckBatch are queued (a
// Delete failing) until ctx ends: then the entry stays, and is delivered
// again at the next start.
func (a *acker) ack(ctx context.Context, id int64) {
	select {
	case a.c <- id:
	case <-ctx.Done():
	}
}

// close deletes what is queued (one more try after a failure) and stops.
func (a *acker) close() {
	close(a.c)
	<-a.done
}

func (a *acker) run() {
	defer close(a.done)
	var ids []int64
	open := true
	for open || len(ids) > 0 {
		if len(ids) == 0 {
			id, ok := <-a.c
			if !ok {
				return
			}
			ids = append(ids, id)
		}
		// Take what else finished meanwhile.
	drain:
		for open && len(ids) < maxAckBatch {
			select {
			case id, ok := <-a.c:
				if !ok {
					open = false
					break drain
				}
				ids = append(ids, id)
			default:
				break drain
			}
		}
		switch {
		case a.delete(ids):
			ids = ids[:0]
		case !open:
			a.log.Error("bus outbox entries of finished deliveries not deleted: they will be delivered again at the next start",
				"count", len(ids))
			return
		default:
			time.Sleep(a.retry) // the IDs stay and are tried again with what arrives meanwhile
		}
	}
}

func (a *acker) delete(ids []int64) bool {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := a.outbox.Delete(ctx, ids); err != nil {
		a.log.Warn("bus outbox delete failed; retrying", "count", len(ids), "error", err)
		return false
	}
	return true
}
