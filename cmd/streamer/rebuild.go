package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/streamer/streamer/app"
	"github.com/streamer/streamer/app/embedded"
	"github.com/streamer/streamer/events"
	"github.com/streamer/streamer/projections"
)

func runRebuild(ctx context.Context, args []string, stdout io.Writer, logger *slog.Logger, getenv func(string) string) error {
	fs := flag.NewFlagSet("rebuild", flag.ContinueOnError)
	dataDir := getenv("STREAMER_DATA_DIR")
	if dataDir == "" {
		dataDir = ".data"
	}
	fs.StringVar(&dataDir, "data", dataDir, "folder of the embedded store")
	var a awsFlags
	a.register(fs, func(k string) string {
		if k == "DYNAMODB_ENDPOINT" {
			return "" // the embedded store is the default; --aws-endpoint opts in
		}
		return getenv(k)
	}, "aws-endpoint")
	useAWS := fs.Bool("aws", false, "rebuild the DynamoDB views (of --region, or of --aws-endpoint) instead of the embedded store's")
	segments := fs.Int("segments", 4, "parallel Scan segments when rebuilding on DynamoDB")
	restart := fs.Bool("restart", false, "abandon an interrupted rebuild instead of resuming it")
	dropPrevious := fs.Duration("drop-previous-after", 0, "after switching, wait this long and drop the replaced generation (0 keeps it)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *useAWS || a.Endpoint != "" {
		cfg, err := a.config(ctx, getenv)
		if err != nil {
			return err
		}
		rt, err := app.NewAWS(ctx, cfg, app.AWSConfig{EventsTable: a.EventsTable, ViewsTable: a.ViewsTable, Logger: logger})
		if err != nil {
			return err
		}
		return rebuild(ctx, stdout, logger, rt.Events, rt.Views, rt.RebuildSource(*segments), *restart, *dropPrevious)
	}
	rt, err := embedded.Open(ctx, embedded.Config{DataDir: dataDir, Logger: logger})
	if err != nil {
		return err
	}
	defer rt.Close()
	return rebuild(ctx, stdout, logger, rt.Store, rt.Views, rt.RebuildSource(), *restart, *dropPrevious)
}

// rebuild runs projections.Rebuild with a progress display; shared by the
// local and the AWS variants of the command.
func rebuild(ctx context.Context, stdout io.Writer, logger *slog.Logger, store events.Store, gens projections.Generations,
	src projections.Source, restart bool, dropAfter time.Duration) error {
	pp := newProgressPrinter(stdout)
	res, err := projections.Rebuild(ctx, store, gens, projections.RebuildOptions{
		Source: src, Restart: restart, Progress: pp.update, Logger: logger,
	})
	pp.done()
	if err != nil {
		return fmt.Errorf("rebuild (run it again to resume): %w", err)
	}
	how := "rebuilt"
	if res.Resumed {
		how = "resumed and rebuilt"
	}
	fmt.Fprintf(stdout, "%s generation %s from %d events (%d view writes) in %s; readers switched from %s\n",
		how, res.Generation, res.Events, res.Written, res.Elapsed.Round(time.Millisecond), res.Previous)
	if dropAfter > 0 && res.Previous != "" {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(dropAfter):
		}
		if err := projections.DropGeneration(ctx, gens, res.Previous); err != nil {
			return fmt.Errorf("drop generation %s: %w", res.Previous, err)
		}
		fmt.Fprintf(stdout, "dropped generation %s\n", res.Previous)
	}
	return nil
}
