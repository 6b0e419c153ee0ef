package client

import (
	"math/rand/v2"
	"runtime"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/streamer/streamer/client/clienttest"
)

// Clients dropped at random while they submit and follow, against a server
// that duplicates live frames and replays backwards: every request is
// created once and every follower sees each version once, in order.
func TestChaosManyClients(t *testing.T) {
	ctx := testCtx(t)
	s := newServer(t, clienttest.Config{DuplicateLive: true, ReverseReplay: true})
	const nClients, perClient, steps = 16, 8, 5
	clients := make([]*Client, nClients)
	for i := range clients {
		clients[i] = dial(t, ctx, s, Options{})
	}
	stop := make(chan struct{})
	var chaos sync.WaitGroup
	chaos.Go(func() {
		for {
			select {
			case <-stop:
				return
			case <-time.After(time.Millisecond):
				clients[rand.N(nClients)].Drop()
			}
		}
	})
	var wg sync.WaitGroup
	for _, c := range clients {
		wg.Go(func() {
			for range perClient {
				var rec recorder
				res, err := c.Request(ctx, "job", jobPayload(steps, ""), RequestOptions{OnEvent: rec.onEvent})
				if err != nil {
					t.Error(err)
					return
				}
				want := span(2, steps+3)
				if got := rec.versions(); !slices.Equal(got, want) || !slices.Equal(versionsOf(res.Events), want) ||
					res.Status != StatusCompleted {
					t.Errorf("request %s: saw %v, result %v (%s), want %v", res.RequestID, got, versionsOf(res.Events), res.Status, want)
					return
				}
			}
		})
	}
	wg.Wait()
	close(stop)
	chaos.Wait()
	if n := s.Requests(); n != nClients*perClient {
		t.Fatalf("%d requests created, want %d", n, nClients*perClient)
	}
	acc, _ := s.Handshakes()
	t.Logf("%d handshakes for %d clients", acc, nClients)
}

// A thousand clients (200 under -race or -short) in one process: all complete a request concurrently,
// and each then costs one goroutine (its reader) while idle.
func TestManyClientsInOneProcess(t *testing.T) {
	n := 1000
	if testing.Short() || raceEnabled {
		n = 200
	}
	ctx := testCtx(t)
	s := newServer(t, clienttest.Config{})
	before := runtime.NumGoroutine()
	clients := make([]*Client, n)
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Go(func() {
			for i := w; i < n; i += 8 {
				c, err := Dial(ctx, s.URL, Options{})
				if err != nil {
					t.Error(err)
					return
				}
				clients[i] = c
			}
		})
	}
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}
	defer func() {
		for _, c := range clients {
			c.Close()
		}
	}()
	for _, c := range clients {
		wg.Go(func() {
			res, err := c.Request(ctx, "job", jobPayload(2, ""), RequestOptions{})
			if err != nil || res.Status != StatusCompleted || len(res.Events) != 4 {
				t.Errorf("request: %+v, %v", res, err)
			}
		})
	}
	wg.Wait()
	// Writers started by the reader (unsubscribes) finish on their own.
	deadline := time.Now().Add(testTimeout)
	var extra int
	for {
		// Per client: its reader, and the test server's handler and writer.
		extra = runtime.NumGoroutine() - before - 3*n
		if extra <= 20 || time.Now().After(deadline) {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	if extra > 20 {
		t.Fatalf("%d goroutines beyond one per client and per server connection", extra)
	}
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	t.Logf("%d clients: %d goroutines, heap in use %d KiB", n, runtime.NumGoroutine(), m.HeapInuse/1024)
}
