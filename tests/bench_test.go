package tests

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/streamer/streamer/app"
	"github.com/streamer/streamer/app/frontposter"
	"github.com/streamer/streamer/client"
	"github.com/streamer/streamer/events"
	"github.com/streamer/streamer/handler"
)

// hold is an async handler that runs until it is cancelled, so a benchmark
// can append the request's progress itself and time its delivery.
type hold struct{}

func (hold) Action() string                   { return "hold" }
func (hold) EstimatedDuration() time.Duration { return time.Hour }
func (hold) Validate(*handler.Request) error  { return nil }
func (hold) Process(context.Context, *handler.Request) (*handler.Response, error) {
	return nil, handler.ErrAsyncRequired
}
func (hold) ProcessWithProgress(ctx context.Context, _ *handler.Request, _ handler.Reporter) error {
	<-ctx.Done()
	return ctx.Err()
}

// receipts records when each version of a request arrived.
type receipts struct {
	mu   sync.Mutex
	at   map[int64]time.Time
	cond *sync.Cond
}

func newReceipts() *receipts {
	r := &receipts{at: map[int64]time.Time{}}
	r.cond = sync.NewCond(&r.mu)
	return r
}

func (r *receipts) add(v int64) {
	r.mu.Lock()
	if _, ok := r.at[v]; !ok {
		r.at[v] = time.Now()
	}
	r.mu.Unlock()
	r.cond.Broadcast()
}

// wait returns when version v arrived, or fails b after a minute.
func (r *receipts) wait(b *testing.B, v int64) time.Time {
	stop := time.AfterFunc(time.Minute, r.cond.Broadcast)
	defer stop.Stop()
	deadline := time.Now().Add(time.Minute)
	r.mu.Lock()
	defer r.mu.Unlock()
	for {
		if t, ok := r.at[v]; ok {
			return t
		}
		if time.Now().After(deadline) {
			b.Fatalf("version %d never arrived", v)
		}
		r.cond.Wait()
	}
}

// BenchmarkDelivery measures, at 1,000 open connections each following
// one running request, the latency from the return of a progress append
// to the event's arrival at the client (p50, p99) and the delivered
// messages per second. Each iteration appends one progress event to every
// request. The floor, in the same run, posts the same frames straight to
// the sockets through @connections (no log, no feed, no view lookup).
func BenchmarkDelivery(b *testing.B) {
	const conns = 1000
	router := handler.NewRouter()
	if err := router.Register(hold{}); err != nil {
		b.Fatal(err)
	}
	env := NewLocalEnvironment(b, Options{Router: router, Workers: conns + 10, SilenceTimeout: time.Hour, CancelPoll: app.LocalCancelPoll})
	ctx := context.Background()
	type follower struct {
		id   string
		rec  *receipts
		head int64 // last version delivered
	}
	fs := make([]follower, conns)
	var ready, submitted sync.WaitGroup
	sem := make(chan struct{}, 50) // connect and submit 50 at a time
	for i := range conns {
		submitted.Add(1)
		ready.Add(1)
		go func() {
			defer submitted.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			c := Dial(b, env, fmt.Sprintf("bench-%d", i), "bench")
			sub, err := c.Submit(ctx, "hold", map[string]any{}, client.RequestOptions{})
			if err != nil {
				b.Errorf("submit: %v", err)
				ready.Done()
				return
			}
			rec := newReceipts()
			fs[i] = follower{id: sub.RequestID, rec: rec}
			go func() {
				var once sync.Once
				c.Follow(ctx, sub.RequestID, 0, func(e client.Event) {
					rec.add(e.Version)
					if e.Type == events.RequestStarted {
						once.Do(ready.Done)
					}
				})
			}()
		}()
	}
	submitted.Wait()
	if b.Failed() {
		b.FailNow()
	}
	running := make(chan struct{})
	go func() { ready.Wait(); close(running) }()
	select { // every request is running
	case <-running:
	case <-time.After(5 * time.Minute):
		b.Fatal("the held requests did not all start")
	}
	store := env.Stack.Store

	// One append at a time, to one of the 1,000 requests in turn: the
	// latency of the path itself, with no queue in front of the writer.
	b.Run("append-to-client-one-at-a-time", func(b *testing.B) {
		var lat []time.Duration
		start := time.Now()
		for n := range b.N * 100 {
			f := &fs[n%conns]
			stream := events.RequestStream(f.id)
			page, err := store.Load(ctx, stream, 0, 0)
			if err != nil {
				b.Fatal(err)
			}
			head := page.Events[len(page.Events)-1].Version
			ev := events.MustNew(events.RequestProgressed, events.Progress{Percentage: pctOf(head + 1), Message: "bench"}, events.Meta{Actor: "bench", Tenant: "bench"})
			if _, err := store.Append(ctx, stream, head, ev); err != nil {
				b.Fatal(err)
			}
			appended := time.Now()
			lat = append(lat, f.rec.wait(b, head+1).Sub(appended))
			f.head = head + 1
		}
		report(b, lat, time.Since(start))
	})

	// 1,000 appends at once, one to each request: throughput, and latency
	// including the queue in front of the single SQLite writer.
	b.Run("append-to-client-burst-of-1000", func(b *testing.B) {
		var lat []time.Duration
		start := time.Now()
		for range b.N {
			appended := make([]time.Time, conns)
			vers := make([]int64, conns)
			var wg sync.WaitGroup
			for i, f := range fs {
				wg.Add(1)
				go func() {
					defer wg.Done()
					stream := events.RequestStream(f.id)
					page, err := store.Load(ctx, stream, 0, 0)
					if err != nil {
						b.Error(err)
						return
					}
					head := page.Events[len(page.Events)-1].Version
					ev := events.MustNew(events.RequestProgressed, events.Progress{Percentage: pctOf(head + 1), Message: "bench"}, events.Meta{Actor: "bench", Tenant: "bench"})
					if _, err := store.Append(ctx, stream, head, ev); err != nil {
						b.Error(err)
						return
					}
					appended[i], vers[i] = time.Now(), head+1
				}()
			}
			wg.Wait()
			for i := range fs {
				lat = append(lat, fs[i].rec.wait(b, vers[i]).Sub(appended[i]))
				fs[i].head = vers[i]
			}
		}
		report(b, lat, time.Since(start))
	})

	b.Run("floor-post-to-socket-burst-of-1000", func(b *testing.B) {
		poster := frontposter.New(env.Stack.Front)
		var lat []time.Duration
		start := time.Now()
		for n := range b.N {
			sent := make([]time.Time, conns)
			vers := make([]int64, conns)
			var wg sync.WaitGroup
			for i, f := range fs {
				wg.Add(1)
				go func() {
					defer wg.Done()
					// The next version, as the fan-out would send it, but
					// posted straight to the socket: nothing is appended.
					v := f.head + 1 + int64(n)
					frame, _ := json.Marshal(map[string]any{"type": "event", "requestId": f.id, "version": v, "event": events.RequestProgressed, "data": map[string]any{"percentage": 1}})
					conn := connOf(b, env, f.id)
					sent[i], vers[i] = time.Now(), v
					if err := poster.Post(ctx, conn, frame); err != nil {
						b.Error(err)
					}
				}()
			}
			wg.Wait()
			for i := range fs {
				lat = append(lat, fs[i].rec.wait(b, vers[i]).Sub(sent[i]))
			}
			if n == b.N-1 {
				for i := range fs {
					fs[i].head = vers[i]
				}
			}
		}
		report(b, lat, time.Since(start))
	})
}

var connCache sync.Map

// connOf is the connection that submitted request id.
func connOf(b *testing.B, env *LocalEnvironment, id string) string {
	if c, ok := connCache.Load(id); ok {
		return c.(string)
	}
	page, err := env.Stack.Store.Load(context.Background(), events.RequestStream(id), 0, 1)
	if err != nil {
		b.Fatal(err)
	}
	var s events.Submitted
	if err := json.Unmarshal(page.Events[0].Data, &s); err != nil {
		b.Fatal(err)
	}
	connCache.Store(id, s.ConnectionID)
	return s.ConnectionID
}

func report(b *testing.B, lat []time.Duration, total time.Duration) {
	slices.Sort(lat)
	if len(lat) == 0 {
		return
	}
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
	b.ReportMetric(float64(len(lat))/total.Seconds(), "msgs/s")
}

// pctOf is a percentage that grows with the version, as the lifecycle
// rules require of progress.
func pctOf(version int64) float64 { return min(100, float64(version)/100) }
