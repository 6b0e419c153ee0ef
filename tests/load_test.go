package tests

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/streamer/streamer/client"
	"github.com/streamer/streamer/events"
	"github.com/streamer/streamer/handler/demo"
)

// TestLoadOrigin is the origin project's load test: 100 clients × 10
// requests each (sync echo and async generate_report alternating), zero
// errors. It stops by itself: every wait is bounded.
func TestLoadOrigin(t *testing.T) {
	env := NewLocalEnvironment(t, Options{Demo: demo.Options{Steps: 5, StepDelay: 10 * time.Millisecond}, Workers: 64})
	const clients, perClient = 100, 10
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	var (
		wg        sync.WaitGroup
		completed atomic.Int64
		errs      = make(chan error, clients*perClient)
	)
	start := time.Now()
	for i := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := Dial(t, env, fmt.Sprintf("user-%d", i), "load")
			for j := range perClient {
				action, payload := "echo", any(map[string]any{"client": i, "n": j})
				if j%2 == 1 {
					action, payload = "generate_report", map[string]any{"rows": 10}
				}
				res, err := c.Request(ctx, action, payload, client.RequestOptions{})
				switch {
				case err != nil:
					errs <- fmt.Errorf("client %d request %d (%s): %w", i, j, action, err)
				case res.Status != "completed":
					errs <- fmt.Errorf("client %d request %d (%s): status %s (%v)", i, j, action, res.Status, res.Error)
				default:
					completed.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	n := 0
	for err := range errs {
		if n < 10 {
			t.Error(err)
		}
		n++
	}
	if n > 0 {
		t.Fatalf("%d of %d requests failed", n, clients*perClient)
	}
	t.Logf("%d requests by %d clients completed in %v", completed.Load(), clients, time.Since(start).Round(time.Millisecond))
}

// TestLoadWatchers: 1,000 concurrent clients, each watching its own async
// request that reports progress. Every client must receive every event of
// its request, in order, none lost, none duplicated after dedupe.
func TestLoadWatchers(t *testing.T) {
	if testing.Short() {
		t.Skip("1,000-client load test; runs in make test")
	}
	env := NewLocalEnvironment(t, Options{Demo: demo.Options{Steps: 10, StepDelay: 50 * time.Millisecond}, Workers: 256})
	const clients = 1000
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	var (
		wg        sync.WaitGroup
		delivered atomic.Int64
		errs      = make(chan error, clients)
	)
	conns := make([]*client.Client, clients)
	for i := range clients { // connect everyone first: 1,000 sockets open at once
		conns[i] = Dial(t, env, fmt.Sprintf("watcher-%d", i), "load")
	}
	start := time.Now()
	for i, c := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			res, err := c.Request(ctx, "generate_report", map[string]any{"rows": 100}, client.RequestOptions{})
			if err != nil {
				errs <- fmt.Errorf("client %d: %w", i, err)
				return
			}
			if err := contiguous(res.Events, 2, events.RequestCompleted); err != nil {
				errs <- fmt.Errorf("client %d request %s: %w", i, res.RequestID, err)
				return
			}
			delivered.Add(int64(len(res.Events)))
		}()
	}
	wg.Wait()
	close(errs)
	n := 0
	for err := range errs {
		if n < 10 {
			t.Error(err)
		}
		n++
	}
	if n > 0 {
		t.Fatalf("%d of %d clients did not get their whole request", n, clients)
	}
	d := time.Since(start)
	t.Logf("%d clients received %d events in %v (%.0f events/s delivered)", clients, delivered.Load(), d.Round(time.Millisecond), float64(delivered.Load())/d.Seconds())
}

// contiguous checks evs are versions from.. without gap or repeat and end
// with a terminal event of type want.
func contiguous(evs []client.Event, from int64, want string) error {
	if len(evs) == 0 {
		return fmt.Errorf("no events")
	}
	for i, e := range evs {
		if e.Version != from+int64(i) {
			return fmt.Errorf("event %d has version %d, want %d (versions %v)", i, e.Version, from+int64(i), versions(evs))
		}
	}
	if last := evs[len(evs)-1]; last.Type != want {
		return fmt.Errorf("last event %s@%d, want %s", last.Type, last.Version, want)
	}
	return nil
}
