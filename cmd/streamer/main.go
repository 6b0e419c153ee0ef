// Command streamer is the one CLI of the project: the local stack (dev),
// requests with live progress (request), audit, rebuild, events tail,
// development tokens (token) and table management (tables).
package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/streamer/streamer/app"
)

const usage = `streamer — event-sourced request tracking

Usage:
  streamer dev [flags]              run the local stack on the embedded store
  streamer request [flags]          submit a request and follow its progress
  streamer token [flags]            mint a development token (or print the dev public key)
  streamer audit [flags] <id>       a request's history, as-of state and hash-chain check
  streamer events tail [flags]      print the bus events of a running 'streamer dev' live
  streamer rebuild [flags]          rebuild the views from the log, without downtime
  streamer tables create [flags]    create the DynamoDB tables (idempotent)
  streamer help                     this text

Run 'streamer <command> -h' for a command's flags.
`

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stdout, os.Stderr, os.Getenv))
}

// run dispatches a command line; it is main without the process, for tests.
func run(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) int {
	logger := newLogger(stderr, getenv("LOG_LEVEL"))
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	var err error
	switch args[0] {
	case "dev":
		err = runDev(ctx, args[1:], stdout, logger, getenv)
	case "request":
		err = runRequest(ctx, args[1:], stdout, stderr, getenv)
	case "token":
		err = runToken(ctx, args[1:], stdout, getenv)
	case "audit":
		err = runAudit(ctx, args[1:], stdout, getenv)
	case "events":
		if len(args) < 2 || args[1] != "tail" {
			fmt.Fprintf(stderr, "streamer events: want 'streamer events tail [flags]'\n")
			return 2
		}
		err = runEventsTail(ctx, args[2:], stdout, getenv)
	case "rebuild":
		err = runRebuild(ctx, args[1:], stdout, logger, getenv)
	case "tables":
		err = runTables(ctx, args[1:], stdout, getenv)
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return 0
	default:
		fmt.Fprintf(stderr, "streamer: unknown command %q\n\n%s", args[0], usage)
		return 2
	}
	if err != nil {
		fmt.Fprintf(stderr, "streamer %s: %v\n", args[0], err)
		return 1
	}
	return 0
}

// newLogger builds the JSON slog logger every command uses.
func newLogger(w io.Writer, level string) *slog.Logger { return app.NewLogger(w, level) }
