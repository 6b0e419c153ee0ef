package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	awsdynamodb "github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/streamer/streamer/app/embedded"
	"github.com/streamer/streamer/audit"
	"github.com/streamer/streamer/events"
	ddbevents "github.com/streamer/streamer/events/dynamodb"
	evsqlite "github.com/streamer/streamer/events/sqlite"
	"github.com/streamer/streamer/httpapi"
)

const auditUsage = "usage: streamer audit [--data DIR | --aws-endpoint URL | --aws] [--events-table T] [--region R] [--json] [--verify] [--as-of TIME] <request-id>"

// runAudit is `streamer audit`: the timeline of one request read from the
// event log (embedded store, or DynamoDB), as a table, as JSON (--json: the
// body of GET /requests/{id}/events, every event on one page), or the
// verification of its hash chain (--verify), which is an error when the
// chain is broken. --as-of cuts the history at a moment, as the API's asOf
// does.
func runAudit(ctx context.Context, args []string, stdout io.Writer, getenv func(string) string) error {
	fs := flag.NewFlagSet("audit", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	dataDir := orDefault(getenv("STREAMER_DATA_DIR"), ".data")
	fs.StringVar(&dataDir, "data", dataDir, "folder of the embedded store")
	var a awsFlags
	a.register(fs, func(k string) string {
		if k == "DYNAMODB_ENDPOINT" {
			return "" // the embedded store is the default; --aws-endpoint opts in
		}
		return getenv(k)
	}, "aws-endpoint")
	useAWS := fs.Bool("aws", false, "read the DynamoDB events table (of --region, or of --aws-endpoint) instead of the embedded store")
	asJSON := fs.Bool("json", false, "print JSON (the body of GET /requests/{id}/events) instead of a table")
	verify := fs.Bool("verify", false, "verify the hash chain instead of printing the timeline; exit status 1 when it is broken")
	asOf := fs.String("as-of", "", "RFC 3339 time: the history as it was then")
	id, err := parseAuditArgs(fs, args)
	if err != nil {
		return err
	}
	var at time.Time
	if *asOf != "" {
		t, ok := httpapi.ParseTime(*asOf)
		if !ok {
			return fmt.Errorf("--as-of %q is not an RFC 3339 time such as 2026-11-28T03:00:00Z", *asOf)
		}
		at = t
	}

	var (
		store events.Store
		where string
	)
	if *useAWS || a.Endpoint != "" {
		cfg, err := a.config(ctx, getenv)
		if err != nil {
			return err
		}
		store = ddbevents.New(awsdynamodb.NewFromConfig(cfg), a.EventsTable)
		where = "table " + a.EventsTable
	} else {
		path := filepath.Join(dataDir, embedded.EventsFile)
		if _, err := os.Stat(path); err != nil {
			return fmt.Errorf("no event store at %s (run `streamer dev` first, or pass --data DIR): %w", path, err)
		}
		s, err := evsqlite.Open(path)
		if err != nil {
			return err
		}
		defer s.Close()
		store, where = s, path
	}

	evs, err := audit.History(ctx, store, id)
	if errors.Is(err, audit.ErrNotFound) {
		return fmt.Errorf("request %s not found in %s", id, where)
	}
	if err != nil {
		return err
	}
	if !at.IsZero() {
		first := evs[0]
		if evs = audit.AsOf(evs, at); len(evs) == 0 {
			return fmt.Errorf("request %s had not been submitted at %s (its first event is at %s)",
				id, at.Format(time.RFC3339Nano), first.Time.UTC().Format(time.RFC3339Nano))
		}
	}

	switch {
	case *verify:
		res := audit.Verify(evs)
		if *asJSON {
			if err := writeJSONTo(stdout, httpapi.VerifyResult{RequestID: id, Result: res}); err != nil {
				return err
			}
		} else {
			fmt.Fprintln(stdout, res)
		}
		if !res.OK {
			return fmt.Errorf("request %s: %w at version %d: %s", id, events.ErrChainBroken, res.BrokenAt, res.Reason)
		}
		return nil
	case *asJSON:
		page := httpapi.HistoryPage{RequestID: id, Events: audit.Entries(evs)}
		if !at.IsZero() {
			page.AsOf = &at
		}
		return writeJSONTo(stdout, page)
	}
	return printTimeline(stdout, id, at, evs)
}

// parseAuditArgs parses flags placed before or after the request ID.
func parseAuditArgs(fs *flag.FlagSet, args []string) (string, error) {
	var ids []string
	for {
		if err := fs.Parse(args); err != nil {
			return "", fmt.Errorf("%v\n%s", err, auditUsage)
		}
		if fs.NArg() == 0 {
			break
		}
		ids = append(ids, fs.Arg(0))
		args = fs.Args()[1:]
	}
	if len(ids) != 1 {
		return "", errors.New(auditUsage)
	}
	return ids[0], nil
}

// printTimeline writes the human timeline: one aligned row per event, then
// the state the events fold into.
func printTimeline(w io.Writer, id string, at time.Time, evs []events.Event) error {
	head := "request " + id
	if !at.IsZero() {
		head += " as of " + at.Format(time.RFC3339Nano)
	}
	fmt.Fprintln(w, head)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "VERSION\tTIME\tACTOR\tEVENT\tSUMMARY")
	for _, e := range evs {
		actor := e.Meta.Actor
		if actor == "" {
			actor = "-"
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\n", e.Version, e.Time.UTC().Format("2006-01-02T15:04:05.000Z"), actor,
			strings.TrimPrefix(e.Type, "request."), auditLine(audit.Summary(e)))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	v, err := audit.Replay(evs)
	if err != nil {
		fmt.Fprintf(w, "state: cannot be replayed: %v (check with --verify)\n", err)
		return nil
	}
	state := v.Status
	if !v.Terminal() || v.Status == "completed" {
		state += " " + strconv.FormatFloat(v.Percentage, 'f', -1, 64) + "%"
	}
	if v.Error != nil {
		state += " (" + v.Error.Code + ": " + v.Error.Message + ")"
	}
	fmt.Fprintf(w, "state: %s at version %d\n", state, v.Version)
	return nil
}

// auditLine keeps a summary on its row.
func auditLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}

// writeJSONTo prints v as indented JSON.
func writeJSONTo(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}
