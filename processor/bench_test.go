package processor_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/streamer/streamer/events"
	"github.com/streamer/streamer/handler"
)

// BenchmarkProgressAppend compares, in one run, the raw store append of a
// request.progress event with the Reporter's path for the same event
// (coalescer, lock, append at the known head), and with a chatty handler
// whose reports the default policy coalesces.
func BenchmarkProgressAppend(b *testing.B) {
	b.Run("store", func(b *testing.B) {
		ctx := context.Background()
		store := newStore(b)
		id := submit(b, store, "h", "")
		stream := events.RequestStream(id)
		if _, err := store.Append(ctx, stream, 1, events.MustNew(events.RequestStarted, events.Started{Attempt: 1}, events.Meta{})); err != nil {
			b.Fatal(err)
		}
		meta := events.Meta{Actor: "system:processor", Tenant: "acme", Source: "processor"}
		b.ResetTimer()
		for i := range b.N {
			ev := events.MustNew(events.RequestProgressed, events.Progress{Percentage: 99 * float64(i) / float64(b.N), Message: fmt.Sprintf("step %d", i)}, meta)
			if _, err := store.Append(ctx, stream, int64(i+2), ev); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(1, "events/op")
	})
	reporter := func(b *testing.B, distinct bool) {
		store := newStore(b)
		h := progressFunc{action: "h", run: func(ctx context.Context, _ *handler.Request, r handler.Reporter) error {
			b.ResetTimer()
			for i := range b.N {
				msg := "working"
				if distinct { // a new message is always written
					msg = fmt.Sprintf("step %d", i)
				}
				if err := r.Report(ctx, 99*float64(i)/float64(b.N), msg); err != nil {
					return err
				}
			}
			b.StopTimer()
			return r.Complete(ctx, nil)
		}}
		p := newProcessor(b, store, routerWith(b, h), nil)
		id := submit(b, store, "h", "")
		if err := p.Run(context.Background(), id); err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(float64(len(progressOf(b, loadAll(b, store, id))))/float64(b.N), "events/op")
	}
	b.Run("reporter", func(b *testing.B) { reporter(b, true) })
	b.Run("reporter-coalesced", func(b *testing.B) { reporter(b, false) })
}
