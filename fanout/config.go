package fanout

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/streamer/streamer/connections"
	"github.com/streamer/streamer/events"
	"github.com/streamer/streamer/projections"
)

// Reader is what the fan-out reads from the views. *projections.Reader
// implements it.
type Reader interface {
	// Subscribers lists the open connections subscribed to request id.
	Subscribers(ctx context.Context, requestID string) ([]string, error)
	// UserConnections lists the open connections of user within tenant.
	UserConnections(ctx context.Context, tenant, user string) ([]string, error)
	// GetRequest returns the view of request id, or projections.ErrNotFound.
	GetRequest(ctx context.Context, requestID string) (projections.RequestView, error)
}

var _ Reader = (*projections.Reader)(nil)

// Defaults of Config.
const (
	DefaultName           = "fanout"
	DefaultParallelism    = 64
	DefaultRetries        = 5
	DefaultBackoff        = 50 * time.Millisecond
	DefaultPostTimeout    = 5 * time.Second
	DefaultBudget         = 30 * time.Second
	DefaultOwnerCacheSize = 10_000

	// MaxBackoff caps the exponential backoff between retries.
	MaxBackoff = 2 * time.Second
)

// Config configures a Fanout. Zero values take the defaults.
type Config struct {
	Reader Reader             // views: subscribers, user connections, request owner (required)
	Store  events.Store       // the log: a request's first event, and connection.closed{gone} (required)
	Poster connections.Poster // the @connections API (required)

	// Parallelism bounds the posts in flight at once (default 64). It also
	// bounds the concurrent view reads that resolve a batch's targets.
	Parallelism int
	// Retries is how many times a failed post (throttled, 5xx, timeout) or
	// a failed view read is retried after the first attempt (default 5;
	// negative: never retried).
	Retries int
	// Backoff is the base of the exponential backoff with full jitter
	// between retries: before retry n (0-based) a random delay in
	// [0, min(MaxBackoff, Backoff·2ⁿ)) (default 50ms, at most MaxBackoff).
	Backoff time.Duration
	// PostTimeout bounds one post attempt (default 5s).
	PostTimeout time.Duration
	// Budget bounds the time one connection's posts of one batch may take,
	// retries and backoff included (default 30s); what is left when it runs
	// out is dropped for that connection. Keep it below the Lambda timeout.
	Budget time.Duration
	// OwnerCacheSize bounds the LRU cache of request owners (default
	// 10,000 requests). An owner never changes, so entries never go stale.
	OwnerCacheSize int

	Logger *slog.Logger // default slog.Default()
	Name   string       // consumer name (checkpoint key locally); default "fanout"
}

// Validate reports every problem at once. Zero values are valid (they take
// the defaults).
func (c Config) Validate() error {
	var errs []error
	if c.Reader == nil {
		errs = append(errs, errors.New("fanout: Reader is required"))
	}
	if c.Store == nil {
		errs = append(errs, errors.New("fanout: Store is required"))
	}
	if c.Poster == nil {
		errs = append(errs, errors.New("fanout: Poster is required"))
	}
	if c.Parallelism < 0 {
		errs = append(errs, fmt.Errorf("fanout: Parallelism must be ≥ 0, got %d", c.Parallelism))
	}
	if c.Backoff < 0 || c.Backoff > MaxBackoff {
		errs = append(errs, fmt.Errorf("fanout: Backoff must be within 0..%v, got %v", MaxBackoff, c.Backoff))
	}
	if c.PostTimeout < 0 {
		errs = append(errs, fmt.Errorf("fanout: PostTimeout must be ≥ 0, got %v", c.PostTimeout))
	}
	if c.Budget < 0 {
		errs = append(errs, fmt.Errorf("fanout: Budget must be ≥ 0, got %v", c.Budget))
	}
	if c.OwnerCacheSize < 0 {
		errs = append(errs, fmt.Errorf("fanout: OwnerCacheSize must be ≥ 0, got %d", c.OwnerCacheSize))
	}
	return errors.Join(errs...)
}

// withDefaults fills zero fields.
func (c Config) withDefaults() Config {
	if c.Parallelism == 0 {
		c.Parallelism = DefaultParallelism
	}
	switch {
	case c.Retries == 0:
		c.Retries = DefaultRetries
	case c.Retries < 0:
		c.Retries = 0
	}
	if c.Backoff == 0 {
		c.Backoff = DefaultBackoff
	}
	if c.PostTimeout == 0 {
		c.PostTimeout = DefaultPostTimeout
	}
	if c.Budget == 0 {
		c.Budget = DefaultBudget
	}
	if c.OwnerCacheSize == 0 {
		c.OwnerCacheSize = DefaultOwnerCacheSize
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.Name == "" {
		c.Name = DefaultName
	}
	return c
}
