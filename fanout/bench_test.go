package fanout_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/streamer/streamer/connections"
	"github.com/streamer/streamer/protocol"
)

// memPoster is an in-process @connections API: each post costs latency
// (0: none) and its bytes are counted.
type memPoster struct {
	latency time.Duration
	posts   atomic.Int64
	bytes   atomic.Int64
}

func (p *memPoster) Post(ctx context.Context, conn string, data []byte) error {
	if p.latency > 0 {
		time.Sleep(p.latency)
	}
	p.posts.Add(1)
	p.bytes.Add(int64(len(data)))
	return ctx.Err()
}

func (p *memPoster) Info(context.Context, string) (connections.Info, error) {
	return connections.Info{}, nil
}
func (p *memPoster) Disconnect(context.Context, string) error { return nil }

// BenchmarkFanout posts one batch of a request's events to the 1,000
// connections subscribed to it, through Handle (views read from SQLite,
// frames built, posts in parallel), beside the floor: a loop posting the
// same pre-encoded frames serially to the same poster. posts/s is the
// figure to compare.
func BenchmarkFanout(b *testing.B) {
	const nConn = 1000
	s := newStack(b)
	var conns []string
	for i := range nConn {
		c := fmt.Sprintf("c%04d", i)
		conns = append(conns, c)
		s.open(b, c, "t1", fmt.Sprintf("u%04d", i))
		s.subscribe(b, c, "r1")
	}
	s.submit(b, "r1", "t1", "owner")
	s.start(b, "r1")
	for pct := range 8 {
		s.progress(b, "r1", float64(pct*10))
	}
	all := requestEvents(s.take(b), "r1")
	for _, tc := range []struct {
		latency time.Duration
		events  int // events per batch
	}{{0, 10}, {100 * time.Microsecond, 2}} {
		batch := all[len(all)-tc.events:]
		var frames [][]byte
		for _, e := range batch {
			frames = append(frames, protocol.Outbound{Type: protocol.TypeEvent, RequestID: "r1", Version: e.Version,
				Event: e.Type, Time: &e.Time, Data: e.Data}.Marshal())
		}
		name := fmt.Sprintf("latency=%v/events=%d", tc.latency, tc.events)
		b.Run(name+"/fanout", func(b *testing.B) {
			p := &memPoster{latency: tc.latency}
			f := newFanout(b, s, p, nil)
			ctx := context.Background()
			b.ResetTimer()
			for b.Loop() {
				if got := f.Handle(ctx, batch); got != nil {
					b.Fatal(got)
				}
			}
			report(b, p)
		})
		b.Run(name+"/raw", func(b *testing.B) {
			p := &memPoster{latency: tc.latency}
			ctx := context.Background()
			b.ResetTimer()
			for b.Loop() {
				for _, fr := range frames {
					for _, c := range conns {
						if err := p.Post(ctx, c, fr); err != nil {
							b.Fatal(err)
						}
					}
				}
			}
			report(b, p)
		})
	}
}

func report(b *testing.B, p *memPoster) {
	b.ReportMetric(float64(p.posts.Load())/b.Elapsed().Seconds(), "posts/s")
}
