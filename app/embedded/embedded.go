// Package embedded wires the local runtime: the SQLite event log, the
// SQLite views and the projector fed by the local tailer. It is what
// `streamer dev` and the local end-to-end tests run; the AWS wiring is in
// package app, which stays free of SQLite so the Lambdas stay small.
package embedded

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"

	"golang.org/x/sync/errgroup"

	evsqlite "github.com/streamer/streamer/events/sqlite"
	"github.com/streamer/streamer/feed/local"
	"github.com/streamer/streamer/projections"
	projsqlite "github.com/streamer/streamer/projections/sqlite"
)

// LocalConfig configures the embedded runtime.
type Config struct {
	DataDir string       // folder of events.db and views.db (created if missing)
	Feed    local.Config // tailer tuning; zero values take the defaults
	TTL     projections.TTL
	Logger  *slog.Logger
}

// Validate reports every problem at once.
func (c Config) Validate() error {
	var errs []error
	if c.DataDir == "" {
		errs = append(errs, errors.New("embedded: DataDir is required"))
	}
	return errors.Join(errs...)
}

// Local is the embedded runtime: the SQLite event log, the SQLite views,
// and the projector fed by a local tailer.
type Local struct {
	Store     *evsqlite.Store
	Views     *projsqlite.Views
	Reader    *projections.Reader
	Projector *projections.Projector
	Feed      *local.SQLiteState // checkpoints and dead letters
	cfg       Config
	log       *slog.Logger
}

// Files of the embedded runtime inside DataDir.
const (
	EventsFile = "events.db"
	ViewsFile  = "views.db"
)

// Open opens (creating if needed) the embedded runtime in cfg.DataDir.
func Open(ctx context.Context, cfg Config) (*Local, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	logger := cfg.Logger
	if logger == nil {
		logger = slog.Default()
	}
	if err := os.MkdirAll(cfg.DataDir, 0o755); err != nil {
		return nil, fmt.Errorf("data folder: %w", err)
	}
	store, err := evsqlite.Open(filepath.Join(cfg.DataDir, EventsFile))
	if err != nil {
		return nil, err
	}
	views, err := projsqlite.Open(ctx, filepath.Join(cfg.DataDir, ViewsFile))
	if err != nil {
		store.Close()
		return nil, err
	}
	feedState, err := local.NewSQLiteState(ctx, store.DB())
	if err != nil {
		views.Close()
		store.Close()
		return nil, err
	}
	if _, err := projections.Bootstrap(ctx, views); err != nil {
		views.Close()
		store.Close()
		return nil, err
	}
	return &Local{
		Store:     store,
		Views:     views,
		Reader:    projections.NewReader(views),
		Projector: projections.NewProjector(store, views, projections.WithName("projector"), projections.WithTTL(cfg.TTL), projections.WithLogger(logger)),
		Feed:      feedState,
		cfg:       cfg,
		log:       logger,
	}, nil
}

// Run runs the local feed consumers until ctx ends.
func (l *Local) Run(ctx context.Context) error {
	g, ctx := errgroup.WithContext(ctx)
	g.Go(func() error {
		return local.NewTailer(l.Store, l.Feed, l.Feed, l.Projector, l.cfg.Feed, l.log).Run(ctx)
	})
	err := g.Wait()
	if errors.Is(err, context.Canceled) {
		return nil
	}
	return err
}

// RebuildSource is the resumable replay source of the embedded log.
func (l *Local) RebuildSource() projections.Source { return projsqlite.LogSource(l.Store, 0) }

// Close closes the views and the store.
func (l *Local) Close() error {
	return errors.Join(l.Views.Close(), l.Store.Close())
}
