package connections

import (
	"context"
	"errors"
	"time"
)

// Errors of a Poster. Implementations wrap them so errors.Is works.
var (
	// ErrGone: the connection is closed or never existed (HTTP 410).
	ErrGone = errors.New("connection gone")
	// ErrThrottled: the API refused for rate (HTTP 429); retry with backoff.
	ErrThrottled = errors.New("throttled")
	// ErrTooLarge: the message is over the API's limit (HTTP 413).
	ErrTooLarge = errors.New("message too large")
	// ErrUnavailable: a 5xx or transport failure; retry with backoff.
	ErrUnavailable = errors.New("unavailable")
)

// Info is what GetConnection says of a connection.
type Info struct {
	ConnectedAt  time.Time
	LastActiveAt time.Time
	SourceIP     string
	UserAgent    string
}

// Poster is the @connections management API.
type Poster interface {
	// Post sends data as one message to the connection.
	Post(ctx context.Context, connectionID string, data []byte) error
	// Info describes a live connection (ErrGone if it is not).
	Info(ctx context.Context, connectionID string) (Info, error)
	// Disconnect closes the connection (ErrGone if it is not live).
	Disconnect(ctx context.Context, connectionID string) error
}
