package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/streamer/streamer/auth"
	"github.com/streamer/streamer/gateway"
	"github.com/streamer/streamer/httpapi"
)

// Paths of the local front's HTTP server.
const (
	WebSocketPath = "/ws"          // WebSocket URL; @connections at /ws/@connections/{id}
	HealthPath    = "/healthz"     // health JSON
	RequestsPath  = "/requests"    // HTTP audit API (docs/openapi.yaml)
	TailPath      = "/events/tail" // NDJSON stream of bus events
)

// Front is the local stand-in for API Gateway: one loopback HTTP server
// with the WebSocket gateway (and its @connections endpoint) at /ws, the
// HTTP audit API at /requests, and /healthz. Both local runtimes (the
// embedded store, and the AWS adapters against an endpoint) use it.
type Front struct {
	Gateway      *gateway.Gateway
	Mux          *http.ServeMux
	HTTPURL      string // http://127.0.0.1:PORT
	WebSocketURL string // ws://127.0.0.1:PORT/ws

	ln  net.Listener
	srv *http.Server
	log *slog.Logger
}

// Listen opens the front's listener, so its URLs (and the @connections
// endpoint the core posts to, with the client of package app/frontposter)
// are known before the core is built.
func Listen(addr string, logger *slog.Logger) (*Front, error) {
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	if logger == nil {
		logger = slog.Default()
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("listen %s: %w", addr, err)
	}
	mux := http.NewServeMux()
	// Every request's context ends when Close starts: long-lived streams
	// (the bus tail at /events/tail) return then, instead of holding
	// Shutdown until its deadline.
	base, cancel := context.WithCancel(context.Background())
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second,
		BaseContext: func(net.Listener) context.Context { return base }}
	srv.RegisterOnShutdown(cancel)
	return &Front{
		Mux:          mux,
		srv:          srv,
		HTTPURL:      "http://" + ln.Addr().String(),
		WebSocketURL: "ws://" + ln.Addr().String() + WebSocketPath,
		ln:           ln,
		log:          logger,
	}, nil
}

// GatewayOptions are the gateway's limits (zero: API Gateway's values).
type GatewayOptions struct {
	IdleTimeout      time.Duration
	MaxConnectionAge time.Duration
}

// Mount routes the gateway to the core's WebSocket functions and the
// HTTP API behind bearer-token authentication.
func (f *Front) Mount(core *Core, verify func(ctx context.Context, token string) (auth.Principal, error), opts GatewayOptions) error {
	gw, err := gateway.New(gateway.Config{
		Routes: map[string]gateway.Integration{
			"$connect":    core.WS.Connect,
			"$disconnect": core.WS.Disconnect,
			"$default":    core.WS.Default,
		},
		IdleTimeout: opts.IdleTimeout, MaxConnectionAge: opts.MaxConnectionAge,
		Logger: f.log.With("component", "gateway"),
	})
	if err != nil {
		return err
	}
	f.Gateway = gw
	ws := http.StripPrefix(WebSocketPath, gw.Handler())
	f.Mux.Handle(WebSocketPath, ws)
	f.Mux.Handle(WebSocketPath+"/", ws)
	api := httpapi.Authenticate(verify, core.HTTP.Handler())
	f.Mux.Handle(RequestsPath, api)
	f.Mux.Handle(RequestsPath+"/", api)
	// Every other path is the API's JSON 404, not the mux's text one.
	f.Mux.Handle("/", httpapi.NotFound())
	return nil
}

// Serve serves until Close.
func (f *Front) Serve() error {
	err := f.srv.Serve(f.ln)
	if errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	return err
}

// Close closes every socket (each gets $disconnect) and stops the server.
func (f *Front) Close(ctx context.Context) error {
	var errs []error
	if f.Gateway != nil {
		errs = append(errs, f.Gateway.Close())
	}
	errs = append(errs, f.srv.Shutdown(ctx))
	// Shutdown closes the listener only if Serve has started.
	if err := f.ln.Close(); err != nil && !errors.Is(err, net.ErrClosed) {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}
