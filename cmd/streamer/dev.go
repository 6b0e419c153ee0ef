package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"time"

	awsdynamodb "github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/streamer/streamer/app"
	"github.com/streamer/streamer/app/embedded"
)

// devConfig is what `streamer dev` runs with; every field has a default so
// the command needs no configuration.
type devConfig struct {
	DataDir string
	Addr    string
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
	fs.StringVar(&cfg.DataDir, "data", cfg.DataDir, "folder for the embedded store (created if missing)")
	fs.StringVar(&cfg.Addr, "addr", cfg.Addr, "listen address (loopback by default)")
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
	var (
		stack   devStack
		storage string
	)
	if a.Endpoint != "" {
		awsCfg, err := a.config(ctx, getenv)
		if err != nil {
			return err
		}
		client := awsdynamodb.NewFromConfig(awsCfg)
		if err := app.CreateTables(ctx, client, a.EventsTable, a.ViewsTable); err != nil {
			return err
		}
		rt, err := app.NewAWS(ctx, awsCfg, app.AWSConfig{EventsTable: a.EventsTable, ViewsTable: a.ViewsTable, Logger: logger})
		if err != nil {
			return err
		}
		failures := filepath.Join(cfg.DataDir, "failed-batches.jsonl")
		stack = awsStack{rt: rt, run: func(ctx context.Context) error {
			return rt.RunStreams(ctx, awsCfg, app.FileFailureDestination(failures, logger))
		}}
		storage = fmt.Sprintf("DynamoDB at %s (tables %s, %s; failed batches to %s)", a.Endpoint, a.EventsTable, a.ViewsTable, failures)
	} else {
		rt, err := embedded.Open(ctx, embedded.Config{DataDir: cfg.DataDir, Logger: logger})
		if err != nil {
			return err
		}
		defer rt.Close()
		stack = localStack{rt}
		storage = "embedded store in " + cfg.DataDir
	}

	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return fmt.Errorf("listen %s: %w", cfg.Addr, err)
	}
	srv := &http.Server{Handler: devMux(stack, logger), ReadHeaderTimeout: 10 * time.Second}
	base := "http://" + ln.Addr().String()
	fmt.Fprintf(stdout, "streamer dev: %s\n", storage)
	fmt.Fprintf(stdout, "  health:  %s/healthz\n", base)
	fmt.Fprintf(stdout, "Press Ctrl-C to stop.\n")
	logger.Info("dev stack started", "addr", ln.Addr().String(), "data", cfg.DataDir)

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	errc := make(chan error, 2)
	go func() { errc <- srv.Serve(ln) }()
	go func() { errc <- stack.Run(ctx) }()
	select {
	case <-ctx.Done():
	case err = <-errc:
		if errors.Is(err, http.ErrServerClosed) {
			err = nil
		}
	}
	cancel()
	shutdownCtx, stop := context.WithTimeout(context.Background(), 5*time.Second)
	defer stop()
	logger.Info("dev stack stopping")
	return errors.Join(err, srv.Shutdown(shutdownCtx))
}

// devStack is what dev runs and reports on: the embedded runtime or the
// AWS one.
type devStack interface {
	Run(ctx context.Context) error
	Health(ctx context.Context) (map[string]any, error)
}

type localStack struct{ rt *embedded.Local }

func (l localStack) Run(ctx context.Context) error { return l.rt.Run(ctx) }

func (l localStack) Health(ctx context.Context) (map[string]any, error) {
	pos, err := l.rt.Store.LastPosition(ctx)
	if err != nil {
		return nil, err
	}
	cp, err := l.rt.Feed.Get(ctx, l.rt.Projector.Name())
	if err != nil {
		return nil, err
	}
	return map[string]any{"store": "sqlite", "lastPosition": pos, "consumers": map[string]int64{l.rt.Projector.Name(): cp}}, nil
}

type awsStack struct {
	rt  *app.AWS
	run func(ctx context.Context) error
}

func (a awsStack) Run(ctx context.Context) error { return a.run(ctx) }

func (a awsStack) Health(ctx context.Context) (map[string]any, error) {
	arn, err := a.rt.StreamARN(ctx)
	if err != nil {
		return nil, err
	}
	return map[string]any{"store": "dynamodb", "stream": arn}, nil
}

// devMux serves the local stack's HTTP endpoints.
func devMux(stack devStack, logger *slog.Logger) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		body, err := stack.Health(r.Context())
		if err != nil {
			logger.Error("health check failed", "err", err)
			w.WriteHeader(http.StatusServiceUnavailable)
			json.NewEncoder(w).Encode(map[string]any{"status": "unavailable", "error": "event store unreachable"})
			return
		}
		body["status"] = "ok"
		json.NewEncoder(w).Encode(body)
	})
	return mux
}
