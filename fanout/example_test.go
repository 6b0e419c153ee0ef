package fanout_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/streamer/streamer/connections"
	"github.com/streamer/streamer/events"
	evsqlite "github.com/streamer/streamer/events/sqlite"
	"github.com/streamer/streamer/fanout"
	"github.com/streamer/streamer/projections"
	projsqlite "github.com/streamer/streamer/projections/sqlite"
	"github.com/streamer/streamer/protocol"
)

// framePrinter is a @connections API that prints what it is asked to post.
type framePrinter struct{}

func (framePrinter) Post(ctx context.Context, conn string, data []byte) error {
	var f protocol.Outbound
	if err := json.Unmarshal(data, &f); err != nil {
		return err
	}
	fmt.Printf("%s <- %s %s v%d %s\n", conn, f.Type, f.Event, f.Version, f.Data)
	return nil
}

func (framePrinter) Info(context.Context, string) (connections.Info, error) {
	return connections.Info{}, nil
}

func (framePrinter) Disconnect(context.Context, string) error { return nil }

// Example wires the fan-out as the local runtime does and delivers one
// batch: alice's connection gets her request's events as its owner.
func Example() {
	ctx := context.Background()
	dir, err := os.MkdirTemp("", "fanout-example")
	if err != nil {
		panic(err)
	}
	defer os.RemoveAll(dir)
	store, err := evsqlite.Open(filepath.Join(dir, "events.db"))
	if err != nil {
		panic(err)
	}
	defer store.Close()
	views, err := projsqlite.Open(ctx, filepath.Join(dir, "views.db"))
	if err != nil {
		panic(err)
	}
	defer views.Close()
	if _, err := projections.Bootstrap(ctx, views); err != nil {
		panic(err)
	}

	// What the feed would deliver: a connection opens, a request runs.
	var batch []events.Event
	heads := map[string]int64{}
	add := func(stream, typ string, payload any) {
		evs, err := store.Append(ctx, stream, heads[stream], events.MustNew(typ, payload, events.Meta{}))
		if err != nil {
			panic(err)
		}
		heads[stream]++
		batch = append(batch, evs...)
	}
	add(events.ConnectionStream("c1"), events.ConnectionOpened, events.Opened{User: "alice", Tenant: "acme"})
	add(events.RequestStream("r1"), events.RequestSubmitted, events.Submitted{Action: "echo", Owner: "alice", Tenant: "acme"})
	add(events.RequestStream("r1"), events.RequestStarted, events.Started{Attempt: 1})
	add(events.RequestStream("r1"), events.RequestProgressed, events.Progress{Percentage: 50})

	// The projector, the feed's first reader, has applied the batch.
	projector := projections.NewProjector(store, views, projections.WithLogger(slog.New(slog.DiscardHandler)))
	if failures := projector.Handle(ctx, batch); failures != nil {
		panic(failures)
	}

	f, err := fanout.New(fanout.Config{Reader: projections.NewReader(views), Store: store, Poster: framePrinter{}})
	if err != nil {
		panic(err)
	}
	fmt.Println("failures:", len(f.Handle(ctx, batch)))
	// Output:
	// c1 <- event request.submitted v1 {"action":"echo","owner":"alice","tenant":"acme"}
	// c1 <- event request.started v2 {"attempt":1}
	// c1 <- event request.progress v3 {"percentage":50}
	// failures: 0
}
