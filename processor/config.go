package processor

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"os"
	"time"

	"github.com/streamer/streamer/events"
	"github.com/streamer/streamer/handler"
)

// Defaults of Config.
const (
	DefaultWorkers        = 8
	DefaultQueueSize      = 100
	DefaultCancelPoll     = 500 * time.Millisecond
	DefaultSilenceTimeout = 5 * time.Minute
	DefaultHandlerGrace   = 10 * time.Second
	DefaultMinInterval    = 250 * time.Millisecond
	DefaultMinDelta       = 1.0
)

// CoalescePolicy says which progress reports the Reporter writes
// (docs/handlers.md states the rule exactly). Zero values take the
// defaults.
type CoalescePolicy struct {
	MinInterval time.Duration // default 250ms
	MinDelta    float64       // percentage points; default 1.0
}

func (c CoalescePolicy) withDefaults() CoalescePolicy {
	if c.MinInterval == 0 {
		c.MinInterval = DefaultMinInterval
	}
	if c.MinDelta == 0 {
		c.MinDelta = DefaultMinDelta
	}
	return c
}

// Config configures a Processor. Store and Router are required; zero
// values of the rest take the defaults.
type Config struct {
	Store  events.Store
	Router *handler.Router
	// Workers is the size of the worker pool (default 8).
	Workers int
	// QueueSize bounds the requests waiting for a worker (default 100);
	// Submit blocks when it is full.
	QueueSize int
	// WorkerName goes into request.started's worker field (the pool adds
	// "/<n>", the EventBridge entry "/<Lambda request ID>"); default
	// "processor@<hostname>:<pid>".
	WorkerName string
	// Coalesce is the Reporter's coalescing policy.
	Coalesce CoalescePolicy
	// CancelPoll is how often a running request's log head is checked
	// for cancel_requested (and the silence and the deadline); default
	// 500ms. Where Processor.Wake is wired to request.cancel_requested
	// (the local stack) it is only the backstop and can be long.
	CancelPoll time.Duration
	// SilenceTimeout: a running handler that neither reports nor returns
	// for this long gets request.timed_out; default 5 min.
	SilenceTimeout time.Duration
	// HandlerGrace is how long a handler whose context was cancelled
	// (cancel, timeout, shutdown) may take to return before its worker
	// stops waiting for it; default 10s.
	HandlerGrace time.Duration
	// Pending lists the requests that have not ended, for Resume; nil:
	// Resume scans the whole log. The local stacks list them from the
	// request views (app.PendingRequests), which costs the open requests
	// rather than the log.
	Pending func(ctx context.Context) ([]string, error)
	// Logger defaults to slog.Default().
	Logger *slog.Logger
	// Now is the clock of the coalescing, silence and deadline decisions
	// (events are stamped by the store); default time.Now.
	Now func() time.Time
}

// Validate reports every problem at once.
func (c Config) Validate() error {
	var errs []error
	if c.Store == nil {
		errs = append(errs, errors.New("processor: Store is required"))
	}
	if c.Router == nil {
		errs = append(errs, errors.New("processor: Router is required"))
	}
	for _, f := range []struct {
		name string
		v    int64
	}{
		{"Workers", int64(c.Workers)}, {"QueueSize", int64(c.QueueSize)},
		{"CancelPoll", int64(c.CancelPoll)}, {"SilenceTimeout", int64(c.SilenceTimeout)},
		{"HandlerGrace", int64(c.HandlerGrace)}, {"Coalesce.MinInterval", int64(c.Coalesce.MinInterval)},
	} {
		if f.v < 0 {
			errs = append(errs, fmt.Errorf("processor: %s must not be negative", f.name))
		}
	}
	if d := c.Coalesce.MinDelta; math.IsNaN(d) || d < 0 || d > 100 {
		errs = append(errs, fmt.Errorf("processor: Coalesce.MinDelta must be within 0..100, got %v", d))
	}
	return errors.Join(errs...)
}

func (c Config) withDefaults() Config {
	if c.Workers == 0 {
		c.Workers = DefaultWorkers
	}
	if c.QueueSize == 0 {
		c.QueueSize = DefaultQueueSize
	}
	if c.WorkerName == "" {
		host, err := os.Hostname()
		if err != nil || host == "" {
			host = "localhost"
		}
		c.WorkerName = fmt.Sprintf("processor@%s:%d", host, os.Getpid())
	}
	c.Coalesce = c.Coalesce.withDefaults()
	if c.CancelPoll == 0 {
		c.CancelPoll = DefaultCancelPoll
	}
	if c.SilenceTimeout == 0 {
		c.SilenceTimeout = DefaultSilenceTimeout
	}
	if c.HandlerGrace == 0 {
		c.HandlerGrace = DefaultHandlerGrace
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	return c
}
