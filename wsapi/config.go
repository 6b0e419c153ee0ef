package wsapi

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/streamer/streamer/auth"
	"github.com/streamer/streamer/connections"
	"github.com/streamer/streamer/events"
	"github.com/streamer/streamer/handler"
	"github.com/streamer/streamer/projections"
)

// Verifier checks a token at $connect (auth.Verifier implements it).
type Verifier interface {
	Verify(ctx context.Context, token string) (auth.Principal, error)
}

// Router finds and runs handlers (handler.Router implements it).
type Router interface {
	// Lookup returns the handler of action.
	Lookup(action string) (handler.Handler, bool)
	// Async reports whether h runs asynchronously without calling Process.
	Async(h handler.Handler) bool
	// Validate runs the handler's Validate on req; the error's message is
	// shown to the client.
	Validate(req *handler.Request) error
	// Process runs the handler inline; handler.ErrAsyncRequired turns the
	// call into an async request.
	Process(ctx context.Context, req *handler.Request) (*handler.Response, error)
}

// The product's implementations satisfy the interfaces.
var (
	_ Verifier  = (*auth.Verifier)(nil)
	_ Router    = (*handler.Router)(nil)
	_ TokenFunc = auth.TokenFromRequest
)

// TokenFunc extracts the token of a $connect request from its headers and
// query string (auth.TokenFromRequest).
type TokenFunc func(headers, query map[string]string) (string, error)

// Defaults of Config.
const (
	DefaultSubscribeWait    = 10 * time.Second
	DefaultMaxSubscriptions = 48
	DefaultSyncTimeout      = 25 * time.Second // under API Gateway's 29 s integration timeout
	DefaultSource           = "wsapi"
	DefaultCacheSize        = 4096
)

// Config configures an API. Zero values of the optional fields take the
// defaults above.
type Config struct {
	Store    events.Store        // the event log (required)
	Reader   *projections.Reader // the views (required)
	Router   Router              // the handlers (required)
	Verifier Verifier            // $connect token check (required)
	Poster   connections.Poster  // @connections: every frame to a client (required)

	// TokenFromRequest extracts the token at $connect; default
	// auth.TokenFromRequest.
	TokenFromRequest TokenFunc

	// SubscribeWait bounds the wait for a subscription to become visible
	// in the connection view; past it the client gets a retryable timeout.
	SubscribeWait time.Duration
	// MaxSubscriptions bounds the requests one connection follows.
	MaxSubscriptions int
	// SyncTimeout bounds an inline handler run.
	SyncTimeout time.Duration
	// Source is Meta.Source of the events this API appends.
	Source string
	// CacheSize bounds the per-connection and per-request caches (a Lambda
	// container is reused across invocations).
	CacheSize int
	Logger    *slog.Logger
	Now       func() time.Time
}

func (c Config) withDefaults() Config {
	if c.TokenFromRequest == nil {
		c.TokenFromRequest = auth.TokenFromRequest
	}
	if c.SubscribeWait == 0 {
		c.SubscribeWait = DefaultSubscribeWait
	}
	if c.MaxSubscriptions == 0 {
		c.MaxSubscriptions = DefaultMaxSubscriptions
	}
	if c.SyncTimeout == 0 {
		c.SyncTimeout = DefaultSyncTimeout
	}
	if c.Source == "" {
		c.Source = DefaultSource
	}
	if c.CacheSize == 0 {
		c.CacheSize = DefaultCacheSize
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	return c
}

// Validate reports every problem at once.
func (c Config) Validate() error {
	var errs []error
	if c.Store == nil {
		errs = append(errs, errors.New("wsapi: Store is required"))
	}
	if c.Reader == nil {
		errs = append(errs, errors.New("wsapi: Reader is required"))
	}
	if c.Router == nil {
		errs = append(errs, errors.New("wsapi: Router is required"))
	}
	if c.Verifier == nil {
		errs = append(errs, errors.New("wsapi: Verifier is required"))
	}
	if c.Poster == nil {
		errs = append(errs, errors.New("wsapi: Poster is required"))
	}
	if c.SubscribeWait < 0 {
		errs = append(errs, errors.New("wsapi: SubscribeWait must not be negative"))
	}
	if c.MaxSubscriptions < 0 {
		errs = append(errs, errors.New("wsapi: MaxSubscriptions must not be negative"))
	}
	if c.SyncTimeout < 0 {
		errs = append(errs, errors.New("wsapi: SyncTimeout must not be negative"))
	}
	if c.CacheSize < 0 {
		errs = append(errs, errors.New("wsapi: CacheSize must not be negative"))
	}
	return errors.Join(errs...)
}
