package processor_test

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/streamer/streamer/events"
	"github.com/streamer/streamer/events/sqlite"
	"github.com/streamer/streamer/handler"
	"github.com/streamer/streamer/handler/demo"
	"github.com/streamer/streamer/processor"
)

// Run takes a submitted request to its end; every step is an event.
func ExampleProcessor_Run() {
	dir, _ := os.MkdirTemp("", "example")
	defer os.RemoveAll(dir)
	store, _ := sqlite.Open(filepath.Join(dir, "e.db"))
	defer store.Close()

	router := handler.NewRouter()
	_ = demo.Register(router, demo.Options{Steps: 2, StepDelay: time.Millisecond})
	p, _ := processor.New(processor.Config{Store: store, Router: router, WorkerName: "example", Logger: slog.New(slog.DiscardHandler)})

	ctx := context.Background()
	sub := events.MustNew(events.RequestSubmitted, events.Submitted{Action: "generate_report", Owner: "alice", Tenant: "acme"}, events.Meta{Actor: "alice"})
	_, _ = store.Append(ctx, events.RequestStream("req-1"), 0, sub)

	if err := p.Run(ctx, "req-1"); err != nil {
		fmt.Println(err)
	}
	evs, _ := events.LoadAll(ctx, store, events.RequestStream("req-1"), 1)
	for _, e := range evs {
		fmt.Println(e.Version, e.Type, string(e.Data))
	}
	// Output:
	// 1 request.submitted {"action":"generate_report","owner":"alice","tenant":"acme"}
	// 2 request.started {"attempt":1,"worker":"example"}
	// 3 request.progress {"percentage":0,"message":"starting"}
	// 4 request.progress {"percentage":50,"message":"step 1/2: querying","metadata":{"rows":50}}
	// 5 request.progress {"percentage":100,"message":"done","metadata":{"rows":100}}
	// 6 request.completed {"result":{"reportId":"report-req-1","rows":100}}
}
