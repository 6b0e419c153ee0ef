package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	awsevents "github.com/aws/aws-lambda-go/events"

	"github.com/streamer/streamer/bus/pattern"
	"github.com/streamer/streamer/bus/subscriber"
	"github.com/streamer/streamer/events"
)

// defaultDevURL is where `streamer dev` listens unless told otherwise.
const defaultDevURL = "http://127.0.0.1:8787"

// tailPath is where the dev server mounts the local bus's tail handler.
const tailPath = "/events/tail"

// tailURL is the tail endpoint of the dev server at base: its HTTP URL
// (http://127.0.0.1:8787), or its WebSocket URL (ws://127.0.0.1:8787/ws,
// what STREAMER_URL holds for `streamer request`), whose scheme maps to
// http(s) and whose path is dropped.
func tailURL(base string) (*url.URL, error) {
	u, err := url.Parse(base)
	if err == nil {
		switch u.Scheme {
		case "ws":
			u.Scheme, u.Path, u.RawPath = "http", "", ""
		case "wss":
			u.Scheme, u.Path, u.RawPath = "https", "", ""
		}
		u, err = url.Parse(strings.TrimRight(u.String(), "/") + tailPath)
	}
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
		return nil, fmt.Errorf("--url %q is not the dev server's http(s) URL (or its ws(s) WebSocket URL)", base)
	}
	return u, nil
}

// runEventsTail is `streamer events tail [--url URL] [--pattern JSON]
// [--json]`: it prints the events published on the dev server's local bus,
// live, one line per event, until interrupted. args are the flags after
// "events tail". The pattern is an EventBridge event pattern, checked here
// before connecting. STREAMER_URL overrides the default URL.
func runEventsTail(ctx context.Context, args []string, stdout io.Writer, getenv func(string) string) error {
	base := defaultDevURL
	if v := getenv("STREAMER_URL"); v != "" {
		base = v
	}
	fs := flag.NewFlagSet("events tail", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.StringVar(&base, "url", base, "base URL of `streamer dev`")
	pat := fs.String("pattern", "", "EventBridge event pattern (JSON) the events must match")
	raw := fs.Bool("json", false, "print each event as its EventBridge JSON, one per line")
	if err := fs.Parse(args); err != nil {
		return fmt.Errorf("%w\nusage: streamer events tail [--url %s] [--pattern JSON] [--json]", err, defaultDevURL)
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	if *pat != "" {
		if _, err := pattern.Compile([]byte(*pat)); err != nil {
			return err
		}
	}
	u, err := tailURL(base)
	if err != nil {
		return err
	}
	if *pat != "" {
		u.RawQuery = url.Values{"pattern": {*pat}}.Encode()
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return fmt.Errorf("connect to %s: %w (is `streamer dev` running?)", base, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		return fmt.Errorf("%s: %s: %s", u.Redacted(), resp.Status, strings.TrimSpace(string(msg)))
	}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64*1024), 8<<20)
	for sc.Scan() {
		line := sc.Bytes()
		if len(line) == 0 {
			continue
		}
		if *raw {
			fmt.Fprintf(stdout, "%s\n", line)
			continue
		}
		fmt.Fprintln(stdout, formatTailLine(line))
	}
	if ctx.Err() != nil {
		return nil
	}
	if err := sc.Err(); err != nil && !errors.Is(err, context.Canceled) {
		return fmt.Errorf("read the tail: %w", err)
	}
	return errors.New("the server ended the stream")
}

// formatTailLine renders one EventBridge event as
// "TIME  TYPE  STREAM@VERSION  SUMMARY"; a line it cannot decode is
// printed as it came.
func formatTailLine(line []byte) string {
	var ev awsevents.EventBridgeEvent
	if err := json.Unmarshal(line, &ev); err != nil {
		return string(line)
	}
	e, err := subscriber.Decode(ev)
	var ref *subscriber.RefError
	switch {
	case errors.As(err, &ref):
		return fmt.Sprintf("%s  %-24s %s@%d  (too large for the bus: load it from the store)",
			ev.Time.UTC().Format(time.RFC3339), ref.Type, ref.Stream, ref.Version)
	case err != nil:
		return string(line)
	}
	return fmt.Sprintf("%s  %-24s %s@%d  %s", e.Time.UTC().Format("2006-01-02T15:04:05.000Z07:00"), e.Type, e.StreamID, e.Version, summary(e))
}

// summary is a short human description of e's payload.
func summary(e events.Event) string {
	p, err := events.DecodePayload(e)
	if err != nil {
		return shorten(string(e.Data), 80)
	}
	switch p := p.(type) {
	case *events.Submitted:
		return fmt.Sprintf("action=%s owner=%s", p.Action, p.Owner)
	case *events.Started:
		s := fmt.Sprintf("attempt=%d", p.Attempt)
		if p.Worker != "" {
			s += " worker=" + p.Worker
		}
		return s
	case *events.Progress:
		return strings.TrimSpace(fmt.Sprintf("%g%% %s", p.Percentage, p.Message))
	case *events.Completed:
		if len(p.Result) == 0 {
			return "completed"
		}
		return "result=" + shorten(string(p.Result), 60)
	case *events.Failed:
		s := fmt.Sprintf("%s: %s", p.Code, p.Message)
		if p.Retryable {
			s += " (retryable)"
		}
		return s
	case *events.CancelRequested:
		return strings.TrimSpace(fmt.Sprintf("by=%s %s", p.By, p.Reason))
	case *events.Cancelled:
		return p.Reason
	case *events.TimedOut:
		return "deadline=" + p.Deadline.UTC().Format(time.RFC3339)
	case *events.Opened:
		return fmt.Sprintf("user=%s tenant=%s", p.User, p.Tenant)
	case *events.Subscribed:
		return fmt.Sprintf("request=%s from=%d", p.RequestID, p.FromVersion)
	case *events.Unsubscribed:
		return "request=" + p.RequestID
	case *events.Closed:
		return "reason=" + p.Reason
	}
	return ""
}

func shorten(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}
