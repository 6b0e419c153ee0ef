package gateway

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	awsevents "github.com/aws/aws-lambda-go/events"
)

// Integration is what a route calls: exactly the signature of a Lambda
// behind an API Gateway WebSocket route, so one function serves both the
// Lambda and the local gateway.
type Integration func(ctx context.Context, req awsevents.APIGatewayWebsocketProxyRequest) (awsevents.APIGatewayProxyResponse, error)

// Reserved route keys.
const (
	RouteConnect    = "$connect"
	RouteDisconnect = "$disconnect"
	RouteDefault    = "$default"
)

// Defaults of Config; the limits are API Gateway's.
const (
	DefaultStage              = "dev"
	DefaultMaxMessageSize     = 128 * 1024
	DefaultIdleTimeout        = 10 * time.Minute
	DefaultMaxConnectionAge   = 2 * time.Hour
	DefaultPostTimeout        = 5 * time.Second
	DefaultIntegrationTimeout = 29 * time.Second
	DefaultMaxPendingPosts    = 64
)

// Bounds checked by Validate.
const (
	maxStageLength = 128
	apiIDLength    = 10
)

// Config configures a Gateway. Zero values take the defaults above.
type Config struct {
	// Routes maps route keys to integrations: "$connect", "$disconnect",
	// "$default", or the action names that $request.body.action selects.
	// A missing $connect accepts every handshake; a missing $disconnect
	// is not called; a message without a route (and no $default) gets
	// API Gateway's "Forbidden" message.
	Routes map[string]Integration
	// Stage is requestContext.stage (default "dev"). The WebSocket URL
	// and the @connections endpoint may carry it as a path segment.
	Stage string
	// APIID is requestContext.apiId: 10 lowercase letters and digits
	// (default: random).
	APIID string
	// MaxMessageSize bounds a client message and a posted message
	// (default 128 KiB).
	MaxMessageSize int
	// IdleTimeout closes a connection that sent no message for this long
	// (default 10 minutes).
	IdleTimeout time.Duration
	// MaxConnectionAge closes every connection this long after its
	// handshake (default 2 hours).
	MaxConnectionAge time.Duration
	// PostTimeout bounds one write to a socket (an @connections post, a
	// route response, an error frame). A write that does not finish in
	// time closes the connection; the post fails with 410 (default 5 s).
	PostTimeout time.Duration
	// IntegrationTimeout is the deadline of the context an integration
	// gets (default API Gateway's 29 s).
	IntegrationTimeout time.Duration
	// MaxPendingPosts bounds the posts waiting for one connection's
	// socket; more fail with 429 LimitExceededException (default 64).
	MaxPendingPosts int
	// Logger receives the gateway's structured logs (default slog.Default()).
	Logger *slog.Logger
}

// Validate reports every problem at once. Zero values are valid (they take
// the defaults).
func (c Config) Validate() error {
	var errs []error
	for key, fn := range c.Routes {
		if key == "" {
			errs = append(errs, errors.New("gateway: route key must not be empty"))
		}
		if fn == nil {
			errs = append(errs, fmt.Errorf("gateway: route %q has a nil integration", key))
		}
	}
	if c.Stage != "" && !validStage(c.Stage) {
		errs = append(errs, fmt.Errorf("gateway: Stage %q must be 1..%d letters, digits, '-' or '_'", c.Stage, maxStageLength))
	}
	if c.APIID != "" && !validAPIID(c.APIID) {
		errs = append(errs, fmt.Errorf("gateway: APIID %q must be %d lowercase letters or digits", c.APIID, apiIDLength))
	}
	if c.MaxMessageSize < 0 {
		errs = append(errs, fmt.Errorf("gateway: MaxMessageSize must be ≥ 0, got %d", c.MaxMessageSize))
	}
	for _, d := range []struct {
		name string
		v    time.Duration
	}{
		{"IdleTimeout", c.IdleTimeout},
		{"MaxConnectionAge", c.MaxConnectionAge},
		{"PostTimeout", c.PostTimeout},
		{"IntegrationTimeout", c.IntegrationTimeout},
	} {
		if d.v < 0 {
			errs = append(errs, fmt.Errorf("gateway: %s must be ≥ 0, got %v", d.name, d.v))
		}
	}
	if c.MaxPendingPosts < 0 {
		errs = append(errs, fmt.Errorf("gateway: MaxPendingPosts must be ≥ 0, got %d", c.MaxPendingPosts))
	}
	return errors.Join(errs...)
}

// withDefaults fills zero fields.
func (c Config) withDefaults() Config {
	if c.Stage == "" {
		c.Stage = DefaultStage
	}
	if c.APIID == "" {
		c.APIID = newAPIID()
	}
	if c.MaxMessageSize == 0 {
		c.MaxMessageSize = DefaultMaxMessageSize
	}
	if c.IdleTimeout == 0 {
		c.IdleTimeout = DefaultIdleTimeout
	}
	if c.MaxConnectionAge == 0 {
		c.MaxConnectionAge = DefaultMaxConnectionAge
	}
	if c.PostTimeout == 0 {
		c.PostTimeout = DefaultPostTimeout
	}
	if c.IntegrationTimeout == 0 {
		c.IntegrationTimeout = DefaultIntegrationTimeout
	}
	if c.MaxPendingPosts == 0 {
		c.MaxPendingPosts = DefaultMaxPendingPosts
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	routes := make(map[string]Integration, len(c.Routes))
	for k, v := range c.Routes {
		routes[k] = v
	}
	c.Routes = routes
	return c
}

func validStage(s string) bool {
	if len(s) == 0 || len(s) > maxStageLength {
		return false
	}
	for _, r := range s {
		if !isAlnum(r) && r != '-' && r != '_' {
			return false
		}
	}
	return true
}

func validAPIID(s string) bool {
	if len(s) != apiIDLength {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9') {
			return false
		}
	}
	return true
}

func isAlnum(r rune) bool {
	return r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9'
}
