package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/streamer/streamer/connections"
	"github.com/streamer/streamer/events"
	"github.com/streamer/streamer/fanout"
	"github.com/streamer/streamer/handler"
	"github.com/streamer/streamer/httpapi"
	"github.com/streamer/streamer/processor"
	"github.com/streamer/streamer/projections"
	"github.com/streamer/streamer/wsapi"
)

// CoreConfig is what the backend-independent core needs: the event log,
// the views, the way to reach sockets, the handlers and the token check.
// The local runtime, the Lambdas and the end-to-end tests all build the
// core through NewCore, so they cannot drift.
type CoreConfig struct {
	Store    events.Store
	Reader   *projections.Reader
	Poster   connections.Poster // @connections: the local gateway or API Gateway
	Router   *handler.Router    // the handlers; demo ones in dev
	Verifier wsapi.Verifier     // $connect token check (auth.Verifier)

	Workers        int           // processor worker pool (default 8)
	CancelPoll     time.Duration // processor: how often a running request's head is checked for cancel
	SilenceTimeout time.Duration // processor: silent handlers time out after this
	HandlerGrace   time.Duration // processor: how long a cancelled handler may take to return
	Coalesce       processor.CoalescePolicy
	SubscribeWait  time.Duration // wsapi: how long subscribe waits for the view
	Source         string        // Meta.Source of events appended by this runtime
	Logger         *slog.Logger
}

// LocalCancelPoll is the processor's CancelPoll in the local stacks, where
// request.cancel_requested wakes the running attempt at once
// (processor.Processor.Wake, from a local bus rule or the processor's
// stream reader): the poll is only the backstop and the clock of the
// silence check, so it can be ten times the Lambda's.
const LocalCancelPoll = 5 * time.Second

// Validate reports every problem at once.
func (c CoreConfig) Validate() error {
	var errs []error
	if c.Store == nil {
		errs = append(errs, errors.New("app: core needs an event Store"))
	}
	if c.Reader == nil {
		errs = append(errs, errors.New("app: core needs a views Reader"))
	}
	if c.Poster == nil {
		errs = append(errs, errors.New("app: core needs a connections Poster"))
	}
	if c.Router == nil {
		errs = append(errs, errors.New("app: core needs a handler Router"))
	}
	if c.Verifier == nil {
		errs = append(errs, errors.New("app: core needs a token Verifier"))
	}
	return errors.Join(errs...)
}

// Core is the product without its runtime: the WebSocket functions
// ($connect, $disconnect, messages), the fan-out consumer, the processor
// and the HTTP audit API.
type Core struct {
	WS        *wsapi.API
	Fanout    *fanout.Fanout
	Processor *processor.Processor
	HTTP      *httpapi.API
}

// NewCore wires the core.
func NewCore(cfg CoreConfig) (*Core, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	logger := cfg.Logger
	if logger == nil {
		logger = slog.Default()
	}
	ws, err := wsapi.New(wsapi.Config{
		Store: cfg.Store, Reader: cfg.Reader, Router: cfg.Router, Verifier: cfg.Verifier,
		Poster: cfg.Poster, SubscribeWait: cfg.SubscribeWait, Source: cfg.Source,
		Logger: logger.With("component", "wsapi"),
	})
	if err != nil {
		return nil, err
	}
	fo, err := fanout.New(fanout.Config{
		Reader: cfg.Reader, Store: cfg.Store, Poster: cfg.Poster,
		Logger: logger.With("component", "fanout"),
	})
	if err != nil {
		return nil, err
	}
	proc, err := processor.New(processor.Config{
		Store: cfg.Store, Router: cfg.Router, Workers: cfg.Workers,
		CancelPoll: cfg.CancelPoll, SilenceTimeout: cfg.SilenceTimeout,
		HandlerGrace: cfg.HandlerGrace, Coalesce: cfg.Coalesce,
		Pending: PendingRequests(cfg.Reader),
		Logger:  logger.With("component", "processor"),
	})
	if err != nil {
		return nil, err
	}
	api, err := httpapi.New(httpapi.Config{Store: cfg.Store, Reader: cfg.Reader, Logger: logger.With("component", "httpapi")})
	if err != nil {
		return nil, err
	}
	return &Core{WS: ws, Fanout: fo, Processor: proc, HTTP: api}, nil
}

// PendingRequests lists, oldest first, the requests the views show queued
// or running: processor.Config.Pending for the local stacks, so a restart
// re-queues interrupted requests without reading the whole log. The views
// are enough because the projector publishes a batch only after writing
// its views: a request.submitted whose bus delivery a crash may have lost
// is in the views, and one the projector had not reached is published
// again when the projector resumes from its checkpoint. A view that lags
// the log (a request ended but the view still says running) only costs a
// Run that finds the request ended and does nothing.
func PendingRequests(r *projections.Reader) func(context.Context) ([]string, error) {
	return func(ctx context.Context) ([]string, error) {
		var open []projections.RequestView
		for _, status := range []string{projections.StatusQueued, projections.StatusRunning} {
			opts := projections.ListOptions{Limit: projections.MaxListLimit}
			for {
				page, err := r.RequestsByStatus(ctx, "", status, opts)
				if err != nil {
					return nil, fmt.Errorf("list %s requests: %w", status, err)
				}
				open = append(open, page.Items...)
				if page.Cursor == "" {
					break
				}
				opts.Cursor = page.Cursor
			}
		}
		slices.SortStableFunc(open, func(a, b projections.RequestView) int {
			if c := a.SubmittedAt.Compare(b.SubmittedAt); c != 0 {
				return c
			}
			return strings.Compare(a.RequestID, b.RequestID)
		})
		ids := make([]string, len(open))
		for i, v := range open {
			ids[i] = v.RequestID
		}
		return ids, nil
	}
}
