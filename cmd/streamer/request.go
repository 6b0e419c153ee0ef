package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"golang.org/x/term"

	"github.com/streamer/streamer/app"
	"github.com/streamer/streamer/client"
	"github.com/streamer/streamer/protocol"
)

// defaultURL is where `streamer dev` listens.
const defaultURL = "ws://127.0.0.1:8787/ws"

// requestReconnect is the CLI's redial policy: about half a minute of
// retries, then it gives up rather than hang.
var requestReconnect = client.ReconnectPolicy{MaxAttempts: 10, MinBackoff: 250 * time.Millisecond, MaxBackoff: 5 * time.Second}

type requestFlags struct {
	url, token, action, payload, key, requestID string
	follow, json                                bool
	fromVersion                                 int64
	timeout                                     time.Duration
}

// runRequest submits a request (or follows an existing one) and shows how
// it goes. It returns an error when the request failed, was cancelled or
// timed out, and for every transport or protocol error.
func runRequest(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) error {
	f, err := parseRequestFlags(args, stderr, getenv)
	if err != nil {
		return err
	}
	if f.timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, f.timeout)
		defer cancel()
	}
	level := getenv("LOG_LEVEL")
	if level == "" {
		level = "warn"
	}
	c, err := client.Dial(ctx, f.url, client.Options{
		Token: f.token, Reconnect: requestReconnect, Logger: app.NewLogger(stderr, level),
	})
	if err != nil {
		return f.explain(err, "")
	}
	defer c.Close()
	out := newRequestPrinter(stdout, f.json)

	id, from := f.requestID, f.fromVersion
	if id == "" {
		sub, err := c.Submit(ctx, f.action, json.RawMessage(f.payload), client.RequestOptions{IdempotencyKey: f.key})
		if err != nil {
			out.failure(err)
			return f.explain(err, "")
		}
		out.submission(sub)
		if !sub.Queued() {
			return out.result(sub.Outcome())
		}
		if !f.follow {
			return nil
		}
		id, from = sub.RequestID, 1
	}
	res, err := c.Follow(ctx, id, from, out.event)
	out.done()
	if err != nil {
		out.failure(err)
		return f.explain(err, id)
	}
	return out.result(res)
}

func parseRequestFlags(args []string, stderr io.Writer, getenv func(string) string) (requestFlags, error) {
	var f requestFlags
	fs := flag.NewFlagSet("request", flag.ContinueOnError)
	fs.SetOutput(stderr)
	url := getenv("STREAMER_URL")
	if url == "" {
		url = defaultURL
	}
	fs.StringVar(&f.url, "url", url, "WebSocket endpoint (default $STREAMER_URL, else "+defaultURL+")")
	// No flag default from the environment: the usage text, printed on any
	// flag error, would show the token.
	fs.StringVar(&f.token, "token", "", "JWT to connect with (default $STREAMER_TOKEN)")
	fs.StringVar(&f.action, "action", "", "handler action to submit, e.g. echo or generate_report (required unless --request-id)")
	fs.StringVar(&f.payload, "payload", "{}", "the request's payload, JSON")
	fs.StringVar(&f.key, "idempotency-key", "", "idempotency key (generated when empty); resubmitting a key returns the existing request")
	fs.BoolVar(&f.follow, "follow", false, "for an async request, show its progress until it ends (without it, print the queued answer and exit)")
	fs.StringVar(&f.requestID, "request-id", "", "follow this existing request instead of submitting one")
	fs.Int64Var(&f.fromVersion, "from-version", 0, "with --request-id: the last version already seen (0 replays everything)")
	fs.BoolVar(&f.json, "json", false, "print every frame received (the submission answer and each event) as one JSON line, nothing else")
	fs.DurationVar(&f.timeout, "timeout", 0, "give up after this long (0 waits for the end)")
	if err := fs.Parse(args); err != nil {
		return f, err
	}
	if f.token == "" {
		f.token = getenv("STREAMER_TOKEN")
	}
	var errs []error
	if fs.NArg() > 0 {
		errs = append(errs, fmt.Errorf("unexpected arguments %q", fs.Args()))
	}
	switch {
	case f.action == "" && f.requestID == "":
		errs = append(errs, errors.New("--action is required (or --request-id to follow an existing request)"))
	case f.action != "" && f.requestID != "":
		errs = append(errs, errors.New("--action and --request-id exclude each other"))
	}
	if f.requestID == "" && f.fromVersion != 0 {
		errs = append(errs, errors.New("--from-version needs --request-id"))
	}
	if f.fromVersion < 0 {
		errs = append(errs, errors.New("--from-version must be ≥ 0"))
	}
	if !json.Valid([]byte(f.payload)) {
		errs = append(errs, fmt.Errorf("--payload is not valid JSON: %q", f.payload))
	}
	if f.timeout < 0 {
		errs = append(errs, errors.New("--timeout must be ≥ 0"))
	}
	return f, errors.Join(errs...)
}

// explain words an error for a person at a shell.
func (f requestFlags) explain(err error, requestID string) error {
	switch {
	case errors.Is(err, client.ErrUnauthorized):
		return fmt.Errorf("%w (check --token or STREAMER_TOKEN)", err)
	case errors.Is(err, context.DeadlineExceeded) && f.timeout > 0:
		if requestID != "" {
			return fmt.Errorf("gave up after %s; request %s goes on (follow it with --request-id %s): %w", f.timeout, requestID, requestID, err)
		}
		return fmt.Errorf("gave up after %s: %w", f.timeout, err)
	}
	return err
}

// requestPrinter shows a request's life: JSON lines (--json), a live
// progress bar on a terminal, plain lines otherwise.
type requestPrinter struct {
	w     io.Writer
	json  bool
	tty   bool
	width int  // terminal columns
	bar   bool // a bar line is drawn and not yet ended
	last  string
}

func newRequestPrinter(w io.Writer, jsonLines bool) *requestPrinter {
	p := &requestPrinter{w: w, json: jsonLines, width: 80}
	if f, ok := w.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		p.tty = true
		if cols, _, err := term.GetSize(int(f.Fd())); err == nil && cols > 20 {
			p.width = cols
		}
	}
	return p
}

func (p *requestPrinter) line(v any) {
	b, err := json.Marshal(v)
	if err != nil {
		b = fmt.Appendf(nil, `{"type":"error","error":{"code":"internal_error","message":%q}}`, err.Error())
	}
	fmt.Fprintf(p.w, "%s\n", b)
}

func (p *requestPrinter) submission(s client.Submission) {
	if p.json {
		p.line(protocol.Outbound{Type: s.Type, RequestID: s.RequestID, Version: s.Version, Duplicate: s.Duplicate,
			Status: s.Status, Result: s.Result, Error: s.Error})
		return
	}
	if s.Queued() {
		dup := ""
		if s.Duplicate {
			dup = ", an existing request with this idempotency key"
		}
		fmt.Fprintf(p.w, "queued request %s at version %d%s\n", s.RequestID, s.Version, dup)
	}
}

func (p *requestPrinter) event(e client.Event) {
	if p.json {
		p.line(e.Frame())
		return
	}
	pr, isProgress := e.Progress()
	if p.tty {
		if client.IsTerminal(e.Type) {
			return // result prints the end
		}
		if isProgress {
			p.draw(formatRequestBar(pr, p.width))
		} else if !p.bar {
			p.draw(fmt.Sprintf("%s (v%d)", e.Type, e.Version))
		}
		return
	}
	line := fmt.Sprintf("v%d %s", e.Version, e.Type)
	if isProgress {
		line += fmt.Sprintf(" %3.0f%%", pr.Percentage)
		if msg := oneLine(pr.Message); msg != "" {
			line += " " + msg
		}
	}
	if line != p.last {
		fmt.Fprintln(p.w, line)
		p.last = line
	}
}

func (p *requestPrinter) draw(s string) {
	fmt.Fprintf(p.w, "\r\x1b[K%s", s)
	p.bar = true
}

// done ends the bar's line on a terminal.
func (p *requestPrinter) done() {
	if p.bar {
		fmt.Fprintln(p.w)
		p.bar = false
	}
}

// failure prints an error frame's error as a JSON line in --json mode (it
// is a frame received); the caller returns the error either way.
func (p *requestPrinter) failure(err error) {
	var pe *protocol.Error
	if p.json && errors.As(err, &pe) {
		p.line(protocol.Outbound{Type: protocol.TypeError, Error: pe})
	}
}

// result prints a completed request's result (pretty JSON) and turns any
// other end into the command's error.
func (p *requestPrinter) result(res *client.Result) error {
	p.done()
	if err := res.Err(); err != nil {
		return err
	}
	if p.json {
		return nil
	}
	if len(res.Result) == 0 {
		fmt.Fprintf(p.w, "request %s completed\n", res.RequestID)
		return nil
	}
	var b bytes.Buffer
	if err := json.Indent(&b, res.Result, "", "  "); err != nil {
		b.Reset()
		b.Write(res.Result)
	}
	fmt.Fprintf(p.w, "%s\n", b.Bytes())
	return nil
}

// formatRequestBar renders one progress line no wider than width: a
// 30-cell bar, the percentage and as much of the message as fits.
func formatRequestBar(p client.Progress, width int) string {
	frac := min(max(p.Percentage/100, 0), 1)
	cells := int(frac * 30)
	s := fmt.Sprintf("[%s%s] %3.0f%%", strings.Repeat("#", cells), strings.Repeat(" ", 30-cells), frac*100)
	msg := oneLine(p.Message)
	if room := width - len(s) - 3; msg != "" && room > 0 {
		if r := []rune(msg); len(r) > room {
			msg = string(r[:room-1]) + "…"
		}
		s += "  " + msg
	}
	return s
}

// oneLine folds a handler's message onto one line.
func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }
