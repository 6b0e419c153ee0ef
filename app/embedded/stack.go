package embedded

import (
	"cmp"
	"context"
	"errors"
	"log/slog"
	"net/http"
	"time"

	"github.com/streamer/streamer/app"
	"github.com/streamer/streamer/app/localfront"
	"github.com/streamer/streamer/auth"
	"github.com/streamer/streamer/bus"
	buslocal "github.com/streamer/streamer/bus/local"
	"github.com/streamer/streamer/events"
	"github.com/streamer/streamer/feed"
	"github.com/streamer/streamer/feed/local"
	"github.com/streamer/streamer/handler"
	"github.com/streamer/streamer/handler/demo"
	"github.com/streamer/streamer/processor"
)

// StackConfig configures the whole local stack: the embedded runtime plus
// the gateway, the fan-out, the processor and the HTTP API, served on one
// loopback address.
type StackConfig struct {
	Config
	Addr   string          // listen address; default 127.0.0.1:0 (a free port)
	Router *handler.Router // handlers; nil registers the demo handlers
	Demo   demo.Options    // demo handler tuning (tests make them fast)
	// Auth verifies tokens. Zero: a development key kept in DataDir
	// (auth.LoadOrCreateDevKey), so `streamer token` mints tokens it accepts.
	Auth auth.Config

	IdleTimeout      time.Duration // gateway; default API Gateway's 10 min
	MaxConnectionAge time.Duration // gateway; default API Gateway's 2 h
	Workers          int           // processor workers (default 8)
	// CancelPoll is the processor's backstop check of running requests
	// (default app.LocalCancelPoll): a cancel wakes the running attempt
	// through the local bus at once.
	CancelPoll     time.Duration
	SilenceTimeout time.Duration            // processor; default 5 min
	HandlerGrace   time.Duration            // processor; default 10 s
	Coalesce       processor.CoalescePolicy // the Reporter's coalescing; default 250 ms, 1.0
	SubscribeWait  time.Duration
}

// Stack is the running local stack.
type Stack struct {
	*Local
	Core  *app.Core
	Front *app.Front    // gateway, HTTP API; its URLs
	Bus   *buslocal.Bus // the local EventBridge stand-in

	started *localfront.Started
	DevKey  *auth.DevKey // nil when Auth was configured explicitly

	// URLs of the running stack.
	WebSocketURL string // ws://127.0.0.1:PORT/ws
	HTTPURL      string // http://127.0.0.1:PORT

	cancel            context.CancelFunc
	*localfront.Group // background components; Err reports the first failure
}

// Start opens the embedded runtime and starts everything in the
// background; Close stops it.
func Start(ctx context.Context, cfg StackConfig) (_ *Stack, err error) {
	logger := cfg.Logger
	if logger == nil {
		logger = slog.Default()
		cfg.Logger = logger
	}
	if cfg.Addr == "" {
		cfg.Addr = "127.0.0.1:0"
	}
	l, err := Open(ctx, cfg.Config)
	if err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			l.Close()
		}
	}()

	s := &Stack{Local: l, Group: localfront.NewGroup(logger)}
	st, err := localfront.Start(ctx, localfront.Options{
		Addr: cfg.Addr, DataDir: cfg.DataDir, Auth: cfg.Auth, Router: cfg.Router, Demo: cfg.Demo,
		Gateway: app.GatewayOptions{IdleTimeout: cfg.IdleTimeout, MaxConnectionAge: cfg.MaxConnectionAge},
		Core: app.CoreConfig{
			Store: l.Store, Reader: l.Reader,
			Workers: cfg.Workers, CancelPoll: cmp.Or(cfg.CancelPoll, app.LocalCancelPoll), SilenceTimeout: cfg.SilenceTimeout,
			HandlerGrace: cfg.HandlerGrace, Coalesce: cfg.Coalesce,
			SubscribeWait: cfg.SubscribeWait, Source: "local",
		},
		Logger: logger,
	})
	if err != nil {
		return nil, err
	}
	s.started, s.Core, s.DevKey = st, st.Core, st.DevKey
	front, core := st.Front, st.Core
	s.Front, s.HTTPURL, s.WebSocketURL = front, front.HTTPURL, front.WebSocketURL
	front.Mux.HandleFunc("GET "+app.HealthPath, s.health)

	// The local bus: the projector publishes each batch after writing the
	// views; a rule on request.submitted queues the request for the
	// processor (as the EventBridge rule invokes the processor Lambda on
	// AWS); `streamer events tail` reads it at TailPath.
	deadLetters, err := buslocal.NewSQLDeadLetters(ctx, l.Store.DB())
	if err != nil {
		front.Close(ctx)
		return nil, err
	}
	outbox, err := buslocal.NewSQLOutbox(ctx, l.Store.DB())
	if err != nil {
		front.Close(ctx)
		return nil, err
	}
	eventBus, err := buslocal.New(buslocal.Config{DeadLetters: deadLetters, Outbox: outbox, Logger: logger.With("component", "bus")})
	if err == nil {
		err = eventBus.AddRule(buslocal.Rule{
			Name:    "processor",
			Pattern: bus.ProcessorPattern,
			Target:  requestTarget("processor", core.Processor.Submit),
		})
	}
	if err == nil {
		// A cancel reaches a running handler at once; the processor's
		// CancelPoll (app.LocalCancelPoll here) is only the backstop.
		err = eventBus.AddRule(buslocal.Rule{
			Name:    "processor-cancel",
			Pattern: bus.CancelPattern,
			Target:  requestTarget("processor-cancel", core.Processor.Cancel),
		})
	}
	if err != nil {
		if eventBus != nil {
			eventBus.Close(ctx)
		}
		front.Close(ctx)
		return nil, err
	}
	s.Bus = eventBus
	front.Mux.Handle("GET "+app.TailPath, eventBus.TailHandler())

	runCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	s.cancel = cancel
	consumers := []feed.Consumer{bus.PublishAfter(l.Projector, eventBus), core.Fanout}
	if err := core.Processor.Start(runCtx); err != nil {
		cancel()
		eventBus.Close(ctx)
		front.Close(ctx)
		return nil, err
	}
	// Requests a shutdown or crash interrupted are queued again: the feed
	// will not re-deliver a submitted event its checkpoint has passed.
	s.Go(func() error {
		n, err := core.Processor.Resume(runCtx)
		if n > 0 {
			logger.Info("resumed unfinished requests", "count", n)
		}
		return err
	})
	for _, c := range consumers {
		s.Go(func() error {
			return local.NewTailer(l.Store, l.Feed, l.Feed, c, cfg.Feed, logger.With("consumer", c.Name())).Run(runCtx)
		})
	}
	s.Go(front.Serve)
	logger.Info("local stack started", "websocket", s.WebSocketURL, "http", s.HTTPURL, "data", cfg.DataDir)
	return s, nil
}

// Token mints a development token (only when the stack runs on its dev key).
func (s *Stack) Token(user, tenant string, permissions ...string) (string, error) {
	return s.started.Token(user, tenant, permissions...)
}

// Close stops the server, closes every socket, stops the feeds and the
// processor, and closes the stores. It returns the first background error.
func (s *Stack) Close() error {
	if !s.CloseOnce() {
		return nil
	}
	ctx, stop := context.WithTimeout(context.Background(), 10*time.Second)
	defer stop()
	// Sockets first (each gets $disconnect), then the feeds and the
	// processor: running requests are interrupted, left in the log as they
	// are, and queued again by Resume at the next start.
	errs := []error{s.Front.Close(ctx)}
	s.cancel()
	s.Wait()
	errs = append(errs, s.Bus.Close(ctx), s.Core.Processor.Stop(ctx), s.Err(), s.Local.Close())
	return errors.Join(errs...)
}

func (s *Stack) health(w http.ResponseWriter, r *http.Request) {
	health(w, r, s.Local, s.Front.Gateway.Connections())
}

// requestTarget delivers an event to fn with its request's ID; an event
// whose stream is not a request's is refused for good.
func requestTarget(name string, fn func(ctx context.Context, requestID string) error) buslocal.Target {
	return buslocal.HandlerTarget(name, func(ctx context.Context, e events.Event) error {
		_, id, err := events.ParseStream(e.StreamID)
		if err != nil {
			return buslocal.Permanent(err)
		}
		return fn(ctx, id)
	})
}
