package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/pprof"
	"os"
	"time"

	"github.com/streamer/streamer/app"
	"github.com/streamer/streamer/app/awsdev"
	"github.com/streamer/streamer/app/embedded"
)

// devConfig is what `streamer dev` runs with; every field has a default so
// the command needs no configuration.
type devConfig struct {
	DataDir     string
	Addr        string
	PProf       bool
	IdleTimeout time.Duration // gateway; API Gateway's 10 min by default
	MaxAge      time.Duration // gateway; API Gateway's 2 h by default
}

// devStack is the running stack dev reports on: embedded or AWS adapters.
type devStack struct {
	storage      string
	webSocketURL string
	httpURL      string
	front        *app.Front
	token        func() (string, error)
	err          func() error
	close        func() error
}

func runDev(ctx context.Context, args []string, stdout io.Writer, logger *slog.Logger, getenv func(string) string) error {
	cfg := devConfig{DataDir: ".data", Addr: "127.0.0.1:8787"}
	if v := getenv("STREAMER_DATA_DIR"); v != "" {
		cfg.DataDir = v
	}
	if v := getenv("STREAMER_ADDR"); v != "" {
		cfg.Addr = v
	}
	fs := flag.NewFlagSet("dev", flag.ContinueOnError)
	fs.StringVar(&cfg.DataDir, "data", cfg.DataDir, "folder for the embedded store and the development key (created if missing)")
	fs.StringVar(&cfg.Addr, "addr", cfg.Addr, "listen address (loopback by default)")
	fs.BoolVar(&cfg.PProf, "pprof", false, "serve net/http/pprof at /debug/pprof/ (loopback only)")
	fs.DurationVar(&cfg.IdleTimeout, "idle-timeout", 0, "close WebSocket connections silent this long (default API Gateway's 10m)")
	fs.DurationVar(&cfg.MaxAge, "max-connection-age", 0, "close WebSocket connections this old (default API Gateway's 2h)")
	var a awsFlags
	a.register(fs, func(k string) string {
		if k == "DYNAMODB_ENDPOINT" {
			return "" // the embedded store is the default; --aws-endpoint opts in
		}
		return getenv(k)
	}, "aws-endpoint")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if err := os.MkdirAll(cfg.DataDir, 0o755); err != nil {
		return fmt.Errorf("data folder: %w", err)
	}
	stack, err := startDevStack(ctx, cfg, a, logger, getenv)
	if err != nil {
		return err
	}
	if cfg.PProf {
		mountPProf(stack.front.Mux)
	}
	token, err := stack.token()
	if err != nil {
		stack.close()
		return err
	}
	fmt.Fprintf(stdout, "streamer dev: %s\n", stack.storage)
	fmt.Fprintf(stdout, "  WebSocket:  %s\n", stack.webSocketURL)
	fmt.Fprintf(stdout, "  HTTP API:   %s%s\n", stack.httpURL, app.RequestsPath)
	fmt.Fprintf(stdout, "  health:     %s%s\n", stack.httpURL, app.HealthPath)
	if cfg.PProf {
		fmt.Fprintf(stdout, "  pprof:      %s/debug/pprof/\n", stack.httpURL)
	}
	fmt.Fprintf(stdout, "  handlers:   echo (sync), generate_report (async, ~10 s), fail (async, fails)\n")
	fmt.Fprintf(stdout, "Development token (user dev, tenant dev, valid 24 h):\n  export STREAMER_TOKEN=%s\n", token)
	fmt.Fprintf(stdout, "Try:\n  streamer request --url %s --action generate_report --payload '{\"rows\":100}' --follow\n", stack.webSocketURL)
	fmt.Fprintf(stdout, "Press Ctrl-C to stop.\n")

	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			logger.Info("dev stack stopping")
			return stack.close()
		case <-t.C:
			if err := stack.err(); err != nil {
				stack.close()
				return err
			}
		}
	}
}

func startDevStack(ctx context.Context, cfg devConfig, a awsFlags, logger *slog.Logger, getenv func(string) string) (*devStack, error) {
	mint := func(m func(user, tenant string, perms ...string) (string, error)) func() (string, error) {
		return func() (string, error) { return m("dev", "dev") }
	}
	if a.Endpoint == "" {
		s, err := embedded.Start(ctx, embedded.StackConfig{
			Config: embedded.Config{DataDir: cfg.DataDir, Logger: logger},
			Addr:   cfg.Addr, IdleTimeout: cfg.IdleTimeout, MaxConnectionAge: cfg.MaxAge,
		})
		if err != nil {
			return nil, err
		}
		return &devStack{
			storage: "embedded store in " + cfg.DataDir, webSocketURL: s.WebSocketURL, httpURL: s.HTTPURL,
			front: s.Front, token: mint(s.Token), err: s.Err, close: s.Close,
		}, nil
	}
	awsCfg, err := a.config(ctx, getenv)
	if err != nil {
		return nil, err
	}
	s, err := awsdev.Start(ctx, awsdev.Config{
		AWS: awsCfg, EventsTable: a.EventsTable, ViewsTable: a.ViewsTable, EventBusName: getenv("EVENT_BUS_NAME"),
		DataDir: cfg.DataDir, Addr: cfg.Addr, Logger: logger,
		Gateway: app.GatewayOptions{IdleTimeout: cfg.IdleTimeout, MaxConnectionAge: cfg.MaxAge},
	})
	if err != nil {
		return nil, err
	}
	return &devStack{
		storage:      fmt.Sprintf("DynamoDB at %s (tables %s, %s; failed batches to %s)", a.Endpoint, a.EventsTable, a.ViewsTable, s.FailedFile),
		webSocketURL: s.WebSocketURL, httpURL: s.HTTPURL,
		front: s.Front, token: mint(s.Token), err: s.Err, close: s.Close,
	}, nil
}

// mountPProf serves the profiler on the dev server (loopback by default).
func mountPProf(mux *http.ServeMux) {
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
}
