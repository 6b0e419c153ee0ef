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
	"time"

	"github.com/streamer/streamer/app"
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
	if err := fs.Parse(args); err != nil {
		return err
	}
	rt, err := app.OpenLocal(ctx, app.LocalConfig{DataDir: cfg.DataDir, Logger: logger})
	if err != nil {
		return err
	}
	defer rt.Close()

	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return fmt.Errorf("listen %s: %w", cfg.Addr, err)
	}
	srv := &http.Server{Handler: devMux(rt, logger), ReadHeaderTimeout: 10 * time.Second}
	base := "http://" + ln.Addr().String()
	fmt.Fprintf(stdout, "streamer dev: embedded store in %s\n", cfg.DataDir)
	fmt.Fprintf(stdout, "  health:  %s/healthz\n", base)
	fmt.Fprintf(stdout, "Press Ctrl-C to stop.\n")
	logger.Info("dev stack started", "addr", ln.Addr().String(), "data", cfg.DataDir)

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	errc := make(chan error, 2)
	go func() { errc <- srv.Serve(ln) }()
	go func() { errc <- rt.Run(ctx) }()
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

// devMux serves the local stack's HTTP endpoints.
func devMux(rt *app.Local, logger *slog.Logger) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		pos, err := rt.Store.LastPosition(r.Context())
		var cp int64
		if err == nil {
			cp, err = rt.Feed.Get(r.Context(), rt.Projector.Name())
		}
		if err != nil {
			logger.Error("health check failed", "err", err)
			w.WriteHeader(http.StatusServiceUnavailable)
			json.NewEncoder(w).Encode(map[string]any{"status": "unavailable", "error": "embedded store unreachable"})
			return
		}
		json.NewEncoder(w).Encode(map[string]any{"status": "ok", "store": "sqlite", "lastPosition": pos,
			"consumers": map[string]int64{rt.Projector.Name(): cp}})
	})
	return mux
}
