package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"strings"
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
	view := fs.String("view", string(projections.ViewAll), "views to rebuild from the log: all, requests or connections (the others are carried over from the active generation)")
	var ro rebuildOptions
	fs.BoolVar(&ro.restart, "restart", false, "abandon an interrupted rebuild instead of resuming it")
	fs.DurationVar(&ro.dropAfter, "drop-previous-after", 0, "after switching, wait this long and drop the replaced generation (0 keeps it)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	views, err := projections.ParseViewKind(*view)
	if err != nil {
		return fmt.Errorf("--view: %w", err)
	}
	ro.views = views
	if *useAWS || a.Endpoint != "" {
		cfg, err := a.config(ctx, getenv)
		if err != nil {
			return err
		}
		rt, err := app.NewAWS(ctx, cfg, app.AWSConfig{EventsTable: a.EventsTable, ViewsTable: a.ViewsTable, Logger: logger})
		if err != nil {
			return err
		}
		return rebuild(ctx, stdout, logger, rt.Events, rt.Views, rt.RebuildSource(*segments), ro)
	}
	rt, err := embedded.Open(ctx, embedded.Config{DataDir: dataDir, Logger: logger})
	if err != nil {
		return err
	}
	defer rt.Close()
	return rebuild(ctx, stdout, logger, rt.Store, rt.Views, rt.RebuildSource(), ro)
}

// rebuildOptions are the flags of the rebuild itself.
type rebuildOptions struct {
	views     projections.ViewKind
	restart   bool
	dropAfter time.Duration
}

// rebuild runs projections.Rebuild with a progress display; shared by the
// local and the AWS variants of the command.
func rebuild(ctx context.Context, stdout io.Writer, logger *slog.Logger, store events.Store, gens projections.Generations,
	src projections.Source, ro rebuildOptions) error {
	pp := newProgressPrinter(stdout)
	res, err := projections.Rebuild(ctx, store, gens, projections.RebuildOptions{
		Source: src, Views: ro.views, Restart: ro.restart, Progress: pp.update, Logger: logger,
	})
	pp.done()
	if errors.Is(err, projections.ErrRebuildViewsMismatch) {
		hint := "run it with the --view it was started with to resume it"
		if m, merr := gens.Meta(ctx); merr == nil && m.Rebuilding != "" {
			hint = fmt.Sprintf("run 'streamer rebuild --view %s' to resume it", m.Views)
		}
		return fmt.Errorf("%w (%s, or add --restart to abandon it and start over with --view %s)", err, hint, ro.views)
	}
	if err != nil {
		return fmt.Errorf("rebuild (run it again to resume): %w", err)
	}
	how := "rebuilt"
	if res.Resumed {
		how = "resumed and rebuilt"
	}
	detail := fmt.Sprintf("%d view writes", res.Written)
	if others := res.Views.Others(); len(others) > 0 {
		detail += fmt.Sprintf("; %s views only, %d %s views carried over from %s",
			singular(res.Views), res.Copied, singular(others[0]), res.Previous)
	}
	fmt.Fprintf(stdout, "%s generation %s from %d events (%s) in %s; readers switched from %s\n",
		how, res.Generation, res.Events, detail, res.Elapsed.Round(time.Millisecond), res.Previous)
	if ro.dropAfter > 0 && res.Previous != "" {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(ro.dropAfter):
		}
		if err := projections.DropGeneration(ctx, gens, res.Previous); err != nil {
			return fmt.Errorf("drop generation %s: %w", res.Previous, err)
		}
		fmt.Fprintf(stdout, "dropped generation %s\n", res.Previous)
	}
	return nil
}

// singular names the views of one kind in a sentence: "request", "connection".
func singular(k projections.ViewKind) string { return strings.TrimSuffix(k.String(), "s") }
