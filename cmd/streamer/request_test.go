package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/streamer/streamer/client"
	"github.com/streamer/streamer/client/clienttest"
	"github.com/streamer/streamer/protocol"
)

// request runs `streamer request` against srv with args and returns stdout.
func request(t *testing.T, srv *clienttest.Server, vars map[string]string, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if vars == nil {
		vars = map[string]string{}
	}
	if _, ok := vars["STREAMER_URL"]; !ok && srv != nil {
		vars["STREAMER_URL"] = srv.URL
	}
	var stdout, stderr bytes.Buffer
	err := runRequest(ctx, args, &stdout, &stderr, func(k string) string { return vars[k] })
	if strings.Contains(stderr.String(), "secret-token") {
		t.Fatalf("stderr leaks the token: %s", stderr.String())
	}
	return stdout.String(), err
}

func TestRequestSyncPrintsResult(t *testing.T) {
	srv := clienttest.NewServer(clienttest.Config{})
	defer srv.Close()
	out, err := request(t, srv, nil, "--action", "echo", "--payload", `{"a":[1,2]}`)
	if err != nil {
		t.Fatal(err)
	}
	if want := "{\n  \"a\": [\n    1,\n    2\n  ]\n}\n"; out != want {
		t.Fatalf("stdout %q, want %q", out, want)
	}
	_, err = request(t, srv, nil, "--action", "fail")
	var pe *protocol.Error
	if !errors.Is(err, client.ErrRequestFailed) || !errors.As(err, &pe) || !strings.Contains(err.Error(), "boom") {
		t.Fatalf("failed sync request: %v", err)
	}
}

func TestRequestQueuedWithoutFollow(t *testing.T) {
	srv := clienttest.NewServer(clienttest.Config{})
	defer srv.Close()
	out, err := request(t, srv, nil, "--action", "job", "--payload", `{"steps":2,"hold":true}`, "--idempotency-key", "k-1")
	if err != nil {
		t.Fatal(err)
	}
	if out != "queued request req-1 at version 1\n" {
		t.Fatalf("stdout %q", out)
	}
	out, err = request(t, srv, nil, "--action", "job", "--payload", `{"steps":2,"hold":true}`, "--idempotency-key", "k-1")
	if err != nil || !strings.Contains(out, "queued request req-1") || !strings.Contains(out, "existing request") {
		t.Fatalf("resubmission: %q, %v", out, err)
	}
	if n := srv.Requests(); n != 1 {
		t.Fatalf("%d requests, want 1", n)
	}
}

func TestRequestFollowPlainLines(t *testing.T) {
	srv := clienttest.NewServer(clienttest.Config{DuplicateLive: true})
	defer srv.Close()
	out, err := request(t, srv, nil, "--action", "job", "--payload", `{"steps":2}`, "--follow")
	if err != nil {
		t.Fatal(err)
	}
	want := `queued request req-1 at version 1
v2 request.started
v3 request.progress  50% step 1
v4 request.progress 100% step 2
v5 request.completed
{
  "steps": 2
}
`
	if out != want {
		t.Fatalf("stdout:\n%s\nwant:\n%s", out, want)
	}
}

func TestRequestFollowEndsInError(t *testing.T) {
	srv := clienttest.NewServer(clienttest.Config{})
	defer srv.Close()
	for _, tc := range []struct {
		end      string
		sentinel error
		words    string
	}{
		{"failed", client.ErrRequestFailed, "failed: handler_error: boom"},
		{"timed_out", client.ErrRequestTimedOut, "timed out"},
	} {
		t.Run(tc.end, func(t *testing.T) {
			out, err := request(t, srv, nil, "--action", "job", "--payload", `{"steps":1,"end":"`+tc.end+`"}`, "--follow")
			if !errors.Is(err, tc.sentinel) || !strings.Contains(err.Error(), tc.words) {
				t.Fatalf("error %v, want %q", err, tc.words)
			}
			if !strings.Contains(out, "request."+tc.end) {
				t.Fatalf("stdout %q lacks the end event", out)
			}
		})
	}

	id := srv.Create("job")
	srv.Emit(id, "request.cancel_requested", map[string]string{"reason": "operator"})
	srv.Emit(id, "request.cancelled", map[string]string{"reason": "operator"})
	_, err := request(t, srv, nil, "--request-id", id)
	if !errors.Is(err, client.ErrRequestCancelled) || !strings.Contains(err.Error(), "cancelled: operator") {
		t.Fatalf("cancelled request: %v", err)
	}
}

func TestRequestJSONLines(t *testing.T) {
	srv := clienttest.NewServer(clienttest.Config{DuplicateLive: true, ReverseReplay: true})
	defer srv.Close()
	srv.DropAfter(5) // the socket drops mid-burst; the output must not show it
	out, err := request(t, srv, nil, "--action", "job", "--payload", `{"steps":3}`, "--follow", "--json")
	if err != nil {
		t.Fatal(err)
	}
	var frames []protocol.Outbound
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		var f protocol.Outbound
		if err := json.Unmarshal(sc.Bytes(), &f); err != nil {
			t.Fatalf("line %q: %v", sc.Text(), err)
		}
		frames = append(frames, f)
	}
	if len(frames) != 6 || frames[0].Type != protocol.TypeQueued || frames[0].RequestID != "req-1" {
		t.Fatalf("frames %+v", frames)
	}
	for i, f := range frames[1:] {
		if f.Type != protocol.TypeEvent || f.Version != int64(i+2) || f.RequestID != "req-1" || f.Time == nil {
			t.Fatalf("frame %d: %+v", i+1, f)
		}
	}
	if frames[5].Event != "request.completed" || string(frames[5].Data) != `{"result":{"steps":3}}` {
		t.Fatalf("last frame %+v", frames[5])
	}

	out, err = request(t, srv, nil, "--action", "nope", "--json")
	var pe *protocol.Error
	if !errors.As(err, &pe) || pe.Code != protocol.CodeUnknownAction {
		t.Fatalf("unknown action: %v", err)
	}
	var f protocol.Outbound
	if json.Unmarshal([]byte(out), &f) != nil || f.Type != protocol.TypeError || f.Error.Code != protocol.CodeUnknownAction {
		t.Fatalf("error frame line %q", out)
	}
}

func TestRequestFollowExisting(t *testing.T) {
	srv := clienttest.NewServer(clienttest.Config{})
	defer srv.Close()
	id := srv.Create("job")
	srv.Emit(id, "request.started", map[string]int{"attempt": 1})
	srv.Emit(id, "request.progress", map[string]any{"percentage": 40, "message": "reading"})
	srv.Emit(id, "request.completed", map[string]any{"result": "done"})
	out, err := request(t, srv, nil, "--request-id", id, "--from-version", "2")
	if err != nil {
		t.Fatal(err)
	}
	if want := "v3 request.progress  40% reading\nv4 request.completed\n\"done\"\n"; out != want {
		t.Fatalf("stdout %q, want %q", out, want)
	}
	out, err = request(t, srv, nil, "--request-id", id, "--from-version", "4")
	if err != nil || out != "\"done\"\n" {
		t.Fatalf("from the end: %q, %v", out, err)
	}
}

func TestRequestTokenAndURLFromEnvironment(t *testing.T) {
	srv := clienttest.NewServer(clienttest.Config{Token: "secret-token"})
	defer srv.Close()
	if _, err := request(t, srv, map[string]string{"STREAMER_TOKEN": "secret-token"}, "--action", "echo"); err != nil {
		t.Fatal(err)
	}
	if _, err := request(t, nil, nil, "--url", srv.URL, "--token", "secret-token", "--action", "echo"); err != nil {
		t.Fatal(err)
	}
	_, err := request(t, srv, map[string]string{"STREAMER_TOKEN": "wrong"}, "--action", "echo")
	if !errors.Is(err, client.ErrUnauthorized) || !strings.Contains(err.Error(), "STREAMER_TOKEN") {
		t.Fatalf("bad token: %v", err)
	}
	// Nothing listens there: the default URL is used and fails.
	_, err = request(t, nil, map[string]string{"STREAMER_URL": ""}, "--action", "echo", "--url", "ws://127.0.0.1:1/ws")
	if err == nil {
		t.Fatal("request to a closed port succeeded")
	}
}

func TestRequestTimeout(t *testing.T) {
	srv := clienttest.NewServer(clienttest.Config{})
	defer srv.Close()
	_, err := request(t, srv, nil, "--action", "job", "--payload", `{"hold":true}`, "--follow", "--timeout", "300ms")
	if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "--request-id req-1") {
		t.Fatalf("timeout: %v", err)
	}
}

func TestRequestFlagErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"no action", nil, "--action is required"},
		{"both", []string{"--action", "echo", "--request-id", "r"}, "exclude each other"},
		{"bad payload", []string{"--action", "echo", "--payload", "{"}, "not valid JSON"},
		{"from-version alone", []string{"--action", "echo", "--from-version", "3"}, "needs --request-id"},
		{"negative from-version", []string{"--request-id", "r", "--from-version", "-1"}, "≥ 0"},
		{"stray argument", []string{"--action", "echo", "extra"}, "unexpected arguments"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := request(t, nil, nil, tc.args...)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want %q", err, tc.want)
			}
		})
	}
	var stderr bytes.Buffer
	if err := runRequest(context.Background(), []string{"-h"}, io.Discard, &stderr, func(string) string { return "" }); err == nil ||
		!strings.Contains(stderr.String(), "-follow") {
		t.Fatalf("-h: %v, %q", err, stderr.String())
	}
}

func TestFormatRequestBar(t *testing.T) {
	for _, tc := range []struct {
		name  string
		p     client.Progress
		width int
		want  string
	}{
		{"half", client.Progress{Percentage: 50, Message: "halfway"}, 80, "[###############               ]  50%  halfway"},
		{"clamped", client.Progress{Percentage: 140}, 80, "[##############################] 100%"},
		{"negative", client.Progress{Percentage: -3}, 80, "[                              ]   0%"},
		{"one line", client.Progress{Percentage: 0, Message: "a\nb\tc"}, 80, "[                              ]   0%  a b c"},
		{"truncated", client.Progress{Percentage: 10, Message: strings.Repeat("é", 40)}, 50, "[###                           ]  10%  " + strings.Repeat("é", 9) + "…"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := formatRequestBar(tc.p, tc.width)
			if got != tc.want {
				t.Fatalf("got  %q\nwant %q", got, tc.want)
			}
			if utf8.RuneCountInString(got) > tc.width {
				t.Fatalf("%d columns, width %d", utf8.RuneCountInString(got), tc.width)
			}
		})
	}
}

// On a terminal the bar is redrawn in place; the printer's logic is
// exercised here with tty forced on.
func TestRequestPrinterTerminal(t *testing.T) {
	var b bytes.Buffer
	p := &requestPrinter{w: &b, tty: true, width: 60}
	p.event(client.Event{RequestID: "r", Version: 2, Type: "request.started"})
	p.event(client.Event{RequestID: "r", Version: 3, Type: client.EventProgress, Data: json.RawMessage(`{"percentage":50,"message":"m"}`)})
	p.event(client.Event{RequestID: "r", Version: 4, Type: client.EventCompleted, Data: json.RawMessage(`{"result":{"x":1}}`)})
	if err := p.result(&client.Result{RequestID: "r", Status: client.StatusCompleted, Result: json.RawMessage(`{"x":1}`)}); err != nil {
		t.Fatal(err)
	}
	want := "\r\x1b[Krequest.started (v2)\r\x1b[K[###############               ]  50%  m\n{\n  \"x\": 1\n}\n"
	if b.String() != want {
		t.Fatalf("got %q\nwant %q", b.String(), want)
	}
}

// The usage text, printed on any flag error, never shows the token of the
// environment (it may end up in a CI log).
func TestRequestUsageHidesToken(t *testing.T) {
	const secret = "eyJhbGciOiJFUzI1NiJ9.secret-token-material"
	getenv := func(k string) string {
		if k == "STREAMER_TOKEN" {
			return secret
		}
		return ""
	}
	for _, args := range [][]string{{"-h"}, {"--from-version", "--json"}, {"--no-such-flag"}} {
		var stderr bytes.Buffer
		err := runRequest(context.Background(), args, io.Discard, &stderr, getenv)
		if err == nil {
			t.Fatalf("%v: no error", args)
		}
		if out := stderr.String() + err.Error(); strings.Contains(out, "secret-token-material") {
			t.Fatalf("%v: the token is printed:\n%s", args, out)
		}
	}
}
