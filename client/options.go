package client

import (
	"errors"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"time"
)

// Defaults of Options.
const (
	DefaultMinBackoff       = 100 * time.Millisecond
	DefaultMaxBackoff       = 10 * time.Second
	DefaultHandshakeTimeout = 30 * time.Second
	DefaultWriteTimeout     = 30 * time.Second
	// DefaultReadLimit bounds one server message. The protocol caps a message
	// at 128 KiB; the margin tolerates servers that send a little more.
	DefaultReadLimit = 1 << 20
)

// Options configure a Client. The zero value works for a server without auth.
type Options struct {
	// Token is a JWT sent as "Authorization: Bearer <token>", or as the query
	// parameter token=<token> when TokenInQuery is set (what browsers must
	// do). Never logged.
	Token        string
	TokenInQuery bool
	// Header is added to the handshake request.
	Header http.Header
	// Reconnect says how to redial after the socket drops.
	Reconnect ReconnectPolicy
	// Logger receives connection-level logs (drops, reconnects, gaps);
	// nil discards them.
	Logger *slog.Logger
	// HTTPClient performs the handshake; nil is http.DefaultClient.
	HTTPClient *http.Client
	// HandshakeTimeout bounds one handshake (the first and every redial);
	// 0 is DefaultHandshakeTimeout.
	HandshakeTimeout time.Duration
	// WriteTimeout bounds writing one frame; a write that times out drops
	// the socket (and the client reconnects). 0 is DefaultWriteTimeout.
	WriteTimeout time.Duration
	// ReadLimit bounds one server message in bytes; 0 is DefaultReadLimit.
	ReadLimit int64
}

// ReconnectPolicy is the redial schedule after a drop: attempt n (from 0)
// waits a random duration in [d/2, d] with d = min(MinBackoff·2ⁿ,
// MaxBackoff). A successful handshake resets n.
type ReconnectPolicy struct {
	// MaxAttempts is how many failed redials in a row end the client with
	// ErrReconnectFailed; 0 retries for as long as Dial's context lives.
	MaxAttempts int
	MinBackoff  time.Duration // 0 is DefaultMinBackoff
	MaxBackoff  time.Duration // 0 is DefaultMaxBackoff
}

// Validate reports every invalid field at once.
func (o Options) Validate() error {
	var errs []error
	if o.Reconnect.MaxAttempts < 0 {
		errs = append(errs, errors.New("reconnect max attempts must be ≥ 0"))
	}
	if o.Reconnect.MinBackoff < 0 || o.Reconnect.MaxBackoff < 0 {
		errs = append(errs, errors.New("reconnect backoffs must be ≥ 0"))
	}
	if o.Reconnect.MinBackoff > 0 && o.Reconnect.MaxBackoff > 0 && o.Reconnect.MinBackoff > o.Reconnect.MaxBackoff {
		errs = append(errs, errors.New("reconnect min backoff must not exceed max backoff"))
	}
	if o.HandshakeTimeout < 0 {
		errs = append(errs, errors.New("handshake timeout must be ≥ 0"))
	}
	if o.WriteTimeout < 0 {
		errs = append(errs, errors.New("write timeout must be ≥ 0"))
	}
	if o.ReadLimit < 0 {
		errs = append(errs, errors.New("read limit must be ≥ 0"))
	}
	return errors.Join(errs...)
}

func (o Options) withDefaults() Options {
	if o.Reconnect.MinBackoff == 0 {
		o.Reconnect.MinBackoff = DefaultMinBackoff
	}
	if o.Reconnect.MaxBackoff == 0 {
		o.Reconnect.MaxBackoff = max(DefaultMaxBackoff, o.Reconnect.MinBackoff)
	}
	if o.HandshakeTimeout == 0 {
		o.HandshakeTimeout = DefaultHandshakeTimeout
	}
	if o.WriteTimeout == 0 {
		o.WriteTimeout = DefaultWriteTimeout
	}
	if o.ReadLimit == 0 {
		o.ReadLimit = DefaultReadLimit
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return o
}

// backoff is the wait before attempt n (from 0): full range jitter in the
// upper half of the exponential step, so a thousand clients dropped at
// once do not redial in lockstep.
func (p ReconnectPolicy) backoff(n int) time.Duration {
	d := p.MaxBackoff
	if n < 32 {
		d = min(p.MinBackoff<<n, p.MaxBackoff)
		if d <= 0 { // overflow
			d = p.MaxBackoff
		}
	}
	half := d / 2
	return half + rand.N(d-half+1)
}
