package client

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/streamer/streamer/client/clienttest"
)

// testTimeout only guards against hangs; no test relies on timing.
const testTimeout = 30 * time.Second

func testCtx(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	t.Cleanup(cancel)
	return ctx
}

func newServer(t *testing.T, cfg clienttest.Config) *clienttest.Server {
	t.Helper()
	s := clienttest.NewServer(cfg)
	t.Cleanup(s.Close)
	return s
}

// fastReconnect keeps redials quick so tests do not wait on backoff.
var fastReconnect = ReconnectPolicy{MinBackoff: time.Millisecond, MaxBackoff: 20 * time.Millisecond}

func dial(t *testing.T, ctx context.Context, s *clienttest.Server, opts Options) *Client {
	t.Helper()
	if opts.Reconnect == (ReconnectPolicy{}) {
		opts.Reconnect = fastReconnect
	}
	c, err := Dial(ctx, s.URL, opts)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// recorder collects what a follower's callbacks see.
type recorder struct {
	mu       sync.Mutex
	events   []Event
	progress []Progress
}

func (r *recorder) onEvent(e Event) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.events = append(r.events, e)
}

func (r *recorder) onProgress(p Progress) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.progress = append(r.progress, p)
}

func (r *recorder) versions() []int64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	return versionsOf(r.events)
}

func versionsOf(evs []Event) []int64 {
	out := make([]int64, len(evs))
	for i, e := range evs {
		out[i] = e.Version
	}
	return out
}

// span is from, from+1, …, to.
func span(from, to int64) []int64 {
	var out []int64
	for v := from; v <= to; v++ {
		out = append(out, v)
	}
	return out
}

// assertExactlyOnce checks the callbacks and the result saw versions
// from..to once each, in order, and the result matches the log.
func assertExactlyOnce(t *testing.T, s *clienttest.Server, rec *recorder, res *Result, from, to int64) {
	t.Helper()
	want := span(from, to)
	if got := rec.versions(); !slices.Equal(got, want) {
		t.Fatalf("callbacks saw versions %v, want %v", got, want)
	}
	if got := versionsOf(res.Events); !slices.Equal(got, want) {
		t.Fatalf("result has versions %v, want %v", got, want)
	}
	log := s.Events(res.RequestID)
	for _, e := range res.Events {
		l := log[e.Version-1]
		if e.Type != l.Event || string(e.Data) != string(l.Data) || !e.Time.Equal(*l.Time) || e.RequestID != l.RequestID {
			t.Fatalf("event v%d = %+v, log has %+v", e.Version, e, l)
		}
	}
	if res.Version != to {
		t.Fatalf("result version %d, want %d", res.Version, to)
	}
}

func jobPayload(steps int, extra string) json.RawMessage {
	return json.RawMessage(fmt.Sprintf(`{"steps":%d%s}`, steps, extra))
}

// waitTick paces the few waits on a client-side condition.
func waitTick() <-chan time.Time { return time.After(2 * time.Millisecond) }
