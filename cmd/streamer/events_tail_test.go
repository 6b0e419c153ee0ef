package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	awsevents "github.com/aws/aws-lambda-go/events"

	"github.com/streamer/streamer/bus/bustest"
	"github.com/streamer/streamer/bus/local"
	"github.com/streamer/streamer/events"
	evsqlite "github.com/streamer/streamer/events/sqlite"
)

// syncBuffer is an io.Writer the test reads while the command writes.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) lines() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := strings.Split(strings.TrimRight(s.b.String(), "\n"), "\n")
	if len(out) == 1 && out[0] == "" {
		return nil
	}
	return out
}

// tailServer is a dev-like server: the local bus's tail handler at
// /events/tail. It counts the tail requests it got.
func tailServer(t *testing.T) (*local.Bus, *httptest.Server, *atomic.Int32) {
	t.Helper()
	b, err := local.New(local.Config{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	var hits atomic.Int32
	mux := http.NewServeMux()
	tail := b.TailHandler()
	mux.Handle("/events/tail", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		tail.ServeHTTP(w, r)
	}))
	srv := httptest.NewServer(mux)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		b.Close(ctx)
		srv.Close()
	})
	return b, srv, &hits
}

func tailRun(t *testing.T) bustest.Run {
	t.Helper()
	store, err := evsqlite.Open(filepath.Join(t.TempDir(), "events.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	run, err := bustest.AppendRun(context.Background(), store, 4)
	if err != nil {
		t.Fatal(err)
	}
	return run
}

// tail runs the command until want lines arrived, then interrupts it.
func tail(t *testing.T, b *local.Bus, hits *atomic.Int32, run bustest.Run, args []string, env map[string]string, want int) []string {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	out := &syncBuffer{}
	done := make(chan error, 1)
	before := hits.Load()
	go func() { done <- runEventsTail(ctx, args, out, func(k string) string { return env[k] }) }()
	deadline := time.Now().Add(20 * time.Second)
	for hits.Load() == before { // connected
		if time.Now().After(deadline) {
			t.Fatal("the command never connected")
		}
		time.Sleep(5 * time.Millisecond)
	}
	// The handler subscribes right after the hit; publish until the lines
	// arrive (a publish that raced the subscription is simply repeated).
	for len(out.lines()) < want {
		if time.Now().After(deadline) {
			t.Fatalf("got %d lines, want %d:\n%s", len(out.lines()), want, strings.Join(out.lines(), "\n"))
		}
		if len(out.lines()) == 0 {
			if err := b.Publish(context.Background(), run.Events); err != nil {
				t.Fatal(err)
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("interrupted tail returned %v", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("the command did not stop when interrupted")
	}
	return out.lines()[:want]
}

func TestEventsTailReadable(t *testing.T) {
	b, srv, hits := tailServer(t)
	run := tailRun(t)
	lines := tail(t, b, hits, run, []string{"--pattern", `{"detail":{"stream":[{"prefix":"request/"}]},"detail-type":[{"anything-but":"request.started"}]}`},
		map[string]string{"STREAMER_URL": srv.URL}, 5)
	var want []events.Event
	for _, e := range run.Events {
		if e.StreamID[:8] == "request/" && e.Type != events.RequestStarted {
			want = append(want, e)
		}
	}
	for i, line := range lines {
		e := want[i]
		if !strings.Contains(line, e.Type) || !strings.Contains(line, e.StreamID+"@") || !strings.HasPrefix(line, e.Time.UTC().Format("2006-01-02T15:04:05")) {
			t.Fatalf("line %d %q does not show %s %s@%d", i, line, e.Type, e.StreamID, e.Version)
		}
	}
	for i, frag := range []string{"action=generate_report owner=alice", "10% Rendering page 1", "60.5%", "result=", "action=generate_report"} {
		if !strings.Contains(lines[i], frag) {
			t.Errorf("line %d %q lacks %q", i, lines[i], frag)
		}
	}
}

func TestEventsTailJSON(t *testing.T) {
	b, srv, hits := tailServer(t)
	run := tailRun(t)
	lines := tail(t, b, hits, run, []string{"--url", srv.URL + "/", "--json", "--pattern", `{"detail-type":["request.completed"]}`}, nil, 1)
	var ev awsevents.EventBridgeEvent
	if err := json.Unmarshal([]byte(lines[0]), &ev); err != nil || ev.DetailType != events.RequestCompleted || ev.Source != "streamer" {
		t.Fatalf("line %q: %v", lines[0], err)
	}
}

func TestEventsTailRejectsBeforeConnecting(t *testing.T) {
	_, srv, hits := tailServer(t)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--url", srv.URL, "--pattern", `{"source":"streamer"}`}, "invalid event pattern"},
		{[]string{"--url", "ftp://x", "--pattern", `{"source":["streamer"]}`}, "is not the dev server's http(s) URL"},
		{[]string{"--url", srv.URL, "extra"}, "unexpected argument"},
		{[]string{"--nope"}, "usage"},
	} {
		err := runEventsTail(context.Background(), tc.args, io.Discard, func(string) string { return "" })
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: error %v, want %q", tc.args, err, tc.want)
		}
	}
	if hits.Load() != 0 {
		t.Fatalf("%d requests reached the server", hits.Load())
	}
	// Nothing listening.
	if err := runEventsTail(context.Background(), []string{"--url", "http://127.0.0.1:1"}, io.Discard, func(string) string { return "" }); err == nil ||
		!strings.Contains(err.Error(), "streamer dev") {
		t.Fatalf("no server: %v", err)
	}
}

func TestEventsTailServerEndsStream(t *testing.T) {
	b, srv, _ := tailServer(t)
	run := tailRun(t)
	out := &syncBuffer{}
	done := make(chan error, 1)
	go func() {
		done <- runEventsTail(context.Background(), []string{"--url", srv.URL, "--json"}, out, func(string) string { return "" })
	}()
	// Subscribed once an event came through.
	deadline := time.Now().Add(20 * time.Second)
	for len(out.lines()) == 0 {
		if time.Now().After(deadline) {
			t.Fatal("the tail never received an event")
		}
		if err := b.Publish(context.Background(), run.Events[:1]); err != nil {
			t.Fatal(err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	b.Close(ctx) // ends every tail
	select {
	case err := <-done:
		if err == nil || !strings.Contains(err.Error(), "ended the stream") {
			t.Fatalf("error %v", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("tail did not notice the end of the stream")
	}
}

func TestTailURL(t *testing.T) {
	for base, want := range map[string]string{
		"http://127.0.0.1:8787":      "http://127.0.0.1:8787/events/tail",
		"http://127.0.0.1:8787/":     "http://127.0.0.1:8787/events/tail",
		"https://dev.example:9/":     "https://dev.example:9/events/tail",
		"ws://127.0.0.1:8787/ws":     "http://127.0.0.1:8787/events/tail",
		"wss://dev.example/ws":       "https://dev.example/events/tail",
		"ws://127.0.0.1:8787/ws?x=1": "",
		"ftp://127.0.0.1:8787":       "",
		"127.0.0.1:8787":             "",
		"http://":                    "",
	} {
		u, err := tailURL(base)
		switch {
		case want == "" && err == nil:
			t.Errorf("%q: %s, want an error", base, u)
		case want != "" && (err != nil || u.String() != want):
			t.Errorf("%q: %v, %v; want %s", base, u, err, want)
		}
	}
}
