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

	"github.com/streamer/streamer/events/sqlite"
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
	if err := os.MkdirAll(cfg.DataDir, 0o755); err != nil {
		return fmt.Errorf("data folder: %w", err)
	}
	dbPath := filepath.Join(cfg.DataDir, "events.db")
	store, err := sqlite.Open(dbPath)
	if err != nil {
		return fmt.Errorf("open store %s: %w", dbPath, err)
	}
	defer store.Close()

	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		pos, err := store.LastPosition(r.Context())
		w.Header().Set("Content-Type", "application/json")
		if err != nil {
			logger.Error("health check failed", "err", err)
			w.WriteHeader(http.StatusServiceUnavailable)
			json.NewEncoder(w).Encode(map[string]any{"status": "unavailable", "error": "event store unreachable"})
			return
		}
		json.NewEncoder(w).Encode(map[string]any{"status": "ok", "store": "sqlite", "lastPosition": pos})
	})
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return fmt.Errorf("listen %s: %w", cfg.Addr, err)
	}
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	base := "http://" + ln.Addr().String()
	fmt.Fprintf(stdout, "streamer dev: embedded store %s\n", dbPath)
	fmt.Fprintf(stdout, "  health:  %s/healthz\n", base)
	fmt.Fprintf(stdout, "Press Ctrl-C to stop.\n")
	logger.Info("dev stack started", "addr", ln.Addr().String(), "data", dbPath)

	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case <-ctx.Done():
	case err := <-errc:
		if !errors.Is(err, http.ErrServerClosed) {
			return err
		}
	}
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	logger.Info("dev stack stopping")
	return srv.Shutdown(shutdownCtx)
}
