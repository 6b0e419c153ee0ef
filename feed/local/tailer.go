// Package local is the embedded runtime's change feed: a tailer over the
// SQLite log's global position that feeds one feed.Consumer under the same
// contract Lambda gives a DynamoDB Streams consumer — batches, at least once,
// in order per stream, partial batch failure that holds back only the failed
// streams, bounded retries, then a dead-letter record.
//
// The guarantee: the consumer's checkpoint is committed only after every
// event at or below it was processed (or dead-lettered), so a crash at any
// moment — including between the consumer's own write and the checkpoint —
// loses and skips nothing; it only re-delivers.
package local

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/streamer/streamer/events"
	"github.com/streamer/streamer/events/sqlite"
	"github.com/streamer/streamer/feed"
)

// Source is the log a tailer reads (*sqlite.Store).
type Source interface {
	ReadFrom(ctx context.Context, afterPosition int64, limit int) ([]sqlite.Record, error)
	Subscribe() (ch <-chan struct{}, cancel func())
}

// Checkpoints persists each consumer's position.
type Checkpoints interface {
	Get(ctx context.Context, consumer string) (int64, error)
	Set(ctx context.Context, consumer string, position int64) error
}

// DeadLetters is the failure destination.
type DeadLetters interface {
	Put(ctx context.Context, dl DeadLetter) error
}

// DeadLetter keeps an event a consumer failed MaxAttempts times, with the
// last error, so it can be inspected and replayed.
type DeadLetter struct {
	Consumer string
	Position int64
	Event    events.Event
	Attempts int
	Error    string
	Time     time.Time
}

// Config tunes a Tailer. Zero values take the defaults.
type Config struct {
	BatchSize    int           // events per batch (default 100, like Lambda's default)
	MaxAttempts  int           // deliveries of one event before it is dead-lettered (default 5)
	PollInterval time.Duration // fallback poll when no wake-up arrives (default 1s)
	MinBackoff   time.Duration // first retry delay after a failed batch (default 50ms)
	MaxBackoff   time.Duration // retry delay cap (default 5s)
}

func (c Config) withDefaults() Config {
	if c.BatchSize <= 0 {
		c.BatchSize = 100
	}
	if c.MaxAttempts <= 0 {
		c.MaxAttempts = 5
	}
	if c.PollInterval <= 0 {
		c.PollInterval = time.Second
	}
	if c.MinBackoff <= 0 {
		c.MinBackoff = 50 * time.Millisecond
	}
	if c.MaxBackoff <= 0 {
		c.MaxBackoff = 5 * time.Second
	}
	return c
}

// Tailer feeds one consumer from the log.
type Tailer struct {
	src      Source
	cp       Checkpoints
	dlq      DeadLetters
	consumer feed.Consumer
	cfg      Config
	log      *slog.Logger
}

// NewTailer builds a tailer; call Run to start it.
func NewTailer(src Source, cp Checkpoints, dlq DeadLetters, c feed.Consumer, cfg Config, logger *slog.Logger) *Tailer {
	if logger == nil {
		logger = slog.Default()
	}
	return &Tailer{src: src, cp: cp, dlq: dlq, consumer: c, cfg: cfg.withDefaults(), log: logger.With("consumer", c.Name())}
}

// Run tails the log until ctx ends, then returns ctx's error. It returns
// early only on a failure of the log, the checkpoint or the dead-letter
// store (a consumer failure is retried, never fatal).
func (t *Tailer) Run(ctx context.Context) error {
	wake, cancel := t.src.Subscribe()
	defer cancel()
	checkpoint, err := t.cp.Get(ctx, t.consumer.Name())
	if err != nil {
		return fmt.Errorf("tailer %s: read checkpoint: %w", t.consumer.Name(), err)
	}
	st := &state{checkpoint: checkpoint, readPos: checkpoint, attempts: map[string]int{}}
	backoff := time.Duration(0)
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		progressed, failed, err := t.step(ctx, st)
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return fmt.Errorf("tailer %s: %w", t.consumer.Name(), err)
		}
		switch {
		case failed:
			backoff = min(max(2*backoff, t.cfg.MinBackoff), t.cfg.MaxBackoff)
			if err := sleep(ctx, backoff, nil); err != nil {
				return err
			}
		case progressed:
			backoff = 0
		default:
			backoff = 0
			if err := sleep(ctx, t.cfg.PollInterval, wake); err != nil {
				return err
			}
		}
	}
}

// state is a tailer's memory between batches. Only checkpoint is durable;
// pending and readPos are rebuilt from it after a restart.
type state struct {
	checkpoint int64           // every event at or below is done
	readPos    int64           // last position read from the log
	pending    []sqlite.Record // read but not yet processed, in position order
	attempts   map[string]int  // deliveries per event ID that failed
}

// step runs one batch. progressed: something was read or processed;
// failed: the consumer reported failures (so back off before the retry).
func (t *Tailer) step(ctx context.Context, st *state) (progressed, failed bool, err error) {
	batch := st.pending
	if room := t.cfg.BatchSize - len(batch); room > 0 {
		fresh, err := t.src.ReadFrom(ctx, st.readPos, room)
		if err != nil {
			return false, false, fmt.Errorf("read after %d: %w", st.readPos, err)
		}
		if len(fresh) > 0 {
			st.readPos = fresh[len(fresh)-1].Position
		}
		batch = append(append([]sqlite.Record(nil), batch...), fresh...)
	}
	if len(batch) == 0 {
		return false, false, nil
	}
	evs := make([]events.Event, len(batch))
	for i, r := range batch {
		evs[i] = r.Event
	}
	failures := t.consumer.Handle(ctx, evs)
	if ctx.Err() != nil {
		// Crash-equivalent: nothing is checkpointed; a restart re-delivers.
		return false, false, ctx.Err()
	}
	firstFailed := map[string]int64{} // stream → first unprocessed version
	errOf := map[string]error{}
	for _, f := range failures {
		if v, ok := firstFailed[f.Stream]; !ok || f.Version < v {
			firstFailed[f.Stream] = f.Version
			errOf[f.Stream] = f.Err
		}
	}
	var pending []sqlite.Record
	for _, r := range batch {
		v, ok := firstFailed[r.Event.StreamID]
		if !ok || r.Event.Version < v {
			delete(st.attempts, r.Event.ID)
			continue
		}
		if r.Event.Version == v {
			st.attempts[r.Event.ID]++
			n := st.attempts[r.Event.ID]
			t.log.WarnContext(ctx, "consumer failed event", "stream", r.Event.StreamID, "version", r.Event.Version,
				"position", r.Position, "attempt", n, "err", errOf[r.Event.StreamID])
			if n >= t.cfg.MaxAttempts {
				if err := t.deadLetter(ctx, r, n, errOf[r.Event.StreamID]); err != nil {
					return false, false, err
				}
				delete(st.attempts, r.Event.ID)
				continue // done: it is in the failure destination
			}
		}
		// The failed event and every later event of its stream wait for
		// the next batch (after a dead letter, the later ones are retried).
		pending = append(pending, r)
	}
	st.pending = pending
	newCheckpoint := st.readPos
	if len(pending) > 0 {
		newCheckpoint = pending[0].Position - 1
	}
	if newCheckpoint > st.checkpoint {
		if err := t.cp.Set(ctx, t.consumer.Name(), newCheckpoint); err != nil {
			return false, false, fmt.Errorf("commit checkpoint %d: %w", newCheckpoint, err)
		}
		st.checkpoint = newCheckpoint
	}
	return true, len(failures) > 0, nil
}

func (t *Tailer) deadLetter(ctx context.Context, r sqlite.Record, attempts int, cause error) error {
	msg := "unknown error"
	if cause != nil {
		msg = cause.Error()
	}
	t.log.ErrorContext(ctx, "event dead-lettered after bounded retries", "stream", r.Event.StreamID,
		"version", r.Event.Version, "position", r.Position, "attempts", attempts, "err", msg)
	err := t.dlq.Put(ctx, DeadLetter{Consumer: t.consumer.Name(), Position: r.Position, Event: r.Event, Attempts: attempts, Error: msg, Time: time.Now().UTC()})
	if err != nil {
		return fmt.Errorf("dead-letter %s@%d: %w", r.Event.StreamID, r.Event.Version, err)
	}
	return nil
}

// sleep waits d, or until wake fires, or ctx ends.
func sleep(ctx context.Context, d time.Duration, wake <-chan struct{}) error {
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-timer.C:
	case _, ok := <-wake:
		if !ok {
			return errors.New("event store closed")
		}
	}
	return nil
}
