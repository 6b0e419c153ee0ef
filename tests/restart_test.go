package tests

import (
	"context"
	"encoding/json"
	"path/filepath"
	"testing"
	"time"

	"github.com/streamer/streamer/app/embedded"
	"github.com/streamer/streamer/client"
	"github.com/streamer/streamer/events"
	evsqlite "github.com/streamer/streamer/events/sqlite"
	"github.com/streamer/streamer/handler"
)

// quick ends every request at once: the handler of the second process.
type quick struct{ hold }

func (quick) EstimatedDuration() time.Duration { return time.Hour }
func (quick) ProcessWithProgress(ctx context.Context, _ *handler.Request, r handler.Reporter) error {
	return r.Complete(ctx, json.RawMessage(`{"resumed":"yes"}`))
}

// startOn starts the local stack on dir with h as its only handler and one
// worker.
func startOn(t *testing.T, dir string, h handler.Handler) *embedded.Stack {
	t.Helper()
	router := handler.NewRouter()
	if err := router.Register(h); err != nil {
		t.Fatal(err)
	}
	return NewLocalEnvironment(t, Options{Router: router, Workers: 1, DataDir: dir}).Stack
}

// A stack stopped with a request running and another queued behind it
// (one worker) leaves both as they are in the log; the next start on the
// same data folder runs both to the end (Processor.Resume, listing the
// unfinished requests from the views).
func TestLocalRestartResumesUnfinishedRequests(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	dir := t.TempDir()

	first := startOn(t, dir, hold{})
	env := &LocalEnvironment{Stack: first}
	c := Dial(t, env, "alice", "acme")
	var ids []string
	for range 2 {
		sub, err := c.Submit(ctx, "hold", map[string]int{}, client.RequestOptions{})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, sub.RequestID)
	}
	// Wait until the views show one running and one queued: the state a
	// crash or a shutdown leaves behind.
	waitUntil(t, ctx, "one request running, one queued", func() bool {
		running, queued := 0, 0
		for _, id := range ids {
			v, err := first.Reader.GetRequest(ctx, id)
			if err != nil {
				return false
			}
			switch v.Status {
			case "running":
				running++
			case "queued":
				queued++
			}
		}
		return running == 1 && queued == 1
	})
	if err := first.Close(); err != nil {
		t.Fatalf("stop the first stack: %v", err)
	}

	second := startOn(t, dir, quick{})
	defer func() {
		if err := second.Close(); err != nil {
			t.Errorf("stop the second stack: %v", err)
		}
	}()
	waitUntil(t, ctx, "both requests to complete after the restart", func() bool {
		for _, id := range ids {
			v, err := second.Reader.GetRequest(ctx, id)
			if err != nil || v.Status != "completed" {
				return false
			}
		}
		return true
	})
	second.Close()
	log, err := evsqlite.Open(filepath.Join(dir, embedded.EventsFile))
	if err != nil {
		t.Fatal(err)
	}
	defer log.Close()
	for _, id := range ids {
		evs, err := events.LoadAll(ctx, log, events.RequestStream(id), 1)
		if err != nil {
			t.Fatal(err)
		}
		if n := countType(evs, events.RequestCompleted); n != 1 {
			t.Fatalf("%s: %d completed events, want 1: %v", id, n, evs)
		}
	}
}

func waitUntil(t *testing.T, ctx context.Context, what string, cond func() bool) {
	t.Helper()
	for !cond() {
		select {
		case <-ctx.Done():
			t.Fatalf("timed out waiting for %s", what)
		case <-time.After(20 * time.Millisecond):
		}
	}
}

func countType(evs []events.Event, typ string) int {
	n := 0
	for _, e := range evs {
		if e.Type == typ {
			n++
		}
	}
	return n
}
